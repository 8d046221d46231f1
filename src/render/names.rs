//! Names for people: a field's name for its legend title, with spaces ("Pressure reduced to
//! MSL", not "pressurereducedmsl"), and its level described in words ("2 m above ground",
//! "500 hPa", "surface").

use crate::decode::{FieldInfo, Level, WindComponent};
use crate::render::quantity::Quantity;

/// A field's name: the file's long name, or, where the file has none better than its
/// variable or a CF standard name, the quantity's title or the standard name in words.
/// The first letter is a capital.
pub fn field_name(info: &FieldInfo, quantity: Option<&Quantity>) -> String {
    let long = info.long_name.trim();
    let poor = long.is_empty()
        || long.eq_ignore_ascii_case(info.variable.trim())
        || long.eq_ignore_ascii_case("unknown")
        || (long.contains('_') && !long.contains(' '));
    let name = if !poor {
        long.to_string()
    } else if let Some(q) = quantity {
        match (q.key, info.wind_component) {
            ("wind_component", Some(WindComponent::U)) => "Eastward wind".into(),
            ("wind_component", Some(WindComponent::V)) => "Northward wind".into(),
            _ => q.title.to_string(),
        }
    } else if let Some(sn) = info
        .standard_name
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        sn.replace('_', " ")
    } else if long.contains('_') {
        long.replace('_', " ")
    } else if long.eq_ignore_ascii_case("unknown") || long.is_empty() {
        format!("Parameter {}", info.variable.trim())
    } else {
        long.to_string()
    };
    capitalise(name.trim())
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A level described for people: "2 m above ground", "500 hPa", "surface"; `None` for a
/// field without a level.
pub fn level_text(level: &Level) -> Option<String> {
    let num = |v: f64| {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    // A layer's label holds both ends ("0-0.1m_below"): keep them.
    let value = || {
        let layer = level
            .label
            .split_once('-')
            .filter(|(a, _)| !a.is_empty() && a.parse::<f64>().is_ok())
            .map(|(a, rest)| {
                let b: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                format!("{a}-{b}")
            });
        layer.or_else(|| level.value.map(num))
    };
    let with = |suffix: &str| value().map(|v| format!("{v} {suffix}"));
    Some(match level.kind.as_str() {
        "single" | "unknown" => return None,
        "surface" => "surface".into(),
        "mean_sea" => "mean sea level".into(),
        "cloud_base" => "cloud base".into(),
        "cloud_top" => "cloud top".into(),
        "isotherm_zero" => "0 °C isotherm".into(),
        "max_wind" => "maximum wind level".into(),
        "tropopause" => "tropopause".into(),
        "nominal_top" => "top of atmosphere".into(),
        "entire_atmosphere" => "entire atmosphere".into(),
        "isobaric" => with("hPa")?,
        "height_above_ground" => with("m above ground")?,
        "height_above_sea" => with("m above sea level")?,
        "depth_below_land" => with("m below ground")?,
        "depth_below_sea" | "depth" => with("m depth")?,
        "pressure_from_ground" => with("hPa above ground")?,
        "isentropic" => with("K isentropic level")?,
        "potential_vorticity" => with("PVU")?,
        "sigma" => format!("sigma {}", value()?),
        "hybrid" => format!("hybrid level {}", value()?),
        "hybrid_full" => format!("full hybrid level {}", value()?),
        "soil_layer" => format!("soil layer {}", value()?),
        _ => level.label.replace('_', " "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(kind: &str, value: Option<f64>, label: &str) -> Level {
        Level {
            kind: kind.into(),
            value,
            units: None,
            label: label.into(),
        }
    }

    #[test]
    fn levels_in_words() {
        let t = |l: Level| level_text(&l);
        assert_eq!(
            t(level("isobaric", Some(500.0), "500hPa")).unwrap(),
            "500 hPa"
        );
        assert_eq!(
            t(level("height_above_ground", Some(2.0), "2m")).unwrap(),
            "2 m above ground"
        );
        assert_eq!(t(level("surface", None, "sfc")).unwrap(), "surface");
        assert_eq!(t(level("mean_sea", None, "msl")).unwrap(), "mean sea level");
        assert_eq!(
            t(level("hybrid_full", Some(3.0), "3hybrid_full")).unwrap(),
            "full hybrid level 3"
        );
        assert_eq!(
            t(level("soil_layer", Some(2.0), "soil2")).unwrap(),
            "soil layer 2"
        );
        assert_eq!(
            t(level("depth_below_land", Some(0.1), "0-0.1m_below")).unwrap(),
            "0-0.1 m below ground"
        );
        assert_eq!(
            t(level("potential_vorticity", Some(-2.0), "-2pvu")).unwrap(),
            "-2 PVU"
        );
        assert_eq!(t(level("single", None, "single")), None);
    }
}
