//! Converting values between the units weather files write for the same quantity, so a
//! palette's range in one unit colours a field in another the same way (a temperature in K,
//! °C or °F; a pressure in Pa or hPa; a speed in m/s, km/h or knots; an amount in kg m-2 or
//! mm).
//!
//! Each known unit is an affine map to its family's base unit (`base = value * factor +
//! offset`); units of different families never convert. Spellings are compared after
//! [`canonical_units`], so "m s-1", "m/s" and "ms-1" are one unit.

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
        "m" => (Length, 1.0, 0.0),
        "km" => (Length, 1000.0, 0.0),
        "cm" => (Length, 0.01, 0.0),
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
    let (fa, ka, oa) = unit(from)?;
    let (fb, kb, ob) = unit(to)?;
    (fa == fb).then(|| (v * ka + oa - ob) / kb)
}

#[cfg(test)]
mod tests {
    use super::convert;

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
