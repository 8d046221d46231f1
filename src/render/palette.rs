//! Palettes: colour ramps kept as data files (JSON), the built-in ones embedded at compile
//! time, chosen automatically from the variable or named by the user.
//!
//! Palettes travel by value: render settings (and so job messages) carry a built-in name or
//! the whole definition ([`PaletteSpec`]), never a path, so a worker or the ledger never reads
//! a file a message names. `--palette FILE` is read once, on the command line, bounded.
//!
//! A palette maps a position in [0, 1] across a value range to a colour. For tiles it is
//! turned into a 256-entry indexed-colour table (entry 0 transparent for missing values):
//! a palette never needs more colours than that, and indexed PNGs are a fraction of the size
//! of RGBA ones. Entries are shared equally between the palette's segments, so a segment that
//! spans a small part of the range (0.1 to 1 mm of rain) keeps as many shades as a wide one.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The built-in palettes: name and JSON text.
const BUILTIN: &[(&str, &str)] = &[
    ("viridis", include_str!("../../palettes/viridis.json")),
    ("turbo", include_str!("../../palettes/turbo.json")),
    (
        "temperature",
        include_str!("../../palettes/temperature.json"),
    ),
    ("sst", include_str!("../../palettes/sst.json")),
    (
        "precipitation",
        include_str!("../../palettes/precipitation.json"),
    ),
    ("wind_speed", include_str!("../../palettes/wind_speed.json")),
    (
        "wind_component",
        include_str!("../../palettes/wind_component.json"),
    ),
    ("diverging", include_str!("../../palettes/diverging.json")),
    ("pressure", include_str!("../../palettes/pressure.json")),
    (
        "relative_humidity",
        include_str!("../../palettes/relative_humidity.json"),
    ),
    (
        "cloud_cover",
        include_str!("../../palettes/cloud_cover.json"),
    ),
    (
        "reflectivity",
        include_str!("../../palettes/reflectivity.json"),
    ),
];

/// The palette used when no other fits.
pub const DEFAULT: &str = "viridis";

/// Largest palette file `--palette FILE` reads.
pub const MAX_PALETTE_BYTES: u64 = 64 * 1024;

/// Most stops a palette may have: each segment needs at least one of the 256 table entries.
pub const MAX_STOPS: usize = 250;

/// A palette definition as written in a palette file and carried in settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaletteDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_range: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub under: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<String>,
    /// (position in [0, 1], `#rrggbb` or `#rrggbbaa`).
    pub stops: Vec<(f64, String)>,
}

/// The palette render settings ask for: a built-in's name, or a whole definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PaletteSpec {
    Builtin(String),
    Inline(PaletteDef),
}

