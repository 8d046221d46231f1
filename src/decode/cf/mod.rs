//! CF conventions over a plain description of a NetCDF file: which variables are fields,
//! their horizontal grid, vertical level and time, and how to unpack stored values.
//!
//! Kept free of the netcdf crate (see `netcdf.rs` for I/O) so the rules are testable on
//! hand-made descriptions. The field rule matches `tests/oracle/netcdf_dump.py`: data variables
//! in definition order; coordinate, bounds, grid-mapping and auxiliary-coordinate variables
//! excluded; the last two dimensions must be horizontal and longer than 1; every 2-D slice over
//! the leading dimensions, in C order, is one field.

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::decode::Level;
mod mapping;
pub use mapping::projection_of;

/// An attribute value, reduced to what CF needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Text(String),
    Numbers(Vec<f64>),
}

impl Attr {
    pub fn text(&self) -> Option<&str> {
        match self {
            Attr::Text(s) => Some(s),
            Attr::Numbers(_) => None,
        }
    }

    pub fn number(&self) -> Option<f64> {
        match self {
            Attr::Numbers(v) => v.first().copied(),
            Attr::Text(s) => s.trim().parse().ok(),
        }
    }

    pub fn numbers(&self) -> Vec<f64> {
        match self {
            Attr::Numbers(v) => v.clone(),
            Attr::Text(_) => self.number().into_iter().collect(),
        }
    }
}

/// One variable's metadata.
#[derive(Debug, Clone, Default)]
pub struct VarMeta {
    pub name: String,
    pub dims: Vec<(String, usize)>,
    pub attrs: BTreeMap<String, Attr>,
    /// On-disk type name (`short`, `float`, ...), for the packing description.
    pub dtype: String,
    /// Bits of a signed integer storage type (for `_Unsigned = "true"`), else 0.
    pub signed_bits: u32,
    /// The netCDF default fill value for the storage type.
    pub default_fill: Option<f64>,
}

impl VarMeta {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.get(name)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.attr(name).and_then(Attr::text)
    }

    pub fn number(&self, name: &str) -> Option<f64> {
        self.attr(name).and_then(Attr::number)
    }

    pub fn lower(&self, name: &str) -> String {
        self.text(name).unwrap_or("").trim().to_lowercase()
    }
}

/// What a coordinate variable measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Lat,
    Lon,
    X,
    Y,
    Z,
    T,
}

/// Classifies a variable as a coordinate by its attributes, then by its name.
pub fn axis_of(v: &VarMeta) -> Option<Axis> {
    let sn = v.lower("standard_name");
    let units = v.lower("units");
    let axis = v.lower("axis");
    let name = v.name.to_lowercase();
    if sn == "latitude" {
        return Some(Axis::Lat);
    }
    if sn == "longitude" {
        return Some(Axis::Lon);
    }
    if matches!(
        units.as_str(),
        "degrees_north" | "degree_north" | "degree_n" | "degrees_n" | "degreen" | "degreesn"
    ) {
        return Some(Axis::Lat);
    }
    if matches!(
        units.as_str(),
        "degrees_east" | "degree_east" | "degree_e" | "degrees_e" | "degreee" | "degreese"
    ) {
        return Some(Axis::Lon);
    }
    if sn == "projection_x_coordinate" || sn == "grid_longitude" || axis == "x" {
        return Some(Axis::X);
    }
    if sn == "projection_y_coordinate" || sn == "grid_latitude" || axis == "y" {
        return Some(Axis::Y);
    }
    if sn == "time" || axis == "t" || units.contains(" since ") {
        return Some(Axis::T);
    }
    if axis == "z" || v.attr("positive").is_some() || is_pressure_unit(&units) {
        return Some(Axis::Z);
    }
    match name.as_str() {
        "lat" | "latitude" | "nav_lat" => Some(Axis::Lat),
        "lon" | "longitude" | "nav_lon" => Some(Axis::Lon),
        "x" | "rlon" | "xc" => Some(Axis::X),
        "y" | "rlat" | "yc" => Some(Axis::Y),
        "level" | "lev" | "plev" | "height" | "depth" | "isobaric" => Some(Axis::Z),
        _ => None,
    }
}

