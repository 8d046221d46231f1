//! WRF `wrfout` files: which variables are fields, on which level and at which time.
//!
//! WRF writes its own conventions, not CF's: geolocation is `XLAT`/`XLONG` (2-D or one per
//! time) and the `MAP_PROJ` family of global attributes, times are the `Times` character
//! array (`2005-08-28_00:00:00`), vertical dimensions are named (`bottom_top`,
//! `bottom_top_stag`, `soil_layers_stag`) rather than given coordinate variables, and the
//! winds `U`/`V` sit on the Arakawa-C staggered grid (`west_east_stag`, `south_north_stag`).
//!
//! A file is WRF when it has the global attributes `MAP_PROJ`, `DX` and `DY` and variables
//! `XLAT` and `XLONG` whose last two dimensions are `(south_north, west_east)`.
//!
//! The field rule (`tests/oracle/netcdf_dump.py` applies the same one): every numeric
//! variable of the root group, in definition order, whose last two dimensions are
//! `south_north[_stag]` and `west_east[_stag]`, except latitude/longitude coordinates (units
//! `degree(s)_north`/`degree(s)_east`: `XLAT`, `XLONG`, `XLAT_U`, ...). Each 2-D slice over
//! the leading dimensions is a field, as for CF files. A horizontally staggered variable is
//! destaggered to the mass points: the mean of the two neighbours along each staggered
//! dimension. Vertically staggered variables (`W`, `PH`, `PHB` on `bottom_top_stag`) keep
//! one field per full level.
//!
//! Levels: `bottom_top` index k is `hybrid` level k+1 (label `{k+1}hybrid`, 1 = lowest, as
//! WRF's post-processor numbers them in GRIB); `bottom_top_stag` index k is full level k+1
//! (`hybrid_full`, label `{k+1}hybrid_full`, 1 = the surface); soil dimensions are
//! `depth_below_land` from `ZS`/`DZS` (layer `top-bottom` in m, value the layer's centre) or
//! `soil_layer` k+1 without them; any other leading dimension D is `level` k (label `Dk`).
//! A field without a vertical dimension is at the height its description names ("TEMP at 2
//! M": `height_above_ground` 2 m, "U at 10 M": 10 m), else at the surface (`sfc`).
//! Valid times come from `Times` (a field without a `Time` dimension has none), the
//! reference time from `SIMULATION_START_DATE`, else `START_DATE`. `U`, `V`, `U10` and
//! `V10` are grid-relative wind components.

use chrono::{NaiveDate, NaiveDateTime};

use super::cf::VarMeta;
use super::{Level, WindComponent};

/// The dimensions of the horizontal mass grid and their staggered versions.
const WE: &str = "west_east";
const SN: &str = "south_north";
const WE_STAG: &str = "west_east_stag";
const SN_STAG: &str = "south_north_stag";

/// Whether the file is WRF output.
pub fn detect(globals: &VarMeta, vars: &[VarMeta]) -> bool {
    let attrs = ["MAP_PROJ", "DX", "DY"];
    let has_coord = |name: &str| {
        vars.iter().any(|v| {
            let n = v.dims.len();
            v.name == name && n >= 2 && v.dims[n - 2].0 == SN && v.dims[n - 1].0 == WE
        })
    };
    attrs.iter().all(|a| globals.number(a).is_some()) && has_coord("XLAT") && has_coord("XLONG")
}

/// A variable that holds fields, and how it is staggered horizontally.
#[derive(Debug, Clone)]
pub struct WrfVar {
    pub var: usize,
    /// Number of 2-D slices (`u64::MAX` on overflow).
    pub slices: u64,
    /// On `west_east_stag`: one column more than the mass grid.
    pub stag_x: bool,
    /// On `south_north_stag`: one row more than the mass grid.
    pub stag_y: bool,
}

/// Latitude or longitude units, as CF spells them.
fn is_latlon_units(v: &VarMeta) -> bool {
    let u = v.text("units").unwrap_or("").trim().to_lowercase();
    matches!(
        u.as_str(),
        "degrees_north"
            | "degree_north"
            | "degree_n"
            | "degrees_n"
            | "degreen"
            | "degreesn"
            | "degrees_east"
            | "degree_east"
            | "degree_e"
            | "degrees_e"
            | "degreee"
            | "degreese"
    )
}

/// The file's field variables, in definition order (see the module documentation).
pub fn field_variables(vars: &[VarMeta]) -> Vec<WrfVar> {
    vars.iter()
        .enumerate()
        .filter_map(|(k, v)| {
            let n = v.dims.len();
            if n < 2 || v.dtype == "other" || is_latlon_units(v) {
                return None;
            }
            let (y, x) = (&v.dims[n - 2], &v.dims[n - 1]);
            let stag_y = match y.0.as_str() {
                SN => false,
                SN_STAG => true,
                _ => return None,
            };
            let stag_x = match x.0.as_str() {
                WE => false,
                WE_STAG => true,
                _ => return None,
            };
            // The mass grid has at least two points each way.
            if y.1 < 2 + stag_y as usize || x.1 < 2 + stag_x as usize {
                return None;
            }
            Some(WrfVar {
                var: k,
                slices: v.dims[..n - 2]
                    .iter()
                    .try_fold(1u64, |s, d| s.checked_mul(d.1 as u64))
                    .unwrap_or(u64::MAX),
                stag_x,
                stag_y,
            })
        })
        .collect()
}

