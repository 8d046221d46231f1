//! The inventory line of one NetCDF field: names, units, level, times, wind component and
//! a summary of its grid, from CF attributes and coordinates or, for WRF output, from
//! [`super::wrf`].

use std::collections::HashMap;

use super::cf::{self, Axis, TimeAxis, VarMeta};
use super::netcdf::read_1d;
use super::wrf::{self, WrfMeta};
use super::{iso, FieldInfo, FieldSource, Level, WindComponent, WindFrame};
use crate::error::Result;
use crate::geo::grid::Grid;

/// Coordinate values, each variable read once: every 2-D slice looks its time and level up
/// in them, and reading them per slice made opening a long time series quadratic.
pub(super) struct Coords<'a> {
    file: &'a netcdf::File,
    read: HashMap<String, Option<Vec<f64>>>,
}

impl<'a> Coords<'a> {
    pub(super) fn new(file: &'a netcdf::File) -> Coords<'a> {
        Coords {
            file,
            read: HashMap::new(),
        }
    }

    fn get(&mut self, name: &str) -> Option<&[f64]> {
        let file = self.file;
        let entry = self.read.entry(name.to_string());
        entry.or_insert_with(|| read_1d(file, name)).as_deref()
    }
}

/// The inventory line of the slice of `v` at `indices`; `wrf` for WRF output.
pub(super) fn describe(
    coords: &mut Coords,
    vars: &[VarMeta],
    v: &VarMeta,
    grid: &Grid,
    index: usize,
    indices: Vec<usize>,
    wrf: Option<&WrfMeta>,
) -> Result<FieldInfo> {
    let (level, valid, reference) = match wrf {
        Some(w) => {
            let (valid, level) = w.describe(v, &indices);
            (Some(level), valid, w.reference)
        }
        None => cf_when_where(coords, vars, v, &indices),
    };
    let standard_name = v.text("standard_name").map(str::to_string);
    // WRF writes its names as `description`.
    let long_name = v
        .text("long_name")
        .or(v.text("description"))
        .filter(|d| !d.trim().is_empty() && d.trim() != "-")
        .or(standard_name.as_deref())
        .unwrap_or(&v.name)
        .to_string();
    let sn = standard_name.as_deref().unwrap_or("");
    let (wind_component, wind_frame) = match wrf {
        // WRF's winds are along the grid's x and y axes.
        Some(_) => {
            let c = wrf::wind_component(&v.name);
            (c, c.map(|_| WindFrame::Grid))
        }
        None => cf_wind(v, sn),
    };
    let packing = match (v.attr("scale_factor"), v.attr("add_offset")) {
        (None, None) => v.dtype.clone(),
        _ => format!("{} scaled", v.dtype),
    };
    Ok(FieldInfo {
        index,
        variable: v.name.clone(),
        long_name,
        units: v.text("units").unwrap_or("").trim().to_string(),
        standard_name,
        // A field with no vertical coordinate is taken to be at the surface, as GRIB's
        // surface level (code table 4.5, type 1) is named.
        level: level.unwrap_or(Level {
            kind: "surface".into(),
            value: None,
            units: None,
            label: "sfc".into(),
        }),
        reference_time: reference.map(iso),
        valid_time: valid.map(iso),
        nx: grid.nx,
        ny: grid.ny,
        grid: grid_text(grid),
        packing,
        source: FieldSource::NetCdf {
            variable: v.name.clone(),
            indices,
        },
        wind_component,
        wind_frame,
    })
}

type Time = Option<chrono::NaiveDateTime>;

/// Level, valid time and reference time of a CF slice.
fn cf_when_where(
    coords: &mut Coords,
    vars: &[VarMeta],
    v: &VarMeta,
    indices: &[usize],
) -> (Option<Level>, Time, Time) {
    let find = |n: &str| vars.iter().find(|c| c.name == n);
    let lead = &v.dims[..v.dims.len() - 2];
    let mut level: Option<Level> = None;
    let mut valid = None;
    let mut reference = None;
    // Leading dimensions: a time axis gives the valid time, a vertical axis the level.
    for ((dim, _), &i) in lead.iter().zip(indices) {
        let Some(c) = find(dim) else { continue };
        match cf::axis_of(c) {
            Some(Axis::T) => valid = time_value(coords, c, i),
            Some(Axis::Z) => {
                if let Some(vals) = coords.get(&c.name) {
                    level = vals.get(i).map(|&x| cf::level_from(c, x));
                }
            }
            _ => {}
        }
    }
    // Scalar coordinates named in `coordinates` (a 2 m height, a single time).
    for name in v.text("coordinates").unwrap_or("").split_whitespace() {
        let Some(c) = find(name) else { continue };
        let scalar = c.dims.is_empty() || (c.dims.len() == 1 && c.dims[0].1 == 1);
        if !scalar {
            continue;
        }
        let sn = c.text("standard_name").unwrap_or("");
        match cf::axis_of(c) {
            Some(Axis::T) if sn == "forecast_reference_time" => {
                reference = time_value(coords, c, 0)
            }
            Some(Axis::T) if valid.is_none() => valid = time_value(coords, c, 0),
            Some(Axis::Z) if level.is_none() => {
                level = coords
                    .get(&c.name)
                    .and_then(|x| x.first().map(|&x| cf::level_from(c, x)))
            }
            _ => {}
        }
    }
    if reference.is_none() {
        if let Some(c) = find("forecast_reference_time") {
            reference = time_value(coords, c, 0);
        }
    }
    (level, valid, reference)
}

/// Wind component and frame of a CF variable: CF standard names say the frame; a name
/// alone (u10, uas) does not.
fn cf_wind(v: &VarMeta, sn: &str) -> (Option<WindComponent>, Option<WindFrame>) {
    let component = match sn {
        "eastward_wind" | "x_wind" => Some(WindComponent::U),
        "northward_wind" | "y_wind" => Some(WindComponent::V),
        _ => match v.name.to_lowercase().as_str() {
            "u" | "u10" | "uas" | "ugrd" | "10u" => Some(WindComponent::U),
            "v" | "v10" | "vas" | "vgrd" | "10v" => Some(WindComponent::V),
            _ => None,
        },
    };
    let frame = match sn {
        "eastward_wind" | "northward_wind" => Some(WindFrame::Earth),
        "x_wind" | "y_wind" => Some(WindFrame::Grid),
        _ => None,
    };
    (component, frame)
}

fn grid_text(g: &Grid) -> String {
    g.describe()
}

fn time_value(coords: &mut Coords, c: &VarMeta, i: usize) -> Option<chrono::NaiveDateTime> {
    let axis = TimeAxis::parse(c.text("units")?, c.text("calendar"))?;
    axis.at(*coords.get(&c.name)?.get(i)?)
}