fn is_pressure_unit(u: &str) -> bool {
    matches!(
        u,
        "pa" | "hpa" | "mbar" | "millibar" | "millibars" | "mb" | "bar"
    )
}

/// A field-bearing variable and its slicing.
#[derive(Debug, Clone)]
pub struct FieldVar {
    pub var: usize,
    /// Number of 2-D slices (`u64::MAX` when the product of the leading dimensions overflows).
    pub slices: u64,
}

/// The file's data variables that hold fields, in definition order.
pub fn field_variables(vars: &[VarMeta]) -> Vec<FieldVar> {
    let by_name = |n: &str| vars.iter().find(|v| v.name == n);
    data_variables(vars)
        .into_iter()
        .filter(|&k| {
            let v = &vars[k];
            let n = v.dims.len();
            v.dims[n - 2..]
                .iter()
                .all(|(d, len)| *len > 1 && is_horizontal_dim(d, v, vars, &by_name))
        })
        .map(|k| FieldVar {
            var: k,
            slices: vars[k].dims[..vars[k].dims.len() - 2]
                .iter()
                .try_fold(1u64, |n, d| n.checked_mul(d.1 as u64))
                .unwrap_or(u64::MAX),
        })
        .collect()
}

/// Numeric data variables of at least two dimensions, both last longer than 1, that are
/// not fields because nothing says where their points are: what a file without any field
/// holds instead.
pub fn unlocated_variables(vars: &[VarMeta]) -> Vec<usize> {
    let fields: HashSet<usize> = field_variables(vars).iter().map(|f| f.var).collect();
    data_variables(vars)
        .into_iter()
        .filter(|k| !fields.contains(k))
        .filter(|&k| {
            let v = &vars[k];
            v.dtype != "other" && v.dims[v.dims.len() - 2..].iter().all(|d| d.1 > 1)
        })
        .collect()
}

/// Variables of at least two dimensions that are neither coordinates nor named by another
/// variable's `bounds`, `grid_mapping`, `coordinates`, `climatology` or
/// `ancillary_variables`.
fn data_variables(vars: &[VarMeta]) -> Vec<usize> {
    let mut excluded: HashSet<&str> = HashSet::new();
    for v in vars {
        for key in [
            "bounds",
            "grid_mapping",
            "coordinates",
            "climatology",
            "ancillary_variables",
        ] {
            if let Some(t) = v.text(key) {
                for word in t.split_whitespace() {
                    // grid_mapping may be "name: coord coord" in CF 1.7; keep the names.
                    excluded.insert(word.trim_end_matches(':'));
                }
            }
        }
    }
    vars.iter()
        .enumerate()
        .filter(|(_, v)| {
            let is_coordinate = v.dims.len() == 1 && v.dims[0].0 == v.name;
            !is_coordinate && !excluded.contains(v.name.as_str()) && v.dims.len() >= 2
        })
        .map(|(k, _)| k)
        .collect()
}

fn is_horizontal_dim<'a>(
    dim: &str,
    v: &VarMeta,
    vars: &'a [VarMeta],
    by_name: &dyn Fn(&str) -> Option<&'a VarMeta>,
) -> bool {
    let horizontal = |a: Option<Axis>| matches!(a, Some(Axis::Lat | Axis::Lon | Axis::X | Axis::Y));
    if let Some(c) = by_name(dim) {
        if c.dims.len() == 1 && horizontal(axis_of(c)) {
            return true;
        }
    }
    let aux = v.text("coordinates").unwrap_or("");
    for name in aux.split_whitespace() {
        if let Some(c) = vars.iter().find(|c| c.name == name) {
            if c.dims.iter().any(|(d, _)| d == dim) && horizontal(axis_of(c)) {
                return true;
            }
        }
    }
    matches!(
        dim.to_lowercase().as_str(),
        "x" | "y" | "lat" | "lon" | "latitude" | "longitude" | "rlat" | "rlon"
    )
}