impl PaletteSpec {
    /// From a command-line value: a built-in name, else a palette file, read here (a regular
    /// file of at most [`MAX_PALETTE_BYTES`]) and carried by value from then on.
    pub fn from_arg(arg: &str) -> Result<PaletteSpec> {
        if Palette::builtin(arg).is_some() {
            return Ok(PaletteSpec::Builtin(arg.to_string()));
        }
        let path = Path::new(arg);
        if !path.exists() {
            return Err(Error::Palette {
                name: arg.to_string(),
                reason: format!(
                    "neither a built-in palette ({}) nor an existing file",
                    Palette::builtin_names().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        let bytes = crate::io::input::read_small(path, MAX_PALETTE_BYTES)?;
        let def: PaletteDef = serde_json::from_slice(&bytes).map_err(|e| Error::Palette {
            name: arg.to_string(),
            reason: e.to_string(),
        })?;
        Palette::from_def(&def, arg)?;
        Ok(PaletteSpec::Inline(def))
    }

    /// The palette, checked. Pure: reads nothing.
    pub fn palette(&self) -> Result<Palette> {
        match self {
            PaletteSpec::Builtin(name) => Palette::builtin(name).ok_or_else(|| Error::Palette {
                name: name.chars().take(64).collect(),
                reason: format!(
                    "not a built-in palette ({})",
                    Palette::builtin_names().collect::<Vec<_>>().join(", ")
                ),
            }),
            PaletteSpec::Inline(def) => Palette::from_def(def, "inline palette"),
        }
    }
}

pub type Rgba = [u8; 4];

/// A parsed palette.
#[derive(Debug, Clone, Serialize)]
pub struct Palette {
    pub name: String,
    pub units: Option<String>,
    pub default_range: Option<[f64; 2]>,
    pub variables: Vec<String>,
    #[serde(skip)]
    stops: Vec<(f64, Rgba)>,
    #[serde(skip)]
    under: Option<Rgba>,
    #[serde(skip)]
    over: Option<Rgba>,
}

fn parse_colour(s: &str) -> Option<Rgba> {
    let h = s.strip_prefix('#')?;
    let byte = |k: usize| u8::from_str_radix(h.get(k..k + 2)?, 16).ok();
    match h.len() {
        6 => Some([byte(0)?, byte(2)?, byte(4)?, 255]),
        8 => Some([byte(0)?, byte(2)?, byte(4)?, byte(6)?]),
        _ => None,
    }
}

/// `#rrggbbaa`.
pub fn hex(c: Rgba) -> String {
    format!("#{:02x}{:02x}{:02x}{:02x}", c[0], c[1], c[2], c[3])
}

impl Palette {
    /// Parses palette JSON; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Palette> {
        let f: PaletteDef = serde_json::from_str(text).map_err(|e| Error::Palette {
            name: origin.to_string(),
            reason: e.to_string(),
        })?;
        Palette::from_def(&f, origin)
    }

    /// Checks a definition and builds the palette; `origin` names it in errors.
    pub fn from_def(f: &PaletteDef, origin: &str) -> Result<Palette> {
        let bad = |reason: String| Error::Palette {
            name: origin.to_string(),
            reason,
        };
        if f.stops.len() < 2 || f.stops.len() > MAX_STOPS {
            return Err(bad(format!(
                "{} stops (need 2 to {MAX_STOPS})",
                f.stops.len()
            )));
        }
        let long = |s: &str| s.len() > 200;
        if long(&f.name)
            || f.units.as_deref().is_some_and(long)
            || f.variables.len() > 200
            || f.variables.iter().any(|v| long(v))
        {
            return Err(bad(
                "names, units and variables must be at most 200 characters (200 variables)".into(),
            ));
        }
        let mut stops = Vec::with_capacity(f.stops.len());
        for (k, (p, c)) in f.stops.iter().enumerate() {
            let colour =
                parse_colour(c).ok_or_else(|| bad(format!("stop {k}: bad colour {c:?}")))?;
            if !(0.0..=1.0).contains(p)
                || (k > 0 && *p <= stops.last().map(|s: &(f64, Rgba)| s.0).unwrap_or(-1.0))
            {
                return Err(bad(format!("stop {k}: positions must rise from 0 to 1")));
            }
            stops.push((*p, colour));
        }
        if stops[0].0 != 0.0 || stops[stops.len() - 1].0 != 1.0 {
            return Err(bad("stops must start at 0 and end at 1".into()));
        }
        if let Some([a, b]) = f.default_range {
            if !(a.is_finite() && b.is_finite() && a < b && (b - a).is_finite()) {
                return Err(bad(format!("default_range {a}..{b} is empty")));
            }
        }
        let colour = |o: &Option<String>| -> Result<Option<Rgba>> {
            o.as_deref()
                .map(|c| parse_colour(c).ok_or_else(|| bad(format!("bad colour {c:?}"))))
                .transpose()
        };
        Ok(Palette {
            name: f.name.clone(),
            units: f.units.clone(),
            default_range: f.default_range,
            variables: f.variables.iter().map(|v| v.to_lowercase()).collect(),
            under: colour(&f.under)?,
            over: colour(&f.over)?,
            stops,
        })
    }

    /// A built-in palette by name.
    pub fn builtin(name: &str) -> Option<Palette> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Palette::from_json(text, n).expect("built-in palettes are valid"))
    }

    /// Names of the built-in palettes.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(n, _)| *n)
    }

