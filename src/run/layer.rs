//! Planning layers from a file's inventory: names, wind-speed pairs, palettes and ranges.

use std::collections::BTreeMap;

use crate::decode::{Entry, Field, FieldInfo, WindComponent};
use crate::error::Result;
use crate::geo::grid::{Grid, GridKind};
use crate::geo::tiling::Tiling;
use crate::render::encode::DataScale;
use crate::render::palette::{ColourTable, Palette};
use crate::render::units;
use crate::settings::RenderSettings;

/// What one layer is made from.
#[derive(Debug, Clone)]
pub struct LayerSpec {
    pub name: String,
    /// One field, or the u and v fields of a wind-speed layer.
    pub sources: Vec<usize>,
}

/// Lowercase ASCII letters, digits, `.`, `-` and `_`; anything else becomes `-`.
fn slug(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(['-', '_']).to_string();
    if s.is_empty() {
        "x".into()
    } else {
        s
    }
}

/// `2026-07-01T06:00:00Z` → `20260701T0600Z`.
fn time_slug(t: Option<&str>) -> String {
    match t {
        Some(t) if t.len() >= 16 => format!(
            "{}{}{}T{}{}Z",
            &t[0..4],
            &t[5..7],
            &t[8..10],
            &t[11..13],
            &t[14..16]
        ),
        _ => "notime".into(),
    }
}

fn layer_name(variable: &str, info: &FieldInfo) -> String {
    format!(
        "{}_{}_{}",
        slug(variable),
        slug(&info.level.label),
        time_slug(info.valid_time.as_deref())
    )
}