/// Averages a staggered `ny` × `nx` slice onto the mass points between: along x when
/// `stag_x`, along y when `stag_y`. NaN in either neighbour gives NaN.
pub fn destagger(v: &[f64], nx: usize, ny: usize, stag_x: bool, stag_y: bool) -> Vec<f64> {
    let (mx, my) = (nx - stag_x as usize, ny - stag_y as usize);
    let mut out = Vec::with_capacity(mx * my);
    for j in 0..my {
        for i in 0..mx {
            let at = |di: usize, dj: usize| v[(j + dj) * nx + i + di];
            out.push(match (stag_x, stag_y) {
                (false, false) => at(0, 0),
                (true, false) => 0.5 * (at(0, 0) + at(1, 0)),
                (false, true) => 0.5 * (at(0, 0) + at(0, 1)),
                (true, true) => 0.25 * (at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)),
            });
        }
    }
    out
}

/// What WRF output says about time and soil depth, read once per file.
#[derive(Debug, Clone, Default)]
pub struct WrfMeta {
    /// One per `Time` index, from `Times`.
    pub times: Vec<Option<NaiveDateTime>>,
    pub reference: Option<NaiveDateTime>,
    /// Centre depths of the soil layers (`ZS`, m).
    pub soil_centres: Option<Vec<f64>>,
    /// Thicknesses of the soil layers (`DZS`, m).
    pub soil_thickness: Option<Vec<f64>>,
}

impl WrfMeta {
    /// From the global attributes and the `Times` characters (`Time` × `DateStrLen`).
    pub fn new(globals: &VarMeta, times: Option<(Vec<u8>, usize)>) -> WrfMeta {
        let times = match times {
            Some((chars, len)) if len > 0 => chars
                .chunks(len)
                .map(|c| parse_date(&String::from_utf8_lossy(c)))
                .collect(),
            _ => Vec::new(),
        };
        let reference = ["SIMULATION_START_DATE", "START_DATE"]
            .iter()
            .find_map(|a| globals.text(a).and_then(parse_date));
        WrfMeta {
            times,
            reference,
            ..Default::default()
        }
    }

    /// Valid time and level of the slice of `v` at `indices` (its leading dimensions).
    pub fn describe(&self, v: &VarMeta, indices: &[usize]) -> (Option<NaiveDateTime>, Level) {
        let lead = &v.dims[..v.dims.len() - 2];
        let mut valid = None;
        let mut level = None;
        for ((dim, _), &k) in lead.iter().zip(indices) {
            if dim == "Time" {
                valid = self.times.get(k).copied().flatten();
            } else {
                level = Some(self.level(dim, k));
            }
        }
        let level = level.unwrap_or_else(|| match named_height(v) {
            Some(h) => Level {
                kind: "height_above_ground".into(),
                value: Some(h),
                units: Some("m".into()),
                label: format!("{}m", num(h)),
            },
            None => Level {
                kind: "surface".into(),
                value: None,
                units: None,
                label: "sfc".into(),
            },
        });
        (valid, level)
    }

    fn level(&self, dim: &str, k: usize) -> Level {
        let n = k as f64 + 1.0;
        let level = |kind: &str, value: f64, units: &str, label: String| Level {
            kind: kind.into(),
            value: Some(value),
            units: Some(units.into()),
            label,
        };
        match dim {
            "bottom_top" => level("hybrid", n, "1", format!("{}hybrid", num(n))),
            "bottom_top_stag" => level("hybrid_full", n, "1", format!("{}hybrid_full", num(n))),
            d if d.starts_with("soil_layers") => {
                let centre = self.soil_centres.as_ref().and_then(|z| z.get(k)).copied();
                let thick = self.soil_thickness.as_ref().and_then(|z| z.get(k)).copied();
                match (centre, thick) {
                    (Some(z), Some(dz)) => {
                        let (top, bottom) = (z - dz / 2.0, z + dz / 2.0);
                        let label = format!("{}-{}m_below", num(top), num(bottom));
                        level("depth_below_land", z, "m", label)
                    }
                    (Some(z), None) => {
                        level("depth_below_land", z, "m", format!("{}m_below", num(z)))
                    }
                    _ => level("soil_layer", n, "1", format!("soil{}", num(n))),
                }
            }
            d => level("level", k as f64, "1", format!("{d}{k}")),
        }
    }
}

/// The height a WRF description names: "TEMP at 2 M" is 2 m, "U at 10 M" 10 m.
fn named_height(v: &VarMeta) -> Option<f64> {
    let d = v.text("description")?.to_lowercase();
    let (_, rest) = d.split_once(" at ")?;
    let rest = rest.trim_start();
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let unit = rest[number.len()..].trim_start();
    let is_metres = unit == "m" || unit.starts_with("m ");
    number.parse().ok().filter(|_| is_metres)
}