    /// The built-in palette whose variable list names this variable or standard name.
    pub fn for_variable(names: &[&str]) -> Palette {
        for (n, text) in BUILTIN {
            let p = Palette::from_json(text, n).expect("built-in palettes are valid");
            if names
                .iter()
                .any(|v| p.variables.iter().any(|pv| pv == &v.to_lowercase()))
            {
                return p;
            }
        }
        Palette::builtin(DEFAULT).expect("default palette exists")
    }

    /// Colour at position `t` in [0, 1] (linear interpolation between stops).
    pub fn colour_at(&self, t: f64) -> Rgba {
        let t = t.clamp(0.0, 1.0);
        let k = self
            .stops
            .partition_point(|s| s.0 <= t)
            .clamp(1, self.stops.len() - 1);
        let (p0, c0) = self.stops[k - 1];
        let (p1, c1) = self.stops[k];
        let f = if p1 > p0 { (t - p0) / (p1 - p0) } else { 0.0 };
        let mut c = [0u8; 4];
        for ch in 0..4 {
            c[ch] = (c0[ch] as f64 + (c1[ch] as f64 - c0[ch] as f64) * f).round() as u8;
        }
        c
    }

    /// The stops as (position, colour).
    pub fn stops(&self) -> &[(f64, Rgba)] {
        &self.stops
    }
}

/// A palette laid out as an indexed-colour table for one value range.
#[derive(Debug, Clone)]
pub struct ColourTable {
    pub min: f64,
    pub max: f64,
    /// 256 entries; entry 0 is transparent (missing value).
    pub entries: Vec<Rgba>,
    /// Per segment: (first index, number of entries).
    segments: Vec<(u16, u16)>,
    positions: Vec<f64>,
    under: Option<u8>,
    over: Option<u8>,
    /// For each of [`BUCKETS`] equal slices of [0, 1] in `t` (the value's position in the
    /// range), its one index when the indices at its two ends are equal (then the whole slice
    /// has it, the index being monotone in `t`), or [`MIXED`].
    single: Vec<u16>,
    /// `BUCKETS / (max - min)`: a value's position in slices; 0 when the range is empty.
    slices_per_unit: f64,
    /// The index of every value below `min` and above `max`.
    below: u8,
    above: u8,
}

/// A slice of [`ColourTable::single`] that holds more than one index.
const MIXED: u16 = u16::MAX;
/// How close (in slices) to a slice's edge [`ColourTable::indices`] leaves a value to the
/// exact [`ColourTable::index`]: its multiplication may differ from the division there by a
/// few ulps, 1e-12 slices at most.
const EDGE: f64 = 1e-9;

/// Slices of the colour range with precomputed indices (most hold a single index).
const BUCKETS: usize = 4096;

impl ColourTable {
    pub fn new(p: &Palette, min: f64, max: f64) -> ColourTable {
        let mut entries = vec![[0u8; 4]];
        let under = p.under.map(|c| {
            entries.push(c);
            (entries.len() - 1) as u8
        });
        let reserved_over = p.over.is_some() as usize;
        let available = 256 - entries.len() - reserved_over;
        let nseg = p.stops.len() - 1;
        let mut segments = Vec::with_capacity(nseg);
        for k in 0..nseg {
            let n = available / nseg + usize::from(k < available % nseg);
            let n = n.max(1);
            let first = entries.len();
            let (p0, _) = p.stops[k];
            let (p1, _) = p.stops[k + 1];
            for m in 0..n {
                let f = if n > 1 {
                    m as f64 / (n - 1) as f64
                } else {
                    0.5
                };
                entries.push(p.colour_at(p0 + (p1 - p0) * f));
            }
            segments.push((first as u16, n as u16));
        }
        let over = p.over.map(|c| {
            entries.push(c);
            (entries.len() - 1) as u8
        });
        entries.truncate(256);
        let mut table = ColourTable {
            min,
            max,
            entries,
            segments,
            positions: p.stops.iter().map(|s| s.0).collect(),
            under,
            over,
            single: Vec::new(),
            slices_per_unit: if max > min {
                BUCKETS as f64 / (max - min)
            } else {
                0.0
            },
            below: 0,
            above: 0,
        };
        let ends: Vec<u8> = (0..=BUCKETS)
            .map(|b| table.index_at(b as f64 / BUCKETS as f64))
            .collect();
        table.below = under.unwrap_or(ends[0]);
        table.above = over.unwrap_or(ends[BUCKETS]);
        table.single = ends
            .windows(2)
            .map(|w| if w[0] == w[1] { w[0] as u16 } else { MIXED })
            .collect();
        table
    }

