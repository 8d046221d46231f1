//! Converting values between the units weather files write for the same quantity, so a
//! palette's range in one unit colours a field in another the same way (a temperature in K,
//! °C or °F; a pressure in Pa or hPa; a speed in m/s, km/h or knots; an amount in kg m-2 or
//! mm).
//!
//! Each known unit is an affine map to its family's base unit (`base = value * factor +
//! offset`); units of different families never convert. Spellings are compared after
//! [`canonical_units`], so "m s-1", "m/s" and "ms-1" are one unit. A depth of liquid water
//! (m, mm) and an amount per area (kg m-2) convert into each other (1 mm = 1 kg m-2), as
//! ECMWF writes precipitation in m and NCEP in kg m-2.
//!
//! [`Display`] is the affine map a legend uses to show values in other units than the data's
//! (K as °C, Pa as hPa), and [`pretty`] spells units for people (m s⁻¹, W m⁻²).

use crate::render::palette::canonical_units;

/// Quantities whose units convert into each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Temperature,
    Pressure,
    Speed,
    /// Precipitation and other amounts per area: kg m-2 equals mm of water.
    Amount,
    /// Amounts per time: kg m-2 s-1 equals mm/s.
    Rate,
    Length,
    /// Geopotential: m2 s-2.
    Geopotential,
    /// Pressure change: Pa s-1 (omega).
    PressureRate,
    /// Dimensionless fractions: 1 and %.
    Fraction,
    /// Mass per mass: kg kg-1, g kg-1.
    MassRatio,
    /// Angles and directions: degrees ("degree true" is a direction in degrees).
    Angle,
}

/// The family of a unit and its map to the family's base unit.
fn unit(u: &str) -> Option<(Family, f64, f64)> {
    use Family::*;
    let c = canonical_units(u);
    Some(match c.as_str() {
        "k" | "kelvin" | "degk" => (Temperature, 1.0, 0.0),
        "degc" | "°c" | "c" | "celsius" | "deg_c" | "degreec" | "degreesc" | "degrees_celsius"
        | "degree_celsius" => (Temperature, 1.0, 273.15),
        "degf" | "°f" | "f" | "fahrenheit" | "deg_f" | "degrees_fahrenheit" => {
            (Temperature, 5.0 / 9.0, 273.15 - 32.0 * 5.0 / 9.0)
        }
        "pa" => (Pressure, 1.0, 0.0),
        "hpa" | "mbar" | "mb" | "millibar" => (Pressure, 100.0, 0.0),
        "kpa" => (Pressure, 1000.0, 0.0),
        "ms-1" | "mps" => (Speed, 1.0, 0.0),
        "kmh-1" | "kph" | "km/h" => (Speed, 1000.0 / 3600.0, 0.0),
        "kt" | "kts" | "knot" | "knots" => (Speed, 1852.0 / 3600.0, 0.0),
        "mph" | "mih-1" => (Speed, 1609.344 / 3600.0, 0.0),
        "kgm-2" | "mm" => (Amount, 1.0, 0.0),
        "kgm-2s-1" | "mms-1" => (Rate, 1.0, 0.0),
        "mmh-1" | "mm/h" => (Rate, 1.0 / 3600.0, 0.0),
        "mmday-1" | "mmd-1" => (Rate, 1.0 / 86400.0, 0.0),
        "m" | "gpm" | "metres" | "meters" => (Length, 1.0, 0.0),
        "km" => (Length, 1000.0, 0.0),
        "cm" => (Length, 0.01, 0.0),
        "dam" => (Length, 10.0, 0.0),
        "m2s-2" => (Geopotential, 1.0, 0.0),
        "pas-1" => (PressureRate, 1.0, 0.0),
        "hpah-1" => (PressureRate, 100.0 / 3600.0, 0.0),
        "1" | "fraction" | "(0-1)" | "0-1" => (Fraction, 1.0, 0.0),
        "%" | "percent" => (Fraction, 0.01, 0.0),
        "kgkg-1" => (MassRatio, 1.0, 0.0),
        "°" | "deg" | "degree" | "degrees" | "degreetrue" | "degree_true" | "degrees_true" => {
            (Angle, 1.0, 0.0)
        }
        "gkg-1" => (MassRatio, 0.001, 0.0),
        _ => return None,
    })
}

/// `v` in unit `from` expressed in unit `to`, or `None` when either unit is unknown or they
/// measure different quantities.
pub fn convert(v: f64, from: &str, to: &str) -> Option<f64> {
    if !from.trim().is_empty() && canonical_units(from) == canonical_units(to) {
        // The same unit, known here or not ("%", "dBZ").
        return Some(v);
    }
    let (fa, ka, oa) = water(unit(from)?);
    let (fb, kb, ob) = water(unit(to)?);
    (fa == fb).then(|| (v * ka + oa - ob) / kb)
}

/// A depth of liquid water as an amount per area: 1 m of water is 1000 kg m-2.
fn water((family, factor, offset): (Family, f64, f64)) -> (Family, f64, f64) {
    match family {
        Family::Length => (Family::Amount, factor * 1000.0, offset),
        _ => (family, factor, offset),
    }
}

/// How a legend shows a field's values: `shown = value * scale + offset`, in `units`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Display {
    pub units: String,
    pub scale: f64,
    pub offset: f64,
}

impl Display {
    /// Values shown as they are, in their own units.
    pub fn identity(units: &str) -> Display {
        Display {
            units: pretty(units),
            scale: 1.0,
            offset: 0.0,
        }
    }

