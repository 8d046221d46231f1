//! Publication: the public base URL of the output root and the TileJSON documents that tell
//! map clients where a layer's tiles are and how to read them.
//!
//! The base URL (`--base-url`) is publication metadata, not a render setting: the plan and
//! the jobs carry it beside the [`crate::settings::RenderSettings`], it is hashed into no run
//! id and no job id, and it changes only the TileJSON documents and the manifest's
//! `base_url`, never a tile. Each layer gets two TileJSON 3.0.0 documents: one for its colour
//! tiles and one for its data tiles, which also carries the data encoding and MapLibre's
//! `raster-dem` custom decoding parameters. TileJSON bounds are made acceptable to every
//! client here ([`client_bounds`]); the contract is docs/ARCHITECTURE.md §3.3.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::decode::FieldInfo;
use crate::geo::grid::norm180;
use crate::geo::tiling::{Tiling, MERCATOR_MAX_LAT};
use crate::render::encode::DataScale;
use crate::render::legend::{self, Legend};
use crate::run::archive::{COLOUR_ARCHIVE, DATA_ARCHIVE};
use crate::settings::OutputFormat;

/// The URL scheme the PMTiles protocol of map clients answers (`pmtiles://<archive URL>`).
pub const PMTILES_SCHEME: &str = "pmtiles://";