    /// The colour indices of many values, each exactly [`ColourTable::index`]'s: the inner
    /// loop of every tile. A value well inside a slice with one index, or clearly outside the
    /// range, takes a multiplication and a table read; a missing one is 0; one within a
    /// rounding error of a slice's edge takes [`ColourTable::index`].
    pub fn indices(&self, values: &[f32]) -> Vec<u8> {
        let (min, k) = (self.min, self.slices_per_unit);
        let single = &self.single[..BUCKETS];
        let top = BUCKETS as f64;
        values
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    return 0;
                }
                // The sign of `v - min` is exact, and `k` is positive (or 0 for an empty
                // range, which leaves every value to the exact path).
                let x = (v as f64 - min) * k;
                if x > EDGE && x < top - EDGE {
                    // `as` would saturate (a dozen instructions a value on baseline x86-64,
                    // a fifth of the loop), which a value in (0, BUCKETS) never needs.
                    // SAFETY: `x` is finite and in (EDGE, BUCKETS - EDGE) here, so its
                    // truncation fits an i32.
                    let b: i32 = unsafe { x.to_int_unchecked() };
                    let f = x - b as f64;
                    let s = single[(b as usize).min(BUCKETS - 1)];
                    if s != MIXED && f > EDGE && f < 1.0 - EDGE {
                        return s as u8;
                    }
                } else if x < 0.0 {
                    return self.below;
                } else if x > top + EDGE {
                    return self.above;
                }
                self.index(v)
            })
            .collect()
    }

    /// Index of a value's colour; 0 for NaN.
    #[inline]
    pub fn index(&self, v: f32) -> u8 {
        if v.is_nan() {
            return 0;
        }
        let v = v as f64;
        if v < self.min {
            if let Some(u) = self.under {
                return u;
            }
        }
        if v > self.max {
            if let Some(o) = self.over {
                return o;
            }
        }
        let t = if self.max > self.min {
            ((v - self.min) / (self.max - self.min)).clamp(0.0, 1.0)
        } else {
            0.5
        };
        // The slice's index when both its ends have the same one (exact: the index only
        // grows with t); the search otherwise.
        let b = ((t * BUCKETS as f64) as usize).min(BUCKETS - 1);
        let one = self.single[b];
        if one != MIXED && t >= b as f64 / BUCKETS as f64 && t <= (b + 1) as f64 / BUCKETS as f64 {
            return one as u8;
        }
        self.index_at(t)
    }

    /// The index at position `t` in [0, 1] of the colour range.
    fn index_at(&self, t: f64) -> u8 {
        let k = self
            .positions
            .partition_point(|&p| p <= t)
            .clamp(1, self.positions.len() - 1)
            - 1;
        let (p0, p1) = (self.positions[k], self.positions[k + 1]);
        let (first, n) = self.segments[k];
        let f = if p1 > p0 { (t - p0) / (p1 - p0) } else { 0.0 };
        let m = ((f * (n - 1) as f64).round() as u16).min(n - 1);
        (first + m) as u8
    }

    pub fn colour(&self, v: f32) -> Rgba {
        self.entries[self.index(v) as usize]
    }
}

/// Canonical form of a unit string for comparisons ("m s-1", "m/s" and "ms-1" are equal).
pub fn canonical_units(u: &str) -> String {
    let u = u.trim().to_lowercase().replace("**", "").replace('^', "");
    let u = match u.split_once('/') {
        Some((a, b)) => format!("{a}{b}-1"),
        None => u,
    };
    u.replace([' ', '.', '*'], "")
}

#[cfg(test)]
#[path = "palette_tests.rs"]
mod tests;
