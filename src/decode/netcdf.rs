//! NetCDF files (classic, 64-bit offset and NetCDF4/HDF5): opening, metadata and decoding of
//! fields. The netcdf crate's calls are here; the inventory (`netcdf_inventory`,
//! `netcdf_describe`, `netcdf_grid`) holds its `File` only to read coordinates through the
//! functions below.
//!
//! Metadata is read once into plain [`VarMeta`] values that [`super::cf`] and
//! [`super::wrf`] interpret; values are read one 2-D slice at a time, as f64 (the C library
//! converts every storage type exactly), then masked and scaled like netCDF4-python, and a
//! horizontally staggered WRF variable is averaged onto its mass points.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use netcdf::{AttributeValue, Extent};

use super::cf::{Attr, Unpack, VarMeta};
use super::netcdf_check;
use super::netcdf_inventory::{inventory, Grids};
use super::{wrf, Entry, Field, FieldInfo, FieldSource};
use crate::error::{Error, Result};
use crate::geo::grid::Grid;

/// An open NetCDF file. The C library is not thread-safe, so reads are serialised.
pub struct NetCdfFile {
    path: PathBuf,
    file: Mutex<netcdf::File>,
    vars: Vec<VarMeta>,
    /// The grid of each field, and how its variable is staggered.
    grids: Grids,
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
        let FieldSource::NetCdf { variable, indices } = &info.source else {
            unreachable!("netcdf entries carry netcdf sources")
        };
        let (grid, _) = self
            .grids
            .of(variable, indices)
            .expect("inventory grid exists");
        Ok(grid.clone())
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
        let (grid, place) = self
            .grids
            .of(variable, indices)
            .expect("inventory grid exists");
        let grid = grid.clone();
        // A staggered variable has a row or column more than its (mass point) grid.
        let (nx, ny) = (
            grid.nx + place.stag_x as usize,
            grid.ny + place.stag_y as usize,
        );
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
        if raw.len() != nx * ny {
            return Err(Error::CorruptField {
                path: self.path.clone(),
                field: info.index,
                what: "variable shape",
                reason: format!("read {} values for a {nx}x{ny} grid", raw.len()),
            });
        }
        let unpack = Unpack::of(v);
        let values = if place.stag_x || place.stag_y {
            let unpacked: Vec<f64> = raw.iter().map(|&r| unpack.value(r)).collect();
            wrf::destagger(&unpacked, nx, ny, place.stag_x, place.stag_y)
                .into_iter()
                .map(|v| v as f32)
                .collect()
        } else {
            raw.iter().map(|&r| unpack.apply(r)).collect()
        };
        Ok(Field { info, grid, values })
    }
}

pub(super) fn meta(v: &netcdf::Variable) -> VarMeta {
    use netcdf::types::{FloatType, IntType, NcVariableType};
    let attrs = attributes(v.attributes());

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

/// The attributes the C library can read, by name.
fn attributes<'a>(
    list: impl Iterator<Item = netcdf::Attribute<'a>>,
) -> std::collections::BTreeMap<String, Attr> {
    let mut attrs = std::collections::BTreeMap::new();
    for a in list {
        if let Ok(value) = a.value() {
            if let Some(attr) = convert(value) {
                attrs.insert(a.name().to_string(), attr);
            }
        }
    }
    attrs
}

/// The global attributes, as a variable without a name.
pub(super) fn globals(file: &netcdf::File) -> VarMeta {
    VarMeta {
        attrs: attributes(file.attributes()),
        ..Default::default()
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

/// One 2-D slice of a variable, at `lead` indices of its leading dimensions, if it has at
/// most `--max-field-points` values.
pub(super) fn read_slice(file: &netcdf::File, name: &str, lead: &[usize]) -> Option<Vec<f64>> {
    let v = variable_named(file, name)?;
    let dims = v.dimensions();
    if dims.len() != lead.len() + 2 {
        return None;
    }
    let n = dims[dims.len() - 2].len() as u64 * dims[dims.len() - 1].len() as u64;
    if n > crate::limits::get().max_field_points {
        return None;
    }
    let mut extents: Vec<Extent> = lead.iter().map(|&i| Extent::from(i)).collect();
    extents.push(Extent::from(..));
    extents.push(Extent::from(..));
    v.get_values::<f64, _>(extents).ok()
}

/// The characters of a `char` variable of at most 1 MiB, and the length of its last
/// dimension (WRF's `Times`: `Time` x `DateStrLen`).
pub(super) fn read_chars(file: &netcdf::File, name: &str) -> Option<(Vec<u8>, usize)> {
    let v = variable_named(file, name)?;
    if v.vartype() != netcdf::types::NcVariableType::Char {
        return None;
    }
    let dims = v.dimensions();
    let len = dims
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(d.len()))?;
    if len > 1 << 20 {
        return None;
    }
    let last = dims.last().map_or(len, |d| d.len());
    v.get_raw_values(..).ok().map(|b| (b, last))
}