/// How stored numbers become physical values (netCDF4-python's mask-and-scale).
#[derive(Debug, Clone)]
pub struct Unpack {
    pub fills: Vec<f64>,
    pub valid_min: Option<f64>,
    pub valid_max: Option<f64>,
    pub scale: f64,
    pub offset: f64,
    /// `_Unsigned = "true"` on a signed type: negative stored numbers wrap by 2^bits.
    pub wrap: Option<f64>,
}

impl Unpack {
    pub fn of(v: &VarMeta) -> Unpack {
        let mut fills = Vec::new();
        match v.attr("_FillValue") {
            Some(a) => fills.extend(a.numbers()),
            None => fills.extend(v.default_fill),
        }
        if let Some(a) = v.attr("missing_value") {
            fills.extend(a.numbers());
        }
        let (mut valid_min, mut valid_max) = (v.number("valid_min"), v.number("valid_max"));
        if let Some(Attr::Numbers(r)) = v.attr("valid_range") {
            if r.len() == 2 {
                valid_min = Some(r[0]);
                valid_max = Some(r[1]);
            }
        }
        let unsigned = v
            .text("_Unsigned")
            .is_some_and(|t| t.eq_ignore_ascii_case("true"));
        let wrap = (unsigned && v.signed_bits > 0).then(|| 2f64.powi(v.signed_bits as i32));
        if let Some(w) = wrap {
            // Fill values are compared after the reinterpretation too.
            for f in fills.iter_mut() {
                if *f < 0.0 {
                    *f += w;
                }
            }
        }
        Unpack {
            wrap,
            fills,
            valid_min,
            valid_max,
            scale: v.number("scale_factor").unwrap_or(1.0),
            offset: v.number("add_offset").unwrap_or(0.0),
        }
    }

    /// One stored number to a value, NaN when masked.
    #[inline]
    pub fn apply(&self, raw: f64) -> f32 {
        self.value(raw) as f32
    }

    /// One stored number to a value in double precision, NaN when masked.
    #[inline]
    pub fn value(&self, raw: f64) -> f64 {
        let raw = match self.wrap {
            Some(w) if raw < 0.0 => raw + w,
            _ => raw,
        };
        if raw.is_nan()
            || self.fills.contains(&raw)
            || self.valid_min.is_some_and(|m| raw < m)
            || self.valid_max.is_some_and(|m| raw > m)
        {
            return f64::NAN;
        }
        raw * self.scale + self.offset
    }
}

/// A parsed CF time axis: "<unit> since <epoch>".
#[derive(Debug, Clone, Copy)]
pub struct TimeAxis {
    epoch: NaiveDateTime,
    seconds_per_unit: f64,
}

impl TimeAxis {
    pub fn parse(units: &str, calendar: Option<&str>) -> Option<TimeAxis> {
        let cal = calendar.unwrap_or("standard").to_lowercase();
        if !matches!(
            cal.as_str(),
            "standard" | "gregorian" | "proleptic_gregorian" | ""
        ) {
            return None;
        }
        let (unit, since) = units.split_once(" since ")?;
        let seconds_per_unit = match unit.trim().to_lowercase().as_str() {
            "seconds" | "second" | "secs" | "sec" | "s" => 1.0,
            "minutes" | "minute" | "mins" | "min" => 60.0,
            "hours" | "hour" | "hrs" | "hr" | "h" => 3600.0,
            "days" | "day" | "d" => 86400.0,
            _ => return None,
        };
        Some(TimeAxis {
            epoch: parse_epoch(since.trim())?,
            seconds_per_unit,
        })
    }

    pub fn at(&self, value: f64) -> Option<NaiveDateTime> {
        let secs = value * self.seconds_per_unit;
        if !secs.is_finite() || secs.abs() > 1e12 {
            return None;
        }
        self.epoch
            .checked_add_signed(Duration::milliseconds((secs * 1000.0).round() as i64))
    }
}

