//! GRIB2 sections 1 and 4: reference time, parameter numbers, level and valid time.
//!
//! Read from the raw octets rather than through a decoder library so every product template
//! of the 4.0-4.15 family (the same layout up to octet 34) and the chemical templates
//! 4.40-4.43 (two extra octets) share one careful reader, and an unknown template degrades to
//! "no level" instead of failing the field. Also the spelling of the units gribberish's
//! parameter tables give.

use chrono::{Duration, Months, NaiveDate, NaiveDateTime};

use crate::decode::bytes::{i32sm_at, i8sm_at, u16_at, u32_at, u8_at};
use crate::decode::Level;

/// What section 4 says about a field.
pub struct Product {
    pub category: u8,
    pub number: u8,
    pub level: Level,
    pub valid_time: Option<NaiveDateTime>,
}

/// Section 1 octets 13-19.
pub fn reference_time(s1: &[u8]) -> Option<NaiveDateTime> {
    let year = u16_at(s1, 12)? as i32;
    let date = NaiveDate::from_ymd_opt(year, u8_at(s1, 14)? as u32, u8_at(s1, 15)? as u32)?;
    date.and_hms_opt(
        u8_at(s1, 16)? as u32,
        u8_at(s1, 17)? as u32,
        u8_at(s1, 18)? as u32,
    )
}

/// Parses section 4. `None` only when even the template number is absent.
pub fn product(s4: &[u8], reference: Option<NaiveDateTime>) -> Option<Product> {
    let template = u16_at(s4, 7)?;
    // Offset of the common octets (category at octet 10) and the shift of the rest.
    let shift = match template {
        0..=15 => 0usize,
        40..=43 => 2,
        _ => usize::MAX,
    };
    let category = u8_at(s4, 9)?;
    let number = u8_at(s4, 10)?;
    if shift == usize::MAX {
        return Some(Product {
            category,
            number,
            level: unknown_level(),
            valid_time: None,
        });
    }
    let at = |octet: usize| octet - 1 + if octet >= 12 { shift } else { 0 };
    let unit = u8_at(s4, at(18));
    let step = u32_at(s4, at(19)).map(|v| crate::decode::bytes::sign_magnitude(v as u64, 32));
    let first = surface(s4, at(23));
    let second = surface(s4, at(29));
    let level = describe_level(first, second);
    let end_octet = match template {
        8 => Some(35),
        9 => Some(48),
        10 => Some(36),
        11 => Some(38),
        12 => Some(37),
        13 => Some(69),
        14 => Some(65),
        42 => Some(37),
        43 => Some(40),
        _ => None,
    };
    let valid_time = end_octet
        .and_then(|o| interval_end(s4, o - 1))
        .or_else(|| add_step(reference?, unit?, step?));
    Some(Product {
        category,
        number,
        level,
        valid_time,
    })
}

/// Octets of an "end of overall time interval" (year u16, month, day, hour, minute, second).
fn interval_end(s4: &[u8], off: usize) -> Option<NaiveDateTime> {
    let date = NaiveDate::from_ymd_opt(
        u16_at(s4, off)? as i32,
        u8_at(s4, off + 2)? as u32,
        u8_at(s4, off + 3)? as u32,
    )?;
    date.and_hms_opt(
        u8_at(s4, off + 4)? as u32,
        u8_at(s4, off + 5)? as u32,
        u8_at(s4, off + 6)? as u32,
    )
}

/// Code table 4.4 units applied to the forecast time.
fn add_step(reference: NaiveDateTime, unit: u8, step: i64) -> Option<NaiveDateTime> {
    let seconds = match unit {
        0 => 60,
        1 => 3600,
        2 => 86400,
        10 => 3 * 3600,
        11 => 6 * 3600,
        12 => 12 * 3600,
        13 => 1,
        3..=7 => {
            let months = step
                * match unit {
                    3 => 1,
                    4 => 12,
                    5 => 120,
                    6 => 360,
                    _ => 1200,
                };
            return if months >= 0 {
                reference.checked_add_months(Months::new(months as u32))
            } else {
                reference.checked_sub_months(Months::new((-months) as u32))
            };
        }
        _ => return None,
    };
    reference.checked_add_signed(Duration::try_seconds(step.checked_mul(seconds)?)?)
}

/// A fixed surface: type (code table 4.5) and value, `None` value when missing.
fn surface(s4: &[u8], off: usize) -> Option<(u8, Option<f64>)> {
    let kind = u8_at(s4, off)?;
    if kind == 255 {
        return None;
    }
    let scale = u8_at(s4, off + 1)?;
    let raw = u32_at(s4, off + 2)?;
    let value = if scale == 255 || raw == u32::MAX {
        None
    } else {
        let s = i8sm_at(s4, off + 1)?;
        Some(i32sm_at(s4, off + 2)? as f64 / 10f64.powi(s))
    };
    Some((kind, value))
}

fn unknown_level() -> Level {
    Level {
        kind: "unknown".into(),
        value: None,
        units: None,
        label: "unknown".into(),
    }
}

