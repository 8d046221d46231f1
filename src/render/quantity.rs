//! Known quantities: what a field measures, told from its variable name, CF standard name and
//! units; the colour range that quantity gets at the field's level; the units people read it
//! in; and which range ends are physical bounds.
//!
//! Ranges come from the quantity and its level, never from the data, so every time step of a
//! series, and the same field in K or °C, in Pa or hPa, gets the same colours. They are given
//! in the quantity's display units and converted to the field's units ([`crate::render::units`]);
//! a field whose units do not convert to its quantity's is not taken to be that quantity.
//!
//! Levels are grouped into classes by the pressure they roughly sit at ([`Band`]): the surface
//! and the lowest 300 m; isobaric levels by their pressure, heights by the ICAO standard
//! atmosphere's pressure there; the tropopause, maximum-wind and potential-vorticity surfaces
//! as the upper troposphere; and levels whose height is not known (hybrid, isentropic,
//! unknown) as the whole atmosphere. ARCHITECTURE.md (3.1) tabulates the ranges.

use crate::decode::{FieldInfo, Level};
use crate::render::units::{self, Display};

/// Where a level sits, for choosing a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Band {
    /// The surface, the lowest 300 m, the sea surface, soil, fields without a level.
    Surface,
    /// Roughly this pressure in hPa.
    Pressure(f64),
    /// Low surfaces whose height varies (the 0 °C isotherm, cloud base).
    Low,
    /// Upper surfaces whose height varies (tropopause, maximum wind, -2 PVU).
    Upper,
    /// Anywhere in the atmosphere (hybrid, isentropic and unknown levels).
    Any,
}

impl Band {
    pub fn of(level: &Level) -> Band {
        let v = level.value;
        match level.kind.as_str() {
            "isobaric" => v.map_or(Band::Any, Band::Pressure),
            "height_above_ground" | "height_above_sea" => match v {
                Some(h) if h <= 300.0 => Band::Surface,
                Some(h) => Band::Pressure(isa_pressure(h)),
                None => Band::Surface,
            },
            "sigma" => match v {
                Some(s) if s < 0.9 => Band::Pressure(s * 1000.0),
                _ => Band::Surface,
            },
            "tropopause" | "max_wind" | "potential_vorticity" => Band::Upper,
            "nominal_top" => Band::Pressure(50.0),
            "surface"
            | "single"
            | "mean_sea"
            | "depth_below_land"
            | "depth_below_sea"
            | "depth"
            | "soil_layer"
            | "pressure_from_ground"
            | "entire_atmosphere" => Band::Surface,
            "isotherm_zero" | "cloud_base" => Band::Low,
            _ => Band::Any,
        }
    }

    /// Pressure in hPa: the surface at 1000, low surfaces at 700, upper ones at 250, and
    /// `Any` at `any`.
    fn hpa(self, any: f64) -> f64 {
        match self {
            Band::Surface => 1000.0,
            Band::Pressure(p) => p,
            Band::Low => 700.0,
            Band::Upper => 250.0,
            Band::Any => any,
        }
    }
}

/// Pressure (hPa) of the ICAO standard atmosphere at a height (m).
pub fn isa_pressure(h: f64) -> f64 {
    if h <= 11_000.0 {
        1013.25 * (1.0 - h / 44_330.8).max(0.0).powf(1.0 / 0.190_263)
    } else {
        226.32 * (-(h - 11_000.0) / 6_341.6).exp()
    }
}

/// Height (m) of the ICAO standard atmosphere at a pressure (hPa).
pub fn isa_height(p: f64) -> f64 {
    if p >= 226.32 {
        44_330.8 * (1.0 - (p / 1013.25).powf(0.190_263))
    } else {
        11_000.0 + 6_341.6 * (226.32 / p.max(1e-3)).ln()
    }
}

/// A quantity tilecast knows the range of.
#[derive(Debug)]
pub struct Quantity {
    /// Machine name (the CF standard name where one fits), e.g. `air_temperature`.
    pub key: &'static str,
    /// Name for people when the file has none better, e.g. "Air temperature".
    pub title: &'static str,
    /// The built-in palette.
    pub palette: &'static str,
    /// Units of the ranges and of legends, e.g. `°C`.
    pub units: &'static str,
    /// Physical lower and upper bounds in `units` (what values can be): a range end at a
    /// bound gets no extend arrow, since no real value lies beyond it; values past a bound
    /// are packing noise or fill.
    pub bounds: (Option<f64>, Option<f64>),
    /// Signed, centred on zero: diverging palette, symmetric range.
    pub signed: bool,
    /// Lower-case variable names (GRIB short names, NetCDF names).
    names: &'static [&'static str],
    standard_names: &'static [&'static str],
    /// Extra condition on the field (e.g. geopotential height at the surface is orography).
    when: Option<fn(&FieldInfo) -> bool>,
    /// The range in `units` for a level band.
    range: fn(Band) -> (f64, f64),
}

