//! The inventory of a NetCDF file: which variables hold fields (the CF rule of
//! [`super::cf`], or WRF's of [`super::wrf`] for WRF output), the grid of each, and one
//! entry per 2-D slice, in file order.
//!
//! A file with no field but data variables whose points have no position (no coordinates,
//! grid mapping or `XLAT`/`XLONG`) lists one entry per such variable, each the error "no
//! geolocation for variable X", rather than nothing.

use std::collections::HashMap;
use std::path::Path;

use super::cf::{self, VarMeta};
use super::netcdf::{globals, meta, read_1d, read_chars, read_slice};
use super::netcdf_describe::{describe, Coords};
use super::netcdf_grid::grid_of;
use super::wrf::{self, WrfMeta};
use super::{wrf_grid, Entry};
use crate::error::{Error, Result};
use crate::geo::grid::Grid;

/// Where a variable's fields are.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Index into [`Grids`]: one grid, or one per `Time` index (a moving WRF nest).
    grids: Vec<usize>,
    /// On `west_east_stag`: one column more than its grid, destaggered when decoded.
    pub stag_x: bool,
    /// On `south_north_stag`: one row more than its grid.
    pub stag_y: bool,
}

/// The grids of a file's fields.
#[derive(Debug, Default)]
pub struct Grids {
    all: Vec<Grid>,
    vars: HashMap<String, Placement>,
}

impl Grids {
    /// The grid of the slice of `variable` at `indices`, and the variable's placement.
    pub fn of(&self, variable: &str, indices: &[usize]) -> Option<(&Grid, &Placement)> {
        let p = self.vars.get(variable)?;
        let k = match p.grids.as_slice() {
            [one] => *one,
            per_time => *per_time.get(*indices.first()?)?,
        };
        Some((self.all.get(k)?, p))
    }
}

/// A variable whose slices are listed.
struct Listed {
    var: usize,
    slices: u64,
    stag_x: bool,
    stag_y: bool,
}

/// Every variable's metadata, the inventory and the grids of its fields.
pub fn inventory(path: &Path, file: &netcdf::File) -> (Vec<VarMeta>, Vec<Entry>, Grids) {
    let vars: Vec<VarMeta> = file.variables().map(|v| meta(&v)).collect();
    let globals = globals(file);
    let mut grids = Grids::default();
    let mut wrf = wrf::detect(&globals, &vars).then(|| WrfSetup::read(file, &globals, &vars));
    let listed: Vec<Listed> = match &wrf {
        Some(_) => wrf::field_variables(&vars)
            .into_iter()
            .map(|w| Listed {
                var: w.var,
                slices: w.slices,
                stag_x: w.stag_x,
                stag_y: w.stag_y,
            })
            .collect(),
        None => cf::field_variables(&vars)
            .into_iter()
            .map(|f| Listed {
                var: f.var,
                slices: f.slices,
                stag_x: false,
                stag_y: false,
            })
            .collect(),
    };
    if listed.is_empty() {
        let entries = unlocated(path, &vars);
        return (vars, entries, grids);
    }
    // WRF's grids are shared by all its variables.
    let wrf_ids: Option<Result<Vec<usize>, String>> = wrf.as_mut().map(|w| {
        std::mem::replace(&mut w.grids, Ok(Default::default())).map(|(all, of_time)| {
            let base = grids.all.len();
            grids.all.extend(all);
            of_time.into_iter().map(|k| base + k).collect()
        })
    });
    let time_dim = wrf.as_ref().and_then(|w| w.time_dim.as_ref());
    let mut entries = Vec::new();
    let mut coords = Coords::new(file);
    let limits = crate::limits::get();
    for l in listed {
        let v = &vars[l.var];
        let n = v.dims.len();
        let lead: Vec<usize> = v.dims[..n - 2].iter().map(|d| d.1).collect();
        let declared = (entries.len() as u64).saturating_add(l.slices);
        if declared > crate::limits::MAX_FIELDS_PER_FILE {
            // One entry stands for the variable: its slices are never listed.
            let index = entries.len();
            entries.push(Entry {
                index,
                info: Err(Error::OverLimit {
                    path: path.to_owned(),
                    subject: format!("field {index} (variable {})", v.name),
                    what: "fields in the file",
                    declared,
                    limit: crate::limits::MAX_FIELDS_PER_FILE,
                    flag: "a file with fewer slices",
                }),
            });
            continue;
        }
        let index = entries.len();
        let (ny, nx) = (
            v.dims[n - 2].1 - l.stag_y as usize,
            v.dims[n - 1].1 - l.stag_x as usize,
        );
        let points = nx as u64 * ny as u64;
        let no_geolocation = |reason: String| Error::NoGeolocation {
            path: path.to_owned(),
            field: index,
            variable: v.name.clone(),
            reason,
        };
        // Checked before any coordinate is read: a few kilobytes of header can declare
        // dimensions whose coordinates alone would need gigabytes.
        let placed: Result<Vec<usize>> = if points > limits.max_field_points {
            Err(Error::OverLimit {
                path: path.to_owned(),
                subject: format!("field {index} (variable {})", v.name),
                what: "grid points",
                declared: points,
                limit: limits.max_field_points,
                flag: "--max-field-points",
            })
        } else {
            match &wrf_ids {
                Some(Ok(ids)) => {
                    let g = &grids.all[ids[0]];
                    if (g.nx, g.ny) != (nx, ny) {
                        Err(no_geolocation(format!(
                            "its {nx}x{ny} mass points are not XLAT's {}x{}",
                            g.nx, g.ny
                        )))
                    } else if ids.len() > 1 && Some(&v.dims[0]) == time_dim {
                        Ok(ids.clone())
                    } else {
                        Ok(vec![ids[0]])
                    }
                }
                Some(Err(reason)) => Err(no_geolocation(reason.clone())),
                // Every slice of a variable shares its grid: build it (and any search
                // structure) once.
                None => grid_of(path, file, &vars, v, index).map(|g| {
                    grids.all.push(g);
                    vec![grids.all.len() - 1]
                }),
            }
        };
        let placed = placed.map(|ids| {
            let p = Placement {
                grids: ids,
                stag_x: l.stag_x,
                stag_y: l.stag_y,
            };
            grids.vars.insert(v.name.clone(), p);
        });
        for s in 0..l.slices as usize {
            let index = entries.len();
            let indices = unravel(s, &lead);
            let info = match &placed {
                Ok(()) => {
                    let (g, _) = grids.of(&v.name, &indices).expect("placed above");
                    let meta = wrf.as_ref().map(|w| &w.meta);
                    describe(&mut coords, &vars, v, g, index, indices, meta)
                }
                Err(e) => Err(super::clone_error(e, index)),
            };
            entries.push(Entry { index, info });
        }
    }
    (vars, entries, grids)
}