/// The public URL of the output root: an absolute `http://` or `https://` URL without query,
/// fragment or credentials, kept without a trailing slash. `<base>/<key>` is the public URL of
/// the output key `<key>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Longest base URL accepted, in bytes.
    pub const MAX_BYTES: usize = 2048;

    /// Validates and normalises (lowercase scheme, no trailing slash) a base URL. The error
    /// says what is wrong and what is expected.
    pub fn parse(s: &str) -> Result<BaseUrl, String> {
        let shown: String = s.chars().take(100).collect();
        let bad = |why: String| {
            Err(format!(
                "{shown:?} cannot be the public URL of the output root: {why} (expected an \
                 absolute http:// or https:// URL such as https://tiles.example.com/weather)"
            ))
        };
        if s.len() > Self::MAX_BYTES {
            return bad(format!("{} bytes, at most {}", s.len(), Self::MAX_BYTES));
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return bad("not an absolute URL".into());
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return bad(format!("scheme {scheme:?} is not http or https"));
        }
        if let Some(c) = rest.chars().find(|c| !url_char(*c)) {
            return bad(format!(
                "{c:?} must be percent-encoded (only RFC 3986 characters are allowed)"
            ));
        }
        if rest.contains(['?', '#']) {
            return bad("a query or fragment cannot be followed by tile paths".into());
        }
        let bytes = rest.as_bytes();
        for (k, _) in rest.match_indices('%') {
            let hex = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
            if !hex(k + 1) || !hex(k + 2) {
                return bad("a '%' not followed by two hex digits".into());
            }
        }
        let authority = rest.split('/').next().unwrap_or("");
        if authority.is_empty() {
            return bad("no host".into());
        }
        if authority.contains('@') {
            return bad("credentials do not belong in a public URL".into());
        }
        Ok(BaseUrl(format!(
            "{scheme}://{}",
            rest.trim_end_matches('/')
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The public URL of an output key (relative to the output root).
    pub fn join(&self, key: &str) -> String {
        format!("{}/{key}", self.0)
    }
}

/// RFC 3986 unreserved, reserved and `%`: everything a URL may hold unencoded.
fn url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

impl TryFrom<String> for BaseUrl {
    type Error = String;
    fn try_from(s: String) -> Result<BaseUrl, String> {
        BaseUrl::parse(&s)
    }
}

impl From<BaseUrl> for String {
    fn from(u: BaseUrl) -> String {
        u.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of the manifest's and the data TileJSON's `data_encoding.formula`.
pub const DATA_FORMULA: &str = "value = offset + scale * (R * 256 + G); A = 0 where missing";

/// How a layer's data tiles encode values (docs/ARCHITECTURE.md §3.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataEncoding {
    pub formula: String,
    pub scale: f64,
    pub offset: f64,
    pub units: String,
}

impl DataEncoding {
    pub fn of(data: DataScale, units: &str) -> DataEncoding {
        DataEncoding {
            formula: DATA_FORMULA.into(),
            scale: data.scale,
            offset: data.offset,
            units: units.into(),
        }
    }
}

/// MapLibre GL JS's `raster-dem` source parameters for `encoding: "custom"`, which decodes
/// `R * redFactor + G * greenFactor + B * blueFactor - baseShift` and ignores alpha.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemEncoding {
    pub encoding: &'static str,
    pub red_factor: f64,
    pub green_factor: f64,
    pub blue_factor: f64,
    pub base_shift: f64,
}

impl DemEncoding {
    /// The parameters that decode data tiles: `256 * scale`, `scale`, and `-offset` (MapLibre
    /// subtracts the shift). B is always 0, so `blueFactor` changes no decoded value; it is
    /// `scale / 256` rather than 0 because MapLibre's `color-relief` layer divides by the
    /// smallest factor when it packs its colour stops.
    pub fn of(data: &DataEncoding) -> DemEncoding {
        DemEncoding {
            encoding: "custom",
            red_factor: 256.0 * data.scale,
            green_factor: data.scale,
            blue_factor: data.scale / 256.0,
            // Not `-offset`: an offset of 0 would give -0.0.
            base_shift: 0.0 - data.offset,
        }
    }

    /// The value MapLibre decodes from a pixel.
    pub fn decode(&self, r: u8, g: u8, b: u8) -> f64 {
        r as f64 * self.red_factor + g as f64 * self.green_factor + b as f64 * self.blue_factor
            - self.base_shift
    }
}

/// A TileJSON 3.0.0 document of a layer's colour or data tiles.
#[derive(Debug, Clone, Serialize)]
pub struct TileJson {
    pub tilejson: &'static str,
    pub name: String,
    pub description: String,
    pub version: &'static str,
    pub scheme: &'static str,
    pub tiles: Vec<String>,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// Client-safe: see [`client_bounds`].
    pub bounds: [f64; 4],
    /// Longitude, latitude (inside `bounds`) and zoom (`minzoom`).
    pub center: (f64, f64, u8),
    pub attribution: String,
    /// Not part of TileJSON: the tile matrix set, since geographic tiles are not Web Mercator.
    pub crs: String,
    /// Text or HTML: see [`legend_html`].
    pub legend: String,
    /// Data tiles only: MapLibre `raster-dem` members at the top level.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub dem: Option<DemEncoding>,
    /// Data tiles only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_encoding: Option<DataEncoding>,
    /// The PMTiles archive of these tiles (`--format pmtiles|both`), by the same rule as
    /// `tiles`: absolute with a base URL, else relative to this document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pmtiles: Option<String>,
}

/// What a layer's TileJSON documents are made from.
pub struct LayerDocs<'a> {
    pub run: &'a str,
    pub layer: &'a str,
    pub base_url: Option<&'a BaseUrl>,
    pub tiling: Tiling,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// The data tiles' highest zoom (the data document's `maxzoom`; clients overzoom).
    pub data_maxzoom: u8,
    /// The data's true extent, west > east across the antimeridian.
    pub bounds: [f64; 4],
    pub info: &'a FieldInfo,
    /// The colour range, in the field's units.
    pub range: [f64; 2],
    pub data: &'a DataEncoding,
    /// The layer's legend: its heading, display units and conversion.
    pub legend: &'a Legend,
    /// Where the tiles are: with archives only, `tiles` reads them through the archive.
    pub format: OutputFormat,
}

impl LayerDocs<'_> {
    /// The colour tiles' document (`<layer>/tilejson.json`) and the data tiles' document
    /// (`<layer>/data/tilejson.json`). Without a base URL, tile URLs are relative to each
    /// document's own directory.
    pub fn tilejsons(&self) -> (TileJson, TileJson) {
        let info = self.info;
        let key = |rel: &str| format!("{}/{}/{rel}", self.run, self.layer);
        let url = |rel: &str| match self.base_url {
            Some(b) => b.join(&key(rel)),
            None => rel.to_string(),
        };
        let bounds = client_bounds(self.bounds, self.tiling);
        let (lon, lat) = center(self.bounds, bounds);
        let legend_png = self.base_url.map(|b| b.join(&key("legend.png")));
        let description = format!(
            "{} ({}) at {}, valid {}",
            info.long_name,
            info.units,
            info.level.label,
            info.valid_time.as_deref().unwrap_or("unknown")
        );
        let colour = TileJson {
            tilejson: "3.0.0",
            name: self.layer.to_string(),
            description: description.clone(),
            version: "1.0.0",
            scheme: "xyz",
            tiles: vec![url("{z}/{x}/{y}.png")],
            minzoom: self.minzoom,
            maxzoom: self.maxzoom,
            bounds,
            center: (lon, lat, self.minzoom),
            attribution: String::new(),
            crs: self.tiling.crs().into(),
            legend: legend_html(
                &self.legend.heading(),
                &self.legend.display.units,
                self.range.map(|v| self.legend.display.show(v)),
                legend_png.as_deref(),
            ),
            dem: None,
            data_encoding: None,
            pmtiles: None,
        };
        let mut data = TileJson {
            name: format!("{} (data)", self.layer),
            description: format!("{description}; data tiles: {DATA_FORMULA}"),
            tiles: vec![match self.base_url {
                Some(_) => url("data/{z}/{x}/{y}.png"),
                None => "{z}/{x}/{y}.png".into(),
            }],
            maxzoom: self.data_maxzoom,
            dem: Some(DemEncoding::of(self.data)),
            data_encoding: Some(self.data.clone()),
            ..colour.clone()
        };
        let mut colour = colour;
        if self.format.archives() {
            colour.pmtiles = Some(url(COLOUR_ARCHIVE));
            data.pmtiles = Some(match self.base_url {
                Some(_) => url(DATA_ARCHIVE),
                None => format!("../{DATA_ARCHIVE}"),
            });
        }
        // Without tile files, clients with the PMTiles protocol read the tiles from the
        // archive: `pmtiles://<archive URL>/{z}/{x}/{y}` (the protocol's tile template).
        if !self.format.dirs() {
            for tj in [&mut colour, &mut data] {
                let archive = tj.pmtiles.clone().expect("set above");
                tj.tiles = vec![format!("{PMTILES_SCHEME}{archive}/{{z}}/{{x}}/{{y}}")];
            }
        }
        (colour, data)
    }
}

/// TileJSON bounds every client accepts, from a layer's true extent `[west, south, east,
/// north]` (west > east across the antimeridian). TileJSON 3.0.0 limits longitudes to
/// ±180 and forbids bounds that wrap around the antimeridian, and MapLibre GL JS clamps east
/// to 180 and requests no tile when west > east; so an extent that crosses the antimeridian
/// gets the whole longitude range. Latitudes are clamped to the tiling's (±85.0511° for Web
/// Mercator, ±90° for geographic tiles).
pub fn client_bounds(bounds: [f64; 4], tiling: Tiling) -> [f64; 4] {
    if !bounds.iter().all(|v| v.is_finite()) {
        return [-180.0, -lat_limit(tiling), 180.0, lat_limit(tiling)];
    }
    let [w, s, e, n] = bounds;
    let limit = lat_limit(tiling);
    let (s, n) = (s.min(n).clamp(-limit, limit), s.max(n).clamp(-limit, limit));
    let (w, e) = match lon_span(w, e) {
        Some((w, e)) if e <= 180.0 => (w, e),
        _ => (-180.0, 180.0),
    };
    [w, s, e, n]
}

fn lat_limit(tiling: Tiling) -> f64 {
    match tiling {
        Tiling::WebMercator => MERCATOR_MAX_LAT,
        Tiling::Geographic => 90.0,
    }
}

/// The extent's west and east with `west <= east` and `west` in [-180, 180): east is past
/// 180 across the antimeridian, and exactly 180 for an extent that ends there (180
/// normalises to -180). `None` for the whole circle or a non-finite extent.
fn lon_span(w: f64, e: f64) -> Option<(f64, f64)> {
    if !(w.is_finite() && e.is_finite()) || e - w >= 360.0 {
        return None;
    }
    // Values already in range are kept bit for bit.
    let norm = |x: f64| {
        if (-180.0..180.0).contains(&x) {
            x
        } else {
            norm180(x)
        }
    };
    let (w, e) = (norm(w), norm(e));
    Some((w, if e < w { e + 360.0 } else { e }))
}

/// The centre of the true extent, moved inside the client bounds.
fn center(extent: [f64; 4], client: [f64; 4]) -> (f64, f64) {
    let [w, _, e, _] = extent;
    let lon = lon_span(w, e).map_or(0.0, |(w, e)| norm180((w + e) / 2.0));
    (
        lon.clamp(client[0], client[2]),
        (client[1] + client[3]) / 2.0,
    )
}

/// The TileJSON `legend`: `<heading> (<units>): <min> to <max>` (the legend's heading and
/// display units, the colour range as shown there), escaped for HTML since
/// clients may show it as HTML (names and units come from the input file), followed by an
/// `<img>` of the legend PNG when its public URL is known.
pub fn legend_html(long_name: &str, units: &str, range: [f64; 2], png: Option<&str>) -> String {
    let name = escape_html(long_name);
    let mut s = name.clone();
    if !units.is_empty() {
        s.push_str(&format!(" ({})", escape_html(units)));
    }
    s.push_str(&format!(
        ": {} to {}",
        legend::label(range[0]),
        legend::label(range[1])
    ));
    if let Some(url) = png {
        s.push_str(&format!(
            "<br><img src=\"{}\" alt=\"{name} legend\">",
            escape_html(url)
        ));
    }
    s
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