/// "1970-01-01 00:00:00 +00:00", "2016-1-1", "2026-07-01T00:00:00Z" and similar.
fn parse_epoch(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim_end_matches('Z').trim_end_matches("UTC").trim();
    let s = s.split(" +").next().unwrap_or(s).trim();
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, t.trim()),
        None => (s, "0:0:0"),
    };
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (
        d.next()??,
        d.next().flatten().unwrap_or(1),
        d.next().flatten().unwrap_or(1),
    );
    let mut t = time.split(':');
    let h: u32 = t.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let mi: u32 = t.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let sec: f64 = t.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
    NaiveDate::from_ymd_opt(y as i32, m as u32, day as u32)?.and_hms_opt(h, mi, sec as u32)
}

/// A level from a vertical coordinate value and its variable.
pub fn level_from(coord: &VarMeta, value: f64) -> Level {
    let units = coord.text("units").unwrap_or("").trim().to_string();
    let lu = units.to_lowercase();
    let (kind, label) = if lu == "pa" {
        ("isobaric", format!("{}hPa", trim_number(value / 100.0)))
    } else if is_pressure_unit(&lu) {
        ("isobaric", format!("{}hPa", trim_number(value)))
    } else if lu == "m" || lu == "meters" || lu == "metres" || lu == "meter" {
        let depth = coord.lower("positive") == "down" || coord.name.contains("depth");
        if depth {
            ("depth", format!("{}m_depth", trim_number(value)))
        } else {
            ("height_above_ground", format!("{}m", trim_number(value)))
        }
    } else {
        ("level", format!("{}{}", coord.name, trim_number(value)))
    };
    Level {
        kind: kind.into(),
        value: Some(if lu == "pa" { value / 100.0 } else { value }),
        units: Some(if lu == "pa" { "hPa".into() } else { units }),
        label,
    }
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, dims: &[(&str, usize)], attrs: &[(&str, Attr)]) -> VarMeta {
        VarMeta {
            name: name.into(),
            dims: dims.iter().map(|(d, n)| (d.to_string(), *n)).collect(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Default::default()
        }
    }

    fn text(s: &str) -> Attr {
        Attr::Text(s.into())
    }

    #[test]
    fn bounds_and_coordinates_are_not_fields() {
        let vars = vec![
            var(
                "time",
                &[("time", 3)],
                &[
                    ("units", text("hours since 2026-01-01")),
                    ("bounds", text("time_bnds")),
                ],
            ),
            var("time_bnds", &[("time", 3), ("nv", 2)], &[]),
            var("lat", &[("lat", 4)], &[("units", text("degrees_north"))]),
            var("lon", &[("lon", 5)], &[("units", text("degrees_east"))]),
            var("t2m", &[("time", 3), ("lat", 4), ("lon", 5)], &[]),
            var("crs", &[], &[]),
        ];
        let f = field_variables(&vars);
        assert_eq!(f.len(), 1);
        assert_eq!(vars[f[0].var].name, "t2m");
        assert_eq!(f[0].slices, 3);
    }

    #[test]
    fn mask_and_scale() {
        let v = VarMeta {
            attrs: [
                ("_FillValue".to_string(), Attr::Numbers(vec![-32767.0])),
                ("scale_factor".to_string(), Attr::Numbers(vec![0.5])),
                ("add_offset".to_string(), Attr::Numbers(vec![100.0])),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let u = Unpack::of(&v);
        assert_eq!(u.apply(2.0), 101.0);
        assert!(u.apply(-32767.0).is_nan());
    }

    #[test]
    fn time_units() {
        let t = TimeAxis::parse("seconds since 1970-01-01 00:00:00 +00:00", None).unwrap();
        assert_eq!(t.at(86400.0).unwrap().to_string(), "1970-01-02 00:00:00");
        let t = TimeAxis::parse("hours since 2026-7-1", Some("gregorian")).unwrap();
        assert_eq!(t.at(6.0).unwrap().to_string(), "2026-07-01 06:00:00");
        assert!(TimeAxis::parse("days since 2000-01-01", Some("360_day")).is_none());
    }
}