/// What a WRF file's inventory needs beyond its variables' metadata.
struct WrfSetup {
    meta: WrfMeta,
    /// The grids and the grid of each time, or why there are none.
    grids: Result<(Vec<Grid>, Vec<usize>), String>,
    /// XLAT's time dimension (name, length), when it has one: a variable whose first
    /// dimension is this one takes the grid of its time.
    time_dim: Option<(String, usize)>,
}

impl WrfSetup {
    fn read(file: &netcdf::File, globals: &VarMeta, vars: &[VarMeta]) -> WrfSetup {
        let mut meta = WrfMeta::new(globals, read_chars(file, "Times"));
        meta.soil_centres = read_1d(file, "ZS");
        meta.soil_thickness = read_1d(file, "DZS");
        let dims = |name: &str| {
            vars.iter()
                .find(|v| v.name == name)
                .map(|v| v.dims.clone())
                .unwrap_or_default()
        };
        let (lat_dims, lon_dims) = (dims("XLAT"), dims("XLONG"));
        let n = lat_dims.len();
        let (ny, nx) = (lat_dims[n - 2].1, lat_dims[n - 1].1);
        let times = if n == 3 { lat_dims[0].1 } else { 1 };
        let max = crate::limits::get().max_field_points;
        let grids = if nx < 2 || ny < 2 {
            Err(format!("XLAT has {nx}x{ny} points"))
        } else if nx as u64 * ny as u64 > max {
            Err(format!(
                "XLAT has {} points, over the limit of {max} (--max-field-points)",
                nx as u64 * ny as u64
            ))
        } else if n > 3 || lon_dims.len() != n {
            Err("XLAT and XLONG are not both (Time, south_north, west_east) or 2-D".into())
        } else {
            let lead = |t: usize| if n == 3 { vec![t] } else { vec![] };
            wrf_grid::grids(globals, nx, ny, times, |t| {
                Some((
                    read_slice(file, "XLONG", &lead(t))?,
                    read_slice(file, "XLAT", &lead(t))?,
                ))
            })
            .ok_or_else(|| "XLAT/XLONG cannot be read".to_string())
        };
        let time_dim = (n == 3).then(|| lat_dims[0].clone());
        WrfSetup {
            meta,
            grids,
            time_dim,
        }
    }
}

/// One error entry per data variable without geolocation.
fn unlocated(path: &Path, vars: &[VarMeta]) -> Vec<Entry> {
    cf::unlocated_variables(vars)
        .into_iter()
        .enumerate()
        .map(|(index, k)| {
            let v = &vars[k];
            let n = v.dims.len();
            let dims: Vec<&str> = v.dims[n - 2..].iter().map(|d| d.0.as_str()).collect();
            Entry {
                index,
                info: Err(Error::NoGeolocation {
                    path: path.to_owned(),
                    field: index,
                    variable: v.name.clone(),
                    reason: format!(
                        "nothing in the file places its dimensions ({}) on the earth (no \
                         latitude/longitude coordinates, grid mapping or WRF XLAT/XLONG)",
                        dims.join(", ")
                    ),
                }),
            }
        })
        .collect()
}

fn unravel(mut s: usize, dims: &[usize]) -> Vec<usize> {
    let mut out = vec![0; dims.len()];
    for k in (0..dims.len()).rev() {
        out[k] = s % dims[k].max(1);
        s /= dims[k].max(1);
    }
    out
}