/// One layer per decodable field, plus a wind-speed layer per u/v pair on the same level,
/// time and grid. Names are unique: repeats get `_2`, `_3`, ... in file order.
pub fn plan(entries: &[Entry]) -> Vec<LayerSpec> {
    let mut specs: Vec<LayerSpec> = entries
        .iter()
        .filter_map(|e| e.info.as_ref().ok())
        .map(|info| LayerSpec {
            name: layer_name(&info.variable, info),
            sources: vec![info.index],
        })
        .collect();
    // Pair u with the first unused v of the same level, valid time and grid.
    let mut used_v = std::collections::HashSet::new();
    let infos: Vec<&FieldInfo> = entries
        .iter()
        .filter_map(|e| e.info.as_ref().ok())
        .collect();
    for u in infos
        .iter()
        .filter(|i| i.wind_component == Some(WindComponent::U))
    {
        let v = infos.iter().find(|v| {
            v.wind_component == Some(WindComponent::V)
                && !used_v.contains(&v.index)
                && v.level == u.level
                && v.valid_time == u.valid_time
                && v.grid == u.grid
        });
        if let Some(v) = v {
            used_v.insert(v.index);
            specs.push(LayerSpec {
                name: layer_name("wind_speed", u),
                sources: vec![u.index, v.index],
            });
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for s in &mut specs {
        let n = seen.entry(s.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            s.name = format!("{}_{}", s.name, n);
        }
    }
    specs
}

/// Wind speed from u and v: NaN where either is missing.
pub fn wind_speed(u: Field, v: &Field) -> Field {
    let mut f = u;
    for (a, b) in f.values.iter_mut().zip(&v.values) {
        *a = a.hypot(*b);
    }
    f.info.variable = "wind_speed".into();
    f.info.long_name = "wind speed".into();
    f.info.standard_name = Some("wind_speed".into());
    f.info.wind_component = None;
    f
}

/// Finite min and max of the values.
pub fn value_range(values: &[f32]) -> Option<(f64, f64)> {
    let mut it = values.iter().filter(|v| v.is_finite());
    let first = *it.next()? as f64;
    Some(it.fold((first, first), |(lo, hi), &v| {
        (lo.min(v as f64), hi.max(v as f64))
    }))
}

/// Colour-related choices for a layer.
pub struct Styling {
    pub palette: Palette,
    pub table: ColourTable,
    pub data: DataScale,
    pub value_range: Option<(f64, f64)>,
}

pub fn style(field: &Field, settings: &RenderSettings) -> Result<Styling> {
    let palette = match &settings.palette {
        Some(p) => p.palette()?,
        None => {
            let mut names = vec![field.info.variable.as_str()];
            if let Some(sn) = &field.info.standard_name {
                names.push(sn);
            }
            Palette::for_variable(&names)
        }
    };
    let value_range = value_range(&field.values);
    // The palette's range in the field's units: a temperature in °C gets the same colours
    // as one in K.
    let palette_range = palette.default_range.and_then(|[a, b]| {
        let from = palette.units.as_deref()?;
        let to = &field.info.units;
        Some((units::convert(a, from, to)?, units::convert(b, from, to)?))
    });
    let (min, max) = match (settings.range, palette_range, value_range) {
        (Some(r), _, _) => r,
        (None, Some(r), _) => r,
        (None, _, Some((a, b))) if b > a => (a, b),
        (None, _, Some((a, _))) => (a - 0.5, a + 0.5),
        (None, _, None) => (0.0, 1.0),
    };
    let data = match value_range {
        Some((a, b)) => DataScale::for_range(a, b),
        None => DataScale::for_range(0.0, 0.0),
    };
    Ok(Styling {
        table: ColourTable::new(&palette, min, max),
        palette,
        data,
        value_range,
    })
}

/// Grid spacing in degrees (at the equator for projected grids), for the default zoom.
pub fn spacing_deg(grid: &Grid, bounds: [f64; 4]) -> f64 {
    match &grid.kind {
        GridKind::LatLon { dlon, dlat, .. } => dlon.abs().min(dlat.abs()),
        GridKind::Projected { dx, dy, .. } => dx.abs().min(dy.abs()) / 111_320.0,
        GridKind::Curvilinear(_) => {
            let mut w = bounds[2] - bounds[0];
            if w <= 0.0 {
                w += 360.0;
            }
            (w / grid.nx as f64).min((bounds[3] - bounds[1]) / grid.ny as f64)
        }
    }
}

/// The zoom range for a layer.
pub fn zooms(settings: &RenderSettings, tiling: Tiling, grid: &Grid, bounds: [f64; 4]) -> (u8, u8) {
    settings
        .zoom
        .unwrap_or_else(|| (0, tiling.native_zoom(spacing_deg(grid, bounds))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Dataset;

    fn t2m() -> Field {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/global_t2m.grib2");
        Dataset::open(&path).unwrap().decode(0).unwrap()
    }

    /// The same temperatures in K, °C and °F get the same colours: the palette's range is
    /// converted to the field's units, never replaced by the data's range.
    #[test]
    fn a_temperature_gets_the_same_colours_in_any_unit() {
        let kelvin = t2m();
        assert_eq!(kelvin.info.units, "K");
        let settings = RenderSettings::default();
        let k = style(&kelvin, &settings).unwrap();
        assert_eq!(k.palette.name, "temperature");
        assert_eq!((k.table.min, k.table.max), (223.15, 323.15));
        for (units, to) in [
            ("degC", (|v: f64| v - 273.15) as fn(f64) -> f64),
            ("Celsius", |v| v - 273.15),
            ("degF", |v| (v - 273.15) * 9.0 / 5.0 + 32.0),
        ] {
            let mut f = kelvin.clone();
            f.info.units = units.into();
            f.values = kelvin.values.iter().map(|&v| to(v as f64) as f32).collect();
            let s = style(&f, &settings).unwrap();
            assert_eq!(s.palette.name, "temperature", "{units}");
            let differ = kelvin
                .values
                .iter()
                .zip(&f.values)
                .filter(|(a, b)| {
                    let (i, j) = (k.table.index(**a), s.table.index(**b));
                    i.abs_diff(j) > 1
                })
                .count();
            assert_eq!(differ, 0, "{units}: range {} {}", s.table.min, s.table.max);
        }
    }

    /// A unit that is not the palette's quantity falls back to the data's range.
    #[test]
    fn a_unit_of_another_quantity_uses_the_data_range() {
        let mut f = t2m();
        f.info.units = "Pa".into();
        let s = style(&f, &RenderSettings::default()).unwrap();
        let (lo, hi) = s.value_range.unwrap();
        assert_eq!((s.table.min, s.table.max), (lo, hi));
    }
}