    /// Values in `from` shown in `to` (spelled for people), or `None` when they do not
    /// convert.
    pub fn between(from: &str, to: &str) -> Option<Display> {
        let offset = convert(0.0, from, to)?;
        let scale = convert(1.0, from, to)? - offset;
        // Round away binary noise (1 - 273.15 + 273.15 is not exactly 1).
        let clean = |x: f64| {
            let r = (x * 1e9).round() / 1e9;
            if (r - x).abs() <= 1e-12 * x.abs().max(1.0) {
                r
            } else {
                x
            }
        };
        Some(Display {
            units: pretty(to),
            scale: clean(scale),
            offset: clean(offset),
        })
    }

    pub fn show(&self, v: f64) -> f64 {
        v * self.scale + self.offset
    }

    /// The value in data units that is shown as `shown`.
    pub fn unshow(&self, shown: f64) -> f64 {
        (shown - self.offset) / self.scale
    }
}

/// Units spelled for people: exponents as superscripts ("W m-2" and "W m**-2" → "W m⁻²"),
/// "m s-1" as "m/s", "degC" as "°C"; anything else unchanged.
pub fn pretty(u: &str) -> String {
    let t = u.trim();
    match canonical_units(t).as_str() {
        "ms-1" => return "m/s".into(),
        "degc" | "celsius" | "deg_c" | "degrees_celsius" | "degree_celsius" | "°c" => {
            return "°C".into()
        }
        "degf" | "fahrenheit" | "°f" => return "°F".into(),
        "kmh-1" => return "km/h".into(),
        "mmh-1" => return "mm/h".into(),
        _ => {}
    }
    let words: Vec<String> = t
        .split_whitespace()
        .map(|w| {
            let w = w.replace("**", "").replace('^', "");
            // A symbol then an integer exponent: "m-2", "s-1", "m2".
            let split = w
                .char_indices()
                .find(|(_, c)| c.is_ascii_digit() || *c == '-')
                .map(|(k, _)| k);
            match split {
                Some(k)
                    if k > 0 && w[..k].chars().all(char::is_alphabetic) && exponent(&w[k..]) =>
                {
                    let sup: String = w[k..].chars().map(superscript).collect();
                    format!("{}{sup}", &w[..k])
                }
                _ => w,
            }
        })
        .collect();
    words.join(" ")
}

/// An integer exponent: "2", "-1".
fn exponent(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

fn superscript(c: char) -> char {
    match c {
        '-' => '⁻',
        '1' => '¹',
        '2' => '²',
        '3' => '³',
        d => char::from_u32(0x2070 + d.to_digit(10).unwrap_or(0)).unwrap_or(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) {
        let a = a.expect("converts");
        assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} vs {b}");
    }

    #[test]
    fn temperatures_pressures_speeds_and_amounts_convert() {
        close(convert(223.15, "K", "degC"), -50.0);
        close(convert(323.15, "K", "Celsius"), 50.0);
        close(convert(273.15, "K", "°C"), 0.0);
        close(convert(0.0, "degC", "degF"), 32.0);
        close(convert(212.0, "degF", "K"), 373.15);
        close(convert(101_325.0, "Pa", "hPa"), 1013.25);
        close(convert(10.0, "m s-1", "km h-1"), 36.0);
        close(convert(1.0, "kt", "m/s"), 1852.0 / 3600.0);
        close(convert(5.0, "kg m-2", "mm"), 5.0);
        close(convert(1.0, "kg m-2 s-1", "mm/h"), 3600.0);
        close(convert(0.05, "m", "kg m-2"), 50.0);
        close(convert(0.5, "1", "%"), 50.0);
        close(convert(0.004, "kg kg-1", "g/kg"), 4.0);
        close(convert(1.0, "hPa/h", "Pa s-1"), 100.0 / 3600.0);
        close(convert(270.0, "Degree true", "°"), 270.0);
    }

    #[test]
    fn a_display_is_the_affine_map_between_units() {
        let d = Display::between("K", "°C").unwrap();
        assert_eq!((d.scale, d.offset), (1.0, -273.15));
        assert_eq!(d.show(273.15), 0.0);
        let d = Display::between("Pa", "hPa").unwrap();
        assert_eq!((d.scale, d.offset), (0.01, 0.0));
        assert_eq!(d.unshow(1000.0), 100_000.0);
        assert!(Display::between("K", "hPa").is_none());
        assert_eq!(
            Display::between("J kg**-1", "J kg-1").unwrap().units,
            "J kg⁻¹"
        );
    }

    #[test]
    fn units_are_spelled_for_people() {
        assert_eq!(pretty("W m-2"), "W m⁻²");
        assert_eq!(pretty("kg m**-2"), "kg m⁻²");
        assert_eq!(pretty("m**2 s**-2"), "m² s⁻²");
        assert_eq!(pretty("m s**-1"), "m/s");
        assert_eq!(pretty("degC"), "°C");
        assert_eq!(pretty("Celsius"), "°C");
        assert_eq!(pretty("K"), "K");
        assert_eq!(pretty("(Code table 4.222)"), "(Code table 4.222)");
        assert_eq!(pretty("Degree true"), "Degree true");
    }

    #[test]
    fn different_quantities_and_unknown_units_do_not_convert() {
        assert_eq!(convert(1.0, "K", "Pa"), None);
        assert_eq!(convert(1.0, "m s-1", "mm"), None);
        assert_eq!(convert(1.0, "furlong", "m"), None);
        assert_eq!(convert(1.0, "K", ""), None);
        assert_eq!(convert(1.0, "", ""), None);
        assert_eq!(convert(42.0, "%", "%"), Some(42.0));
        assert_eq!(convert(42.0, "dBZ", "dbz"), Some(42.0));
    }
}
