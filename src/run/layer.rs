//! Planning layers from a file's inventory: names, wind-speed pairs, palettes and ranges,
//! and what their legends say.

use std::collections::BTreeMap;

use crate::decode::{Entry, Field, FieldInfo, WindComponent};
use crate::error::Result;
use crate::geo::grid::{Grid, GridKind};
use crate::geo::tiling::Tiling;
use crate::render::encode::DataScale;
use crate::render::legend::Legend;
use crate::render::names;
use crate::render::palette::{ColourTable, Palette};
use crate::render::quantity::{self, Quantity};
use crate::render::range::{self, Extend, RangeSource};
use crate::render::units::{self, Display};
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
    // Separators left at the ends go, but not the sign of a level such as `-2pvu`.
    let s = s.trim_end_matches(['-', '_']).trim_start_matches('_');
    let s = match s.strip_prefix('-') {
        Some(rest) if !rest.starts_with(|c: char| c.is_ascii_digit()) => {
            rest.trim_start_matches(['-', '_'])
        }
        _ => s,
    }
    .to_string();
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
    /// Where the colour range (`table.min`, `table.max`) came from.
    pub range_source: RangeSource,
    /// The quantity, when known (and not contradicted by the values).
    pub quantity: Option<&'static Quantity>,
    /// How legends show values.
    pub display: Display,
    /// Which ends of the colour bar get arrows.
    pub extend: Extend,
}

/// Chooses a layer's palette and colour range, in this order: `--range`; the default range
/// of a palette given with `--palette` (converted to the field's units); the range of the
/// field's quantity at its level ([`quantity`]); `series`; the field's own robust range
/// ([`range::data_range`]).
///
/// `series` is a range (in the field's units) that a caller rendering a time series agreed
/// for the whole series. It is used only where the range would otherwise come from this
/// field's data, and the result then says [`RangeSource::Series`]; a caller keeps the range
/// of the first step whose `range_source` is [`RangeSource::Data`] and passes it for the
/// later steps. `None` leaves the data-driven range.
pub fn style(
    field: &Field,
    settings: &RenderSettings,
    series: Option<(f64, f64)>,
) -> Result<Styling> {
    let info = &field.info;
    // The quantity and its range in the field's units, unless the values contradict it
    // (units that are wrong in the file).
    let known = quantity::identify(info).and_then(|q| {
        let display = q.display(&info.units);
        let (a, b) = q.range(&info.level);
        let r = (
            range::tidy(display.unshow(a)),
            range::tidy(display.unshow(b)),
        );
        let r = (r.0.min(r.1), r.0.max(r.1));
        (!range::contradicts(&field.values, r)).then_some((q, r, display))
    });
    let quantity = known.as_ref().map(|k| k.0);
    let signed = quantity.map_or_else(|| quantity::is_departure(info), |q| q.signed);
    let palette = match (&settings.palette, quantity) {
        (Some(p), _) => p.palette()?,
        (None, Some(q)) => Palette::builtin(q.palette).expect("quantities name built-in palettes"),
        (None, None) if signed => Palette::builtin("diverging").expect("built in"),
        (None, None) => {
            let mut names = vec![info.variable.as_str()];
            if let Some(sn) = &info.standard_name {
                names.push(sn);
            }
            Palette::for_variable(&names)
        }
    };
    // A palette chosen with --palette keeps its own default range.
    let palette_range = settings
        .palette
        .as_ref()
        .and(palette.default_range)
        .and_then(|[a, b]| {
            let from = palette.units.as_deref()?;
            let to = &info.units;
            Some((units::convert(a, from, to)?, units::convert(b, from, to)?))
        });
    let ((min, max), range_source) = match (settings.range, palette_range, &known, series) {
        (Some(r), ..) => (r, RangeSource::Settings),
        (None, Some(r), ..) => (r, RangeSource::Palette),
        (None, None, Some((_, r, _)), _) => (*r, RangeSource::Quantity),
        (None, None, None, Some(r)) => (r, RangeSource::Series),
        (None, None, None, None) => (
            range::data_range(&field.values, signed).unwrap_or((0.0, 1.0)),
            RangeSource::Data,
        ),
    };
    let display = match &known {
        Some((_, _, d)) => d.clone(),
        None => Display::identity(&info.units),
    };
    let extend = match quantity {
        Some(q) => {
            let (a, b) = (display.show(min), display.show(max));
            Extend::of((a.min(b), a.max(b)), q.bounds)
        }
        None => Extend::Both,
    };
    let value_range = value_range(&field.values);
    let data = match value_range {
        Some((a, b)) => DataScale::for_range(a, b),
        None => DataScale::for_range(0.0, 0.0),
    };
    Ok(Styling {
        table: ColourTable::new(&palette, min, max),
        palette,
        data,
        value_range,
        range_source,
        quantity,
        display,
        extend,
    })
}

