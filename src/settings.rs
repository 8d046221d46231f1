//! Render settings: validated once, hashed into the run id, recorded in the manifest.
//!
//! Only what changes rendered bytes belongs here. Where the outputs are published (the base
//! URL) is not a render setting: see [`crate::run::publish`].

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::geo::tiling::Tiling;
use crate::render::palette::PaletteSpec;
use crate::render::resample::Resample;

/// Everything that changes rendered bytes. Part of the run id, so changing any of it writes a
/// new run instead of overwriting an old one with different pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RenderSettings {
    pub tiling: Tiling,
    /// Inclusive zoom range; `None` chooses from each field's native resolution.
    pub zoom: Option<(u8, u8)>,
    pub resample: Resample,
    /// A built-in palette's name or a whole palette (never a path); `None` chooses per
    /// variable.
    pub palette: Option<PaletteSpec>,
    /// Colour range; `None` uses the palette's default range or the data range.
    pub range: Option<(f64, f64)>,
    /// Whole-field images beside the tiles. Left out of the JSON when off, so runs without
    /// images keep the run ids and job ids they had before the setting existed.
    #[serde(default, skip_serializing_if = "Images::is_none")]
    pub images: Images,
    /// The highest zoom of data tiles. Left out of the JSON at its default, like `images`.
    #[serde(default, skip_serializing_if = "DataZoom::is_native")]
    pub data_zoom: DataZoom,
    /// How tiles are published: files in directories, PMTiles archives or both. A setting
    /// (so part of the run id) because it decides which keys a run has and what its
    /// manifest says, and the keys of a run are immutable. Left out of the JSON at its
    /// default, like `images`.
    #[serde(default, skip_serializing_if = "OutputFormat::is_dir")]
    pub format: OutputFormat,
}

/// How a run's tiles are published ([`crate::run::archive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// `<layer>/{z}/{x}/{y}.png` and `<layer>/data/{z}/{x}/{y}.png` (the default).
    #[default]
    Dir,
    /// `<layer>.pmtiles` and `<layer>.data.pmtiles`, no tile files.
    Pmtiles,
    /// Both.
    Both,
}

impl OutputFormat {
    pub fn is_dir(&self) -> bool {
        *self == OutputFormat::Dir
    }

    /// Whether tiles are written as files.
    pub fn dirs(self) -> bool {
        self != OutputFormat::Pmtiles
    }

    /// Whether tiles go into archives.
    pub fn archives(self) -> bool {
        self != OutputFormat::Dir
    }

    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Dir => "dir",
            OutputFormat::Pmtiles => "pmtiles",
            OutputFormat::Both => "both",
        }
    }
}

/// Parses `dir`, `pmtiles` or `both`.
pub fn parse_format(s: &str) -> std::result::Result<OutputFormat, String> {
    match s.trim() {
        "dir" => Ok(OutputFormat::Dir),
        "pmtiles" => Ok(OutputFormat::Pmtiles),
        "both" => Ok(OutputFormat::Both),
        _ => Err(format!("bad format {s:?}: expected dir, pmtiles or both")),
    }
}

/// How deep data tiles go. Above a field's native zoom (where a tile pixel becomes smaller
/// than a grid cell) a data tile holds nothing a client's own bilinear overzoom of the tile
/// below would not give it, at the cost of most of a pyramid's bytes and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataZoom {
    /// Up to the layer's native zoom, within its zoom range (the default).
    #[default]
    Native,
    /// Every zoom of the layer, as colour tiles.
    All,
    /// Up to this zoom, within the layer's zoom range.
    Max(u8),
}

impl DataZoom {
    pub fn is_native(&self) -> bool {
        *self == DataZoom::Native
    }

    /// The highest data-tile zoom of a layer with zooms `minzoom..=maxzoom` whose grid's
    /// native zoom is `native`: never outside the layer's range, so the data TileJSON always
    /// has one.
    pub fn max_for(self, minzoom: u8, maxzoom: u8, native: u8) -> u8 {
        match self {
            DataZoom::Native => native.clamp(minzoom, maxzoom),
            DataZoom::All => maxzoom,
            DataZoom::Max(z) => z.clamp(minzoom, maxzoom),
        }
    }
}

/// Parses `native`, `all` or a zoom number.
pub fn parse_data_zoom(s: &str) -> std::result::Result<DataZoom, String> {
    match s.trim() {
        "native" => Ok(DataZoom::Native),
        "all" => Ok(DataZoom::All),
        n => match n.parse::<u8>() {
            Ok(z) if z <= MAX_ZOOM => Ok(DataZoom::Max(z)),
            _ => Err(format!(
                "bad data zoom {s:?}: expected native, all or a zoom from 0 to {MAX_ZOOM}"
            )),
        },
    }
}

/// Whole-field images a run writes per layer besides its tiles
/// ([`crate::run::images`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Images {
    /// None (the default).
    #[default]
    None,
    /// An equirectangular (plate carrée) 8-bit image of each layer's whole field, and a
    /// two-channel u/v image per wind pair, as WeatherLayers GL reads them.
    Equirect,
}

impl Images {
    pub fn is_none(&self) -> bool {
        *self == Images::None
    }
}

/// Highest zoom accepted: 2^24 tiles across is far beyond any weather grid.
pub const MAX_ZOOM: u8 = 24;