/// Code table 4.5 to a level with a short label for layer names (GRIB1 levels are mapped to
/// the same codes, so both editions label a level alike).
pub(crate) fn describe_level(
    first: Option<(u8, Option<f64>)>,
    second: Option<(u8, Option<f64>)>,
) -> Level {
    let Some((kind, value)) = first else {
        return unknown_level();
    };
    let (name, units, factor, suffix): (&str, Option<&str>, f64, &str) = match kind {
        1 => ("surface", None, 1.0, "sfc"),
        2 => ("cloud_base", None, 1.0, "cloudbase"),
        3 => ("cloud_top", None, 1.0, "cloudtop"),
        4 => ("isotherm_zero", None, 1.0, "0C"),
        6 => ("max_wind", None, 1.0, "maxwind"),
        7 => ("tropopause", None, 1.0, "tropopause"),
        8 => ("nominal_top", None, 1.0, "toa"),
        10 | 200 => ("entire_atmosphere", None, 1.0, "atmos"),
        100 => ("isobaric", Some("hPa"), 0.01, "hPa"),
        101 => ("mean_sea", None, 1.0, "msl"),
        102 => ("height_above_sea", Some("m"), 1.0, "m_asl"),
        103 => ("height_above_ground", Some("m"), 1.0, "m"),
        104 => ("sigma", Some("1"), 1.0, "sigma"),
        105 => ("hybrid", Some("1"), 1.0, "hybrid"),
        106 => ("depth_below_land", Some("m"), 1.0, "m_below"),
        107 => ("isentropic", Some("K"), 1.0, "K"),
        108 => ("pressure_from_ground", Some("hPa"), 0.01, "hPa_agl"),
        109 => ("potential_vorticity", Some("PVU"), 1e6, "pvu"),
        160 => ("depth_below_sea", Some("m"), 1.0, "m_depth"),
        _ => ("level_type", None, 1.0, ""),
    };
    let fmt = |v: f64| {
        let s = format!("{:.3}", v * factor);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let value_in_units = value.filter(|_| units.is_some()).map(|v| v * factor);
    let mut label = match (units, value) {
        (Some(_), Some(v)) => format!("{}{suffix}", fmt(v)),
        _ if kind >= 11 && !matches!(kind, 101 | 200) && name == "level_type" => {
            format!("level{kind}")
        }
        _ => suffix.to_string(),
    };
    if let (Some(_), Some((k2, Some(v2)))) = (units, second) {
        if k2 == kind {
            label = format!("{}-{label}", fmt(v2));
        }
    }
    Level {
        kind: if name == "level_type" {
            format!("level_type_{kind}")
        } else {
            name.to_string()
        },
        value: value_in_units,
        units: units.map(str::to_string),
        label,
    }
}

/// gribberish writes units run together in lower case ("kgm-2s-1", "pa"); users and legends
/// expect WMO/UDUNITS spelling ("kg m-2 s-1", "Pa"). Splits into known symbols with optional
/// exponents; returns the input unchanged when it does not parse that way.
pub fn spaced_units(u: &str) -> String {
    const SYMBOLS: &[(&str, &str)] = &[
        ("gpm", "gpm"),
        ("dbz", "dBZ"),
        ("deg", "deg"),
        ("kg", "kg"),
        ("pa", "Pa"),
        ("km", "km"),
        ("mm", "mm"),
        ("hpa", "hPa"),
        ("k", "K"),
        ("m", "m"),
        ("s", "s"),
        ("w", "W"),
        ("j", "J"),
        ("n", "N"),
        ("g", "g"),
        ("%", "%"),
        ("1", "1"),
    ];
    let lower = u.to_lowercase();
    if lower.is_empty() || lower.contains(' ') || lower.contains('/') {
        return u.to_string();
    }
    let mut rest = lower.as_str();
    let mut parts: Vec<String> = Vec::new();
    while !rest.is_empty() {
        let Some((sym, shown)) = SYMBOLS.iter().find(|(s, _)| rest.starts_with(s)) else {
            return u.to_string();
        };
        rest = &rest[sym.len()..];
        let exp_len = rest
            .char_indices()
            .take_while(|(k, c)| c.is_ascii_digit() || (*k == 0 && *c == '-'))
            .count();
        parts.push(format!("{shown}{}", &rest[..exp_len]));
        rest = &rest[exp_len..];
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_have_short_labels() {
        assert_eq!(
            describe_level(Some((100, Some(85000.0))), None).label,
            "850hPa"
        );
        assert_eq!(describe_level(Some((103, Some(2.0))), None).label, "2m");
        assert_eq!(describe_level(Some((1, None)), None).label, "sfc");
        let layer = describe_level(Some((106, Some(0.1))), Some((106, Some(0.0))));
        assert_eq!(layer.label, "0-0.1m_below");
    }

    #[test]
    fn steps_in_every_unit() {
        let t = NaiveDate::from_ymd_opt(2026, 1, 31)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        assert_eq!(
            add_step(t, 1, 6).unwrap().to_string(),
            "2026-01-31 18:00:00"
        );
        assert_eq!(
            add_step(t, 0, 90).unwrap().to_string(),
            "2026-01-31 13:30:00"
        );
        assert_eq!(
            add_step(t, 3, 1).unwrap().to_string(),
            "2026-02-28 12:00:00"
        );
        assert!(add_step(t, 1, i64::MAX / 2).is_none());
    }

    #[test]
    fn units_are_spelled_the_wmo_way() {
        assert_eq!(spaced_units("kgm-2s-1"), "kg m-2 s-1");
        assert_eq!(spaced_units("pa"), "Pa");
        assert_eq!(spaced_units("K"), "K");
        assert_eq!(spaced_units("ms-1"), "m s-1");
        assert_eq!(spaced_units("%"), "%");
        assert_eq!(spaced_units("gpm"), "gpm");
        assert_eq!(spaced_units("Wm-2"), "W m-2");
        assert_eq!(spaced_units("(0 - 1)"), "(0 - 1)");
        assert_eq!(spaced_units("numeric"), "numeric");
    }
}