/// The wind component a WRF variable is (all grid-relative).
pub fn wind_component(name: &str) -> Option<WindComponent> {
    match name {
        "U" | "U10" => Some(WindComponent::U),
        "V" | "V10" => Some(WindComponent::V),
        _ => None,
    }
}

/// `2005-08-28_00:00:00` (also with `T` or a space between date and time).
pub fn parse_date(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    let (date, time) = s.split_once(['_', 'T', ' '])?;
    let mut d = date.split('-').map(|p| p.parse::<u32>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<u32>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next().flatten().unwrap_or(0));
    NaiveDate::from_ymd_opt(y as i32, m, day)?.and_hms_opt(h, mi, sec)
}

fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::cf::Attr;

    fn globals(attrs: impl IntoIterator<Item = (String, Attr)>) -> VarMeta {
        VarMeta {
            attrs: attrs.into_iter().collect(),
            ..Default::default()
        }
    }

    fn var(name: &str, dims: &[(&str, usize)], attrs: &[(&str, &str)]) -> VarMeta {
        VarMeta {
            name: name.into(),
            dims: dims.iter().map(|(d, n)| (d.to_string(), *n)).collect(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), Attr::Text(v.to_string())))
                .collect(),
            dtype: "float".into(),
            ..Default::default()
        }
    }

    #[test]
    fn fields_levels_and_staggering() {
        let g =
            globals(["MAP_PROJ", "DX", "DY"].map(|k| (k.to_string(), Attr::Numbers(vec![1.0]))));
        let (t, z, zs) = (("Time", 2), ("bottom_top", 3), ("bottom_top_stag", 4));
        let (y, x, ys, xs) = (
            ("south_north", 5),
            ("west_east", 6),
            ("south_north_stag", 6),
            ("west_east_stag", 7),
        );
        let deg = [("units", "degree_north")];
        let vars = vec![
            var("XLAT", &[t, y, x], &deg),
            var("XLONG", &[t, y, x], &[("units", "degree_east")]),
            var("XLAT_U", &[t, y, xs], &deg),
            var("ZNU", &[t, z], &[]),
            var("U", &[t, z, y, xs], &[]),
            var("V", &[t, z, ys, x], &[]),
            var("W", &[t, zs, y, x], &[]),
            var("T2", &[t, y, x], &[("description", "TEMP at 2 M")]),
            var("HGT", &[y, x], &[("description", "Terrain Height")]),
        ];
        assert!(detect(&g, &vars));
        assert!(!detect(&g, &vars[2..]));
        let f = field_variables(&vars);
        let names: Vec<&str> = f.iter().map(|w| vars[w.var].name.as_str()).collect();
        assert_eq!(names, ["U", "V", "W", "T2", "HGT"]);
        assert!(f[0].stag_x && !f[0].stag_y && f[1].stag_y && !f[2].stag_x);
        assert_eq!(f[0].slices, 6);
        let mut meta = WrfMeta::new(
            &g,
            Some((b"2005-08-28_00:00:002005-08-28_03:00:00".to_vec(), 19)),
        );
        let (valid, level) = meta.describe(&vars[4], &[1, 0]);
        assert_eq!(valid.unwrap().to_string(), "2005-08-28 03:00:00");
        assert_eq!(
            (level.kind.as_str(), level.label.as_str()),
            ("hybrid", "1hybrid")
        );
        let (_, level) = meta.describe(&vars[6], &[0, 3]);
        assert_eq!(level.label, "4hybrid_full");
        let (_, level) = meta.describe(&vars[7], &[0]);
        assert_eq!((level.label.as_str(), level.value), ("2m", Some(2.0)));
        let (valid, level) = meta.describe(&vars[8], &[]);
        assert_eq!((valid, level.label.as_str()), (None, "sfc"));
        meta.soil_centres = Some(vec![0.05, 0.25]);
        meta.soil_thickness = Some(vec![0.1, 0.3]);
        assert_eq!(meta.level("soil_layers_stag", 1).label, "0.1-0.4m_below");
    }

    #[test]
    fn destaggering_averages_neighbours() {
        // 2 rows of 3 staggered columns -> 2 rows of 2.
        let v = [0.0, 2.0, 4.0, 10.0, 12.0, f64::NAN];
        let d = destagger(&v, 3, 2, true, false);
        assert_eq!(&d[..3], &[1.0, 3.0, 11.0]);
        assert!(d[3].is_nan());
        assert_eq!(destagger(&v[..4], 2, 2, false, true), vec![2.0, 6.0]);
    }

    #[test]
    fn heights_from_descriptions() {
        let h = |d: &str| named_height(&var("X", &[], &[("description", d)]));
        assert_eq!(h("TEMP at 2 M"), Some(2.0));
        assert_eq!(h("U at 10 M"), Some(10.0));
        assert_eq!(h("wind at fire_wind_height"), None);
        assert_eq!(h("SFC PRESSURE"), None);
        assert_eq!(
            parse_date("2005-08-28_12:00:00").unwrap().to_string(),
            "2005-08-28 12:00:00"
        );
    }
}