/// What a layer's legend says besides its colours.
pub fn legend(info: &FieldInfo, style: &Styling) -> Legend {
    Legend {
        name: names::field_name(info, style.quantity),
        level: names::level_text(&info.level),
        units: info.units.clone(),
        display: style.display.clone(),
        extend: style.extend,
        range_source: style.range_source,
        quantity: style.quantity.map(|q| q.key.to_string()),
    }
}

/// Grid spacing in degrees (at the equator for projected grids), for the default zoom.
pub fn spacing_deg(grid: &Grid, bounds: [f64; 4]) -> f64 {
    match &grid.kind {
        GridKind::Curvilinear(_) => {
            let mut w = bounds[2] - bounds[0];
            if w <= 0.0 {
                w += 360.0;
            }
            (w / grid.nx as f64).min((bounds[3] - bounds[1]) / grid.ny as f64)
        }
        _ => grid.cell_degrees(),
    }
}

/// The highest zoom of a layer's data tiles (see [`crate::settings::DataZoom`]).
pub fn data_maxzoom(
    settings: &RenderSettings,
    tiling: Tiling,
    grid: &Grid,
    bounds: [f64; 4],
    (minzoom, maxzoom): (u8, u8),
) -> u8 {
    let native = tiling.native_zoom(spacing_deg(grid, bounds));
    settings.data_zoom.max_for(minzoom, maxzoom, native)
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

    #[test]
    fn name_parts_keep_underscores_and_signs() {
        assert_eq!(slug("wind_speed"), "wind_speed");
        assert_eq!(slug("-2pvu"), "-2pvu");
        assert_eq!(slug("(ozone)"), "ozone");
        assert_eq!(slug("_x_"), "x");
        assert_eq!(slug("--5"), "5");
        assert_eq!(slug("!!"), "x");
    }
    use crate::decode::Dataset;

    fn sample(name: &str, k: usize) -> Field {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample-data")
            .join(name);
        Dataset::open(&path).unwrap().decode(k).unwrap()
    }

    fn t2m() -> Field {
        sample("global_t2m.grib2", 0)
    }

    /// The same temperatures in K, °C and °F get the same colours: the quantity's range is
    /// converted to the field's units, never replaced by the data's range.
    #[test]
    fn a_temperature_gets_the_same_colours_in_any_unit() {
        let kelvin = t2m();
        assert_eq!(kelvin.info.units, "K");
        let settings = RenderSettings::default();
        let k = style(&kelvin, &settings, None).unwrap();
        assert_eq!(k.palette.name, "temperature");
        assert_eq!(k.range_source, RangeSource::Quantity);
        assert_eq!((k.table.min, k.table.max), (223.15, 323.15));
        assert_eq!(k.display.units, "°C");
        for (units, to) in [
            ("degC", (|v: f64| v - 273.15) as fn(f64) -> f64),
            ("Celsius", |v| v - 273.15),
            ("degF", |v| (v - 273.15) * 9.0 / 5.0 + 32.0),
        ] {
            let mut f = kelvin.clone();
            f.info.units = units.into();
            f.values = kelvin.values.iter().map(|&v| to(v as f64) as f32).collect();
            let s = style(&f, &settings, None).unwrap();
            assert_eq!(s.palette.name, "temperature", "{units}");
            assert_eq!(s.display.units, "°C");
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

    /// The NetCDF `tas` in "Celsius": a January and a July field get one range, so
    /// they no longer look the same.
    #[test]
    fn months_of_a_celsius_series_share_one_range() {
        let mut base = sample("lambert_tas.nc", 0);
        base.info.units = "Celsius".into();
        let month = |lo: f32, hi: f32| {
            let mut f = base.clone();
            let n = f.values.len() as f32;
            for (k, v) in f.values.iter_mut().enumerate() {
                *v = lo + (hi - lo) * k as f32 / n;
            }
            style(&f, &RenderSettings::default(), None).unwrap()
        };
        let (jan, jul) = (month(-15.0, -1.6), month(3.6, 21.8));
        assert_eq!((jan.table.min, jan.table.max), (-50.0, 50.0));
        assert_eq!((jul.table.min, jul.table.max), (-50.0, 50.0));
        assert!(jan.table.index(-10.0) < jul.table.index(10.0));
    }

    /// u and v: a diverging palette over a range symmetric around zero.
    #[test]
    fn wind_components_are_diverging_around_zero() {
        for k in 0..2 {
            let s = style(
                &sample("global_uv10.grib2", k),
                &RenderSettings::default(),
                None,
            )
            .unwrap();
            assert_eq!(s.palette.name, "wind_component");
            assert_eq!(s.table.min, -s.table.max);
            assert_eq!(s.range_source, RangeSource::Quantity);
            assert_eq!(s.extend, Extend::Both);
            // Zero is the palette's middle (near-white).
            let [r, g, b, _] = s.table.colour(0.0);
            assert!(r > 230 && g > 230 && b > 230, "{r} {g} {b}");
        }
    }

    /// A unit that is not the quantity's falls back to the data's robust range, and a
    /// caller's series range replaces exactly that.
    #[test]
    fn unknown_fields_use_the_data_or_the_series_range() {
        let mut f = t2m();
        f.info.units = "Pa".into();
        let s = style(&f, &RenderSettings::default(), None).unwrap();
        assert_eq!(s.range_source, RangeSource::Data);
        assert!(s.quantity.is_none());
        let r = range::data_range(&f.values, false).unwrap();
        assert_eq!((s.table.min, s.table.max), r);
        assert_eq!(s.display.units, "Pa");
        let s = style(&f, &RenderSettings::default(), Some((1.0, 2.0))).unwrap();
        assert_eq!(s.range_source, RangeSource::Series);
        assert_eq!((s.table.min, s.table.max), (1.0, 2.0));
        // A known quantity ignores the series range; --range overrides both.
        let s = style(&t2m(), &RenderSettings::default(), Some((1.0, 2.0))).unwrap();
        assert_eq!(s.range_source, RangeSource::Quantity);
        let settings = RenderSettings {
            range: Some((250.0, 300.0)),
            ..Default::default()
        };
        let s = style(&t2m(), &settings, Some((1.0, 2.0))).unwrap();
        assert_eq!(s.range_source, RangeSource::Settings);
        assert_eq!((s.table.min, s.table.max), (250.0, 300.0));
    }

    /// °C values in a file that says K: the values contradict the quantity, so the field is
    /// shown as the file states it, over its own range.
    #[test]
    fn values_that_contradict_their_units_use_the_data_range() {
        let mut f = t2m();
        for v in &mut f.values {
            *v -= 273.15;
        }
        let s = style(&f, &RenderSettings::default(), None).unwrap();
        assert_eq!(s.range_source, RangeSource::Data);
        assert!(s.quantity.is_none());
        assert_eq!(s.display.units, "K");
        assert!(s.table.min < -40.0 && s.table.max > 20.0 && s.table.max < 60.0);
    }
}
