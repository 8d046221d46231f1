//! NetCDF files (classic, 64-bit offset and NetCDF4/HDF5): inventory and decoding of fields.
//! The only module that imports the netcdf crate.
//!
//! Metadata is read once into plain [`VarMeta`] values that [`super::cf`] interprets; values
//! are read one 2-D slice at a time, as f64 (the C library converts every storage type
//! exactly), then masked and scaled like netCDF4-python.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use netcdf::{AttributeValue, Extent};

use super::cf::{self, Attr, Axis, TimeAxis, Unpack, VarMeta};
use super::netcdf_check;
use super::netcdf_grid::grid_of;
use super::{iso, Entry, Field, FieldInfo, FieldSource, Level, WindComponent, WindFrame};
use crate::error::{Error, Result};
use crate::geo::grid::Grid;

/// An open NetCDF file. The C library is not thread-safe, so reads are serialised.
pub struct NetCdfFile {
    path: PathBuf,
    file: Mutex<netcdf::File>,
    vars: Vec<VarMeta>,
    /// The grid of each field-bearing variable.
    grids: HashMap<String, Grid>,
    entries: Vec<Entry>,
}

impl NetCdfFile {
    pub fn open(path: &Path) -> Result<NetCdfFile> {
        crate::io::input::check_file(path)?;
        netcdf_check::classic_header(path).map_err(|reason| Error::Corrupt {
            path: path.to_owned(),
            reason,
        })?;
        let file = netcdf::open(path).map_err(|e| Error::NetCdf {
            path: path.to_owned(),
            context: "open".into(),
            message: e.to_string(),
        })?;
        // The netcdf crate panics (expect, unwrap) on some malformed files.
        let (vars, entries, grids) =
            netcdf_check::guarded(path, "read metadata", || inventory(path, &file))?;
        Ok(NetCdfFile {
            path: path.to_owned(),
            file: Mutex::new(file),
            vars,
            grids,
            entries,
        })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn grid(&self, info: &FieldInfo) -> Result<Grid> {
        let FieldSource::NetCdf { variable, .. } = &info.source else {
            unreachable!("netcdf entries carry netcdf sources")
        };
        Ok(self
            .grids
            .get(variable)
            .expect("inventory grid exists")
            .clone())
    }

    pub fn decode(&self, info: FieldInfo) -> Result<Field> {
        let FieldSource::NetCdf { variable, indices } = &info.source else {
            unreachable!("netcdf entries carry netcdf sources")
        };
        let v = self
            .vars
            .iter()
            .find(|v| &v.name == variable)
            .expect("inventory variable exists");
        let grid = self
            .grids
            .get(variable)
            .expect("inventory grid exists")
            .clone();
        let context = format!("field {} (variable {variable}{indices:?})", info.index);
        let raw = netcdf_check::guarded(&self.path, &context, || {
            let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
            let var = variable_named(&file, variable).ok_or("variable not found by name")?;
            let mut extents: Vec<Extent> = indices.iter().map(|&i| Extent::from(i)).collect();
            extents.push(Extent::from(..));
            extents.push(Extent::from(..));
            var.get_values::<f64, _>(extents)
        })?
        .map_err(|e| Error::NetCdf {
            path: self.path.clone(),
            context,
            message: e.to_string(),
        })?;
        if raw.len() != grid.len() {
            return Err(Error::CorruptField {
                path: self.path.clone(),
                field: info.index,
                what: "variable shape",
                reason: format!(
                    "read {} values for a {}x{} grid",
                    raw.len(),
                    grid.nx,
                    grid.ny
                ),
            });
        }
        let unpack = Unpack::of(v);
        let values = raw.iter().map(|&r| unpack.apply(r)).collect();
        Ok(Field { info, grid, values })
    }
}

/// Every variable's metadata, the inventory and each field variable's grid.
fn inventory(
    path: &Path,
    file: &netcdf::File,
) -> (Vec<VarMeta>, Vec<Entry>, HashMap<String, Grid>) {
    let vars: Vec<VarMeta> = file.variables().map(|v| meta(&v)).collect();
    let mut entries = Vec::new();
    let mut grids = HashMap::new();
    let mut coords = Coords {
        file,
        read: HashMap::new(),
    };
    let limits = crate::limits::get();
    for fv in cf::field_variables(&vars) {
        let v = &vars[fv.var];
        let lead: Vec<usize> = v.dims[..v.dims.len() - 2].iter().map(|d| d.1).collect();
        let declared = (entries.len() as u64).saturating_add(fv.slices);
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
        let (ny, nx) = (v.dims[v.dims.len() - 2].1, v.dims[v.dims.len() - 1].1);
        let points = nx as u64 * ny as u64;
        // Checked before any coordinate is read: a few kilobytes of header can declare
        // dimensions whose coordinates alone would need gigabytes.
        let grid = if points > limits.max_field_points {
            Err(Error::OverLimit {
                path: path.to_owned(),
                subject: format!("field {} (variable {})", entries.len(), v.name),
                what: "grid points",
                declared: points,
                limit: limits.max_field_points,
                flag: "--max-field-points",
            })
        } else {
            // Every slice of a variable shares its grid: build it (and any search
            // structure) once.
            grid_of(path, file, &vars, v, entries.len())
        };
        for s in 0..fv.slices as usize {
            let index = entries.len();
            let indices = unravel(s, &lead);
            let info = match &grid {
                Ok(g) => describe(&mut coords, &vars, v, g, index, indices),
                Err(e) => Err(super::clone_error(e, index)),
            };
            entries.push(Entry { index, info });
        }
        if let Ok(g) = grid {
            grids.insert(v.name.clone(), g);
        }
    }
    (vars, entries, grids)
}

fn unravel(mut s: usize, dims: &[usize]) -> Vec<usize> {
    let mut out = vec![0; dims.len()];
    for k in (0..dims.len()).rev() {
        out[k] = s % dims[k].max(1);
        s /= dims[k].max(1);
    }
    out
}

fn meta(v: &netcdf::Variable) -> VarMeta {
    use netcdf::types::{FloatType, IntType, NcVariableType};
    let mut attrs = std::collections::BTreeMap::new();
    for a in v.attributes() {
        if let Ok(value) = a.value() {
            if let Some(attr) = convert(value) {
                attrs.insert(a.name().to_string(), attr);
            }
        }
    }
    let vt = v.vartype();
    // netCDF's default fill values (netcdf.h NC_FILL_*): netCDF4-python masks them when a
    // variable has no _FillValue, except for the byte types.
    let (dtype, signed_bits, default_fill): (&str, u32, Option<f64>) = match vt {
        NcVariableType::Int(IntType::I8) => ("byte", 8, None),
        NcVariableType::Int(IntType::U8) => ("ubyte", 0, None),
        NcVariableType::Int(IntType::I16) => ("short", 16, Some(-32767.0)),
        NcVariableType::Int(IntType::U16) => ("ushort", 0, Some(65535.0)),
        NcVariableType::Int(IntType::I32) => ("int", 32, Some(-2147483647.0)),
        NcVariableType::Int(IntType::U32) => ("uint", 0, Some(4294967295.0)),
        NcVariableType::Int(IntType::I64) => ("int64", 64, Some(-9223372036854775806.0)),
        NcVariableType::Int(IntType::U64) => ("uint64", 0, Some(18446744073709551614.0)),
        NcVariableType::Float(FloatType::F32) => {
            ("float", 0, Some(f32::from_bits(0x7cf0_0000) as f64))
        }
        NcVariableType::Float(FloatType::F64) => ("double", 0, Some(9.969_209_968_386_869e36)),
        _ => ("other", 0, None),
    };
    VarMeta {
        name: v.name(),
        dims: v.dimensions().iter().map(|d| (d.name(), d.len())).collect(),
        attrs,
        dtype: dtype.into(),
        signed_bits,
        default_fill,
    }
}

fn convert(v: AttributeValue) -> Option<Attr> {
    use AttributeValue as A;
    let nums = |v: Vec<f64>| Some(Attr::Numbers(v));
    match v {
        A::Str(s) => Some(Attr::Text(s)),
        A::Strs(s) => Some(Attr::Text(s.join(" "))),
        A::Uchar(x) => nums(vec![x as f64]),
        A::Uchars(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Schar(x) => nums(vec![x as f64]),
        A::Schars(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Ushort(x) => nums(vec![x as f64]),
        A::Ushorts(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Short(x) => nums(vec![x as f64]),
        A::Shorts(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Uint(x) => nums(vec![x as f64]),
        A::Uints(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Int(x) => nums(vec![x as f64]),
        A::Ints(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Ulonglong(x) => nums(vec![x as f64]),
        A::Ulonglongs(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Longlong(x) => nums(vec![x as f64]),
        A::Longlongs(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Float(x) => nums(vec![x as f64]),
        A::Floats(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Double(x) => nums(vec![x]),
        A::Doubles(x) => nums(x),
    }
}

/// The variable called `name`, compared as is: `File::variable` takes a `/` as a group path,
/// and a hostile classic file may put one in a name.
fn variable_named<'f>(file: &'f netcdf::File, name: &str) -> Option<netcdf::Variable<'f>> {
    file.variables().find(|v| v.name() == name)
}

/// All values of a variable, if it has at most `--max-field-points` values: its shape is
/// declared, and the buffer is allocated before anything is read.
pub(super) fn read_1d(file: &netcdf::File, name: &str) -> Option<Vec<f64>> {
    let v = variable_named(file, name)?;
    let len = v
        .dimensions()
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(d.len()));
    len.filter(|&n| n as u64 <= crate::limits::get().max_field_points)?;
    v.get_values::<f64, _>(..).ok()
}

/// Coordinate values, each variable read once: every 2-D slice looks its time and level up
/// in them, and reading them per slice made opening a long time series quadratic.
struct Coords<'a> {
    file: &'a netcdf::File,
    read: HashMap<String, Option<Vec<f64>>>,
}

impl Coords<'_> {
    fn get(&mut self, name: &str) -> Option<&[f64]> {
        let file = self.file;
        let entry = self.read.entry(name.to_string());
        entry.or_insert_with(|| read_1d(file, name)).as_deref()
    }
}

fn describe(
    coords: &mut Coords,
    vars: &[VarMeta],
    v: &VarMeta,
    grid: &Grid,
    index: usize,
    indices: Vec<usize>,
) -> Result<FieldInfo> {
    let find = |n: &str| vars.iter().find(|c| c.name == n);
    let lead = &v.dims[..v.dims.len() - 2];
    let mut level: Option<Level> = None;
    let mut valid = None;
    let mut reference = None;
    // Leading dimensions: a time axis gives the valid time, a vertical axis the level.
    for ((dim, _), &i) in lead.iter().zip(&indices) {
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
    let wind_component = match sn {
        "eastward_wind" | "x_wind" => Some(WindComponent::U),
        "northward_wind" | "y_wind" => Some(WindComponent::V),
        _ => match v.name.to_lowercase().as_str() {
            "u" | "u10" | "uas" | "ugrd" | "10u" => Some(WindComponent::U),
            "v" | "v10" | "vas" | "vgrd" | "10v" => Some(WindComponent::V),
            _ => None,
        },
    };
    // CF standard names say the frame; a name alone (u10, uas) does not.
    let wind_frame = match sn {
        "eastward_wind" | "northward_wind" => Some(WindFrame::Earth),
        "x_wind" | "y_wind" => Some(WindFrame::Grid),
        _ => None,
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

fn grid_text(g: &Grid) -> String {
    g.describe()
}

fn time_value(coords: &mut Coords, c: &VarMeta, i: usize) -> Option<chrono::NaiveDateTime> {
    let axis = TimeAxis::parse(c.text("units")?, c.text("calendar"))?;
    axis.at(*coords.get(&c.name)?.get(i)?)
}