impl RenderSettings {
    pub fn validate(&self) -> Result<()> {
        if let Some((a, b)) = self.zoom {
            if a > b || b > MAX_ZOOM {
                return Err(Error::Settings(format!(
                    "zoom range {a}-{b} (need min <= max <= {MAX_ZOOM})"
                )));
            }
        }
        if let Some((a, b)) = self.range {
            check_range(a, b)?;
        }
        if let Some(p) = &self.palette {
            p.palette()?;
        }
        // A PMTiles tile id numbers the 4^z tiles of a square zoom; geographic tiles are
        // 2^(z+1) × 2^z (WorldCRS84Quad), which no archive reader would place.
        if self.format.archives() && self.tiling != Tiling::WebMercator {
            return Err(Error::Settings(format!(
                "--format {} needs --tiling webmercator: PMTiles archives hold square \
                 Web Mercator tile pyramids",
                self.format.name()
            )));
        }
        Ok(())
    }
}

/// Largest magnitude of a colour range end: far beyond any physical field, and small enough
/// that the range, its ticks and its legend stay finite numbers.
pub const MAX_RANGE_MAGNITUDE: f64 = 1e15;

/// A colour range: finite, ordered, with ends at most [`MAX_RANGE_MAGNITUDE`] and apart by
/// more than rounding.
fn check_range(a: f64, b: f64) -> Result<()> {
    let m = MAX_RANGE_MAGNITUDE;
    let ok = a.is_finite()
        && b.is_finite()
        && a.abs() <= m
        && b.abs() <= m
        && b - a > a.abs().max(b.abs()) * 1e-9;
    if ok {
        Ok(())
    } else {
        Err(Error::Settings(format!(
            "range {a:e}:{b:e} (need MIN < MAX, both within ±{m:e} and distinct to 9 digits)"
        )))
    }
}

/// Parses "0-5" or "3".
pub fn parse_zoom(s: &str) -> std::result::Result<(u8, u8), String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let p = |x: &str| {
        x.trim()
            .parse::<u8>()
            .map_err(|_| format!("bad zoom {s:?}: expected MIN-MAX, e.g. 0-5"))
    };
    Ok((p(a)?, p(b)?))
}

/// Parses "MIN:MAX" (negative numbers allowed: "-40:40").
pub fn parse_range(s: &str) -> std::result::Result<(f64, f64), String> {
    let k = s
        .get(1..)
        .unwrap_or("")
        .find(':')
        .map(|k| k + 1)
        .ok_or_else(|| format!("bad range {s:?}: expected MIN:MAX"))?;
    let p = |x: &str| {
        x.trim()
            .parse::<f64>()
            .map_err(|_| format!("bad range {s:?}: expected MIN:MAX"))
    };
    let (a, b) = (p(&s[..k])?, p(&s[k + 1..])?);
    check_range(a, b).map_err(|e| e.to_string())?;
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        assert_eq!(parse_zoom("0-5"), Ok((0, 5)));
        assert_eq!(parse_data_zoom("native"), Ok(DataZoom::Native));
        assert_eq!(parse_data_zoom("all"), Ok(DataZoom::All));
        assert_eq!(parse_data_zoom("4"), Ok(DataZoom::Max(4)));
        assert!(parse_data_zoom("25").is_err() && parse_data_zoom("deep").is_err());
        assert_eq!(DataZoom::Native.max_for(0, 5, 3), 3);
        assert_eq!(
            DataZoom::Native.max_for(4, 5, 3),
            4,
            "never below the layer's range"
        );
        assert_eq!(DataZoom::Native.max_for(0, 2, 3), 2, "never above it");
        assert_eq!(DataZoom::All.max_for(0, 5, 3), 5);
        assert_eq!(DataZoom::Max(9).max_for(0, 5, 3), 5);
        assert_eq!(parse_zoom("3"), Ok((3, 3)));
        assert!(parse_zoom("a-b").is_err());
        assert_eq!(parse_range("-40:40.5"), Ok((-40.0, 40.5)));
        assert!(parse_range("5").is_err());
    }

    /// Images off leaves the settings' JSON, and so every run id and job id, as it was before
    /// the setting existed; on, it is part of both.
    #[test]
    fn images_off_is_left_out_of_the_settings_json() {
        let off = RenderSettings::default();
        let json = serde_json::to_string(&off).unwrap();
        assert!(!json.contains("images"), "{json}");
        let back: RenderSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, off);
        let on = RenderSettings {
            images: Images::Equirect,
            ..Default::default()
        };
        let json = serde_json::to_string(&on).unwrap();
        assert!(json.contains(r#""images":"equirect""#), "{json}");
        assert_eq!(serde_json::from_str::<RenderSettings>(&json).unwrap(), on);
    }

    #[test]
    fn ranges_must_be_finite_ordered_and_distinct() {
        for (a, b) in [
            (-1e308, 1e308),
            (1.0, 1.0),
            (2.0, 1.0),
            (f64::NAN, 1.0),
            (0.0, f64::INFINITY),
            (1e12, 1e12 + 1e-6),
        ] {
            assert!(check_range(a, b).is_err(), "{a}:{b}");
        }
        for (a, b) in [
            (-40.0, 40.0),
            (0.0, 1e-6),
            (-1e15, 1e15),
            (101_000.0, 101_001.0),
        ] {
            assert!(check_range(a, b).is_ok(), "{a}:{b}");
        }
    }
}