// Conditions and ranges the table uses.

fn at_surface(i: &FieldInfo) -> bool {
    matches!(i.level.kind.as_str(), "surface" | "single")
}

/// A height of the ground: named so, or a height at the GRIB surface level, or a NetCDF
/// height without a level that is not called geopotential.
fn terrain(i: &FieldInfo) -> bool {
    let l = i.long_name.to_lowercase();
    l.contains("terrain")
        || l.contains("orograph")
        || i.level.kind == "surface"
        || (i.level.kind == "single" && !l.contains("geopot"))
}

/// Geopotential of the ground: at the surface, or ECMWF's convention of archiving it on
/// model level 1 (with the log of surface pressure).
fn surface_geopotential(i: &FieldInfo) -> bool {
    let name = i.variable.to_lowercase();
    at_surface(i)
        || (i.level.kind == "hybrid"
            && i.level.value == Some(1.0)
            && matches!(name.as_str(), "z" | "gp"))
}

/// Air temperature (°C) by band: wide enough for every season and latitude at that height.
fn temperature(b: Band) -> (f64, f64) {
    match b {
        Band::Any => (-100.0, 50.0),
        Band::Upper => (-90.0, -10.0),
        _ => match b.hpa(1000.0) {
            p if p >= 700.0 => (-50.0, 50.0),
            p if p >= 500.0 => (-60.0, 20.0),
            p if p >= 300.0 => (-70.0, 0.0),
            p if p >= 150.0 => (-90.0, -10.0),
            _ => (-100.0, -20.0),
        },
    }
}

/// Wind (m/s) by band: ±30 near the ground, up to ±80 at jet level.
fn wind_limit(b: Band) -> f64 {
    match b.hpa(100.0) {
        p if p >= 850.0 => 30.0,
        p if p >= 500.0 => 50.0,
        _ => 80.0,
    }
}

/// Geopotential height (m): at an isobaric level the standard atmosphere's height there,
/// widened by 7% and 400 m each side, in steps of 100 m; -1..6 km on low surfaces (0 °C
/// isotherm, cloud base; below 0 where a model extrapolates under the ground), 0..20 km on upper ones (maximum wind), the troposphere elsewhere.
fn height(b: Band) -> (f64, f64) {
    match b {
        Band::Pressure(p) => {
            let z = isa_height(p);
            let d = 0.07 * z.abs() + 400.0;
            (
                ((z - d) / 100.0).floor() * 100.0,
                ((z + d) / 100.0).ceil() * 100.0,
            )
        }
        Band::Low => (-1000.0, 6000.0),
        Band::Upper => (0.0, 20_000.0),
        Band::Surface | Band::Any => (0.0, 16_000.0),
    }
}

/// Words in a long name that make it a derived quantity (an anomaly, a tendency, a
/// perturbation...) rather than the quantity itself, even under the same short name.
const DERIVED: &[&str] = &[
    "anomal",
    "perturbation",
    "potential temperature",
    "tendency",
    "difference",
    "departure",
    "deviation",
    "variance",
    "spread",
    "error",
    "pot temp",
];

/// Whether a field is a signed departure from something (an anomaly, a difference, a
/// tendency): drawn diverging around zero with a symmetric range.
pub fn is_departure(info: &FieldInfo) -> bool {
    let text = format!(
        "{} {}",
        info.long_name.to_lowercase(),
        info.standard_name.as_deref().unwrap_or("").to_lowercase()
    );
    ["anomal", "difference", "departure", "tendency"]
        .iter()
        .any(|w| text.contains(w))
}

/// The quantity a field holds, when tilecast knows it.
pub fn identify(info: &FieldInfo) -> Option<&'static Quantity> {
    let name = info.variable.to_lowercase();
    let standard = info.standard_name.as_deref().unwrap_or("").to_lowercase();
    let long = info.long_name.to_lowercase();
    let derived = DERIVED
        .iter()
        .any(|w| long.contains(w) || standard.contains(w));
    QUANTITIES.iter().find(|q| {
        let named = q.names.contains(&name.as_str())
            || (!standard.is_empty() && q.standard_names.contains(&standard.as_str()));
        named && !derived && units_fit(&info.units, q.units) && q.when.is_none_or(|when| when(info))
    })
}

/// Whether values in `units` can be shown in the quantity's `display` units.
fn units_fit(units: &str, display: &str) -> bool {
    units::convert(1.0, units, display).is_some()
}

impl Quantity {
    /// The colour range in display units at a level; symmetric around zero for signed
    /// quantities.
    pub fn range(&self, level: &Level) -> (f64, f64) {
        (self.range)(Band::of(level))
    }

    /// How a legend shows values in `units`: in the quantity's units.
    pub fn display(&self, units: &str) -> Display {
        Display::between(units, self.units).unwrap_or_else(|| Display::identity(units))
    }
}

mod table;

pub use table::QUANTITIES;

#[cfg(test)]
mod tests;
