//! What a request path names: a file of the viewer, an object of the output tree (and what
//! kind of document it is), or nothing that may be served.
//!
//! The path is percent-decoded once, strictly: a `%` without two hex digits, bytes that are
//! not UTF-8, a NUL, a backslash, an empty segment (`//`), and `.` or `..` segments (however
//! encoded: `%2e%2e` decodes to `..` before the check) are malformed (400). A segment
//! starting with `.` names bookkeeping (`.tilecast/`) or a hidden file, which are never
//! served (404). What is left is a key relative to the output root, so no request can name a
//! file outside it; symbolic links that leave the root are refused where objects are read.

/// Longest request path accepted, in bytes (a tile key is under 100).
pub const MAX_PATH_BYTES: usize = 2048;

/// A request path, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A file of the built-in viewer by its published path (`index.html`, `viewer/...`).
    Viewer(String),
    /// An object of the output tree.
    Object { key: String, kind: Kind },
}

/// What an object of the output tree is, as far as serving it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `catalog.json`: URLs relative to the output root, made absolute.
    Catalog,
    /// `<run>/style.json`: source URLs relative to the output root, made absolute.
    Style,
    /// A layer's TileJSON: tile URLs relative to the document, made absolute.
    TileJson,
    /// A tile of a layer: `<run>/<layer>/[data/]{z}/{x}/{y}.png`.
    Tile(TileRef),
    /// Anything else, served as it is stored.
    Plain,
}

/// The parts of a tile key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileRef {
    pub run: String,
    pub layer: String,
    pub data: bool,
    pub z: u32,
    pub x: u64,
    pub y: u64,
}

impl TileRef {
    /// The key of the layer's TileJSON that lists this tile.
    pub fn tilejson_key(&self) -> String {
        let data = if self.data { "data/" } else { "" };
        format!("{}/{}/{data}tilejson.json", self.run, self.layer)
    }
}

/// Why a path cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed: 400.
    BadRequest(&'static str),
    /// Hidden (bookkeeping, dot files): 404, as if absent.
    Hidden,
}

/// Resolves the path of a request (without its query).
pub fn route(path: &str) -> Result<Route, Refusal> {
    if path.len() > MAX_PATH_BYTES {
        return Err(Refusal::BadRequest("path too long"));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Refusal::BadRequest("path does not start with /"));
    };
    let decoded = percent_decode(rest)?;
    if decoded.is_empty() || decoded == "index.html" {
        return Ok(Route::Viewer("index.html".into()));
    }
    if decoded.contains(['\0', '\\']) {
        return Err(Refusal::BadRequest("NUL or backslash in path"));
    }
    let segments: Vec<&str> = decoded.split('/').collect();
    for s in &segments {
        match *s {
            "" => return Err(Refusal::BadRequest("empty path segment")),
            "." | ".." => return Err(Refusal::BadRequest("dot segment in path")),
            s if s.starts_with('.') => return Err(Refusal::Hidden),
            _ => {}
        }
    }
    if segments[0] == "viewer" {
        return Ok(Route::Viewer(decoded));
    }
    let kind = kind_of(&segments);
    Ok(Route::Object { key: decoded, kind })
}

fn is_run_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn kind_of(seg: &[&str]) -> Kind {
    match seg {
        ["catalog.json"] => Kind::Catalog,
        [run, "style.json"] if is_run_id(run) => Kind::Style,
        [run, _, "tilejson.json"] | [run, _, "data", "tilejson.json"] if is_run_id(run) => {
            Kind::TileJson
        }
        [run, layer, z, x, y] if is_run_id(run) => tile(run, layer, false, z, x, y),
        [run, layer, "data", z, x, y] if is_run_id(run) => tile(run, layer, true, z, x, y),
        _ => Kind::Plain,
    }
}

fn tile(run: &str, layer: &str, data: bool, z: &str, x: &str, y: &str) -> Kind {
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let parsed = (|| {
        let z = u32::try_from(number(z)?).ok().filter(|z| *z <= 30)?;
        let x = number(x)?;
        let y = number(y.strip_suffix(".png")?)?;
        // Geographic tilings have 2 columns at zoom 0.
        (x < 2u64 << z && y < 1u64 << z).then_some((z, x, y))
    })();
    match parsed {
        Some((z, x, y)) => Kind::Tile(TileRef {
            run: run.into(),
            layer: layer.into(),
            data,
            z,
            x,
            y,
        }),
        None => Kind::Plain,
    }
}

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_decode(s: &str) -> Result<String, Refusal> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
            match (hex(b.get(i + 1)), hex(b.get(i + 2))) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err(Refusal::BadRequest("'%' not followed by two hex digits")),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Refusal::BadRequest("path is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "0123456789abcdef";

    fn object(path: &str) -> (String, Kind) {
        match route(path) {
            Ok(Route::Object { key, kind }) => (key, kind),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn the_viewer_is_at_the_root() {
        assert_eq!(route("/"), Ok(Route::Viewer("index.html".into())));
        assert_eq!(route("/index.html"), Ok(Route::Viewer("index.html".into())));
        assert_eq!(
            route("/viewer/viewer.js"),
            Ok(Route::Viewer("viewer/viewer.js".into()))
        );
    }

    #[test]
    fn documents_and_tiles_are_recognised() {
        assert_eq!(object("/catalog.json").1, Kind::Catalog);
        assert_eq!(object(&format!("/{RUN}/style.json")).1, Kind::Style);
        assert_eq!(
            object(&format!("/{RUN}/t_2m/tilejson.json")).1,
            Kind::TileJson
        );
        assert_eq!(
            object(&format!("/{RUN}/t_2m/data/tilejson.json")).1,
            Kind::TileJson
        );
        let (key, kind) = object(&format!("/{RUN}/t_2m/data/3/7/2.png"));
        assert_eq!(key, format!("{RUN}/t_2m/data/3/7/2.png"));
        let Kind::Tile(t) = kind else {
            panic!("{kind:?}")
        };
        assert_eq!((t.data, t.z, t.x, t.y), (true, 3, 7, 2));
        assert_eq!(t.tilejson_key(), format!("{RUN}/t_2m/data/tilejson.json"));
        let Kind::Tile(t) = object(&format!("/{RUN}/t_2m/0/1/0.png")).1 else {
            panic!()
        };
        assert!(!t.data && t.x == 1, "geographic zoom 0 has two columns");
        // Out of the tile matrix, not a number, not a run: plain objects (404 if absent).
        for p in [
            "/{R}/t/1/4/0.png",
            "/{R}/t/1/0/2.png",
            "/{R}/t/a/0/0.png",
            "/nothex/t/0/0/0.png",
        ] {
            assert_eq!(object(&p.replace("{R}", RUN)).1, Kind::Plain, "{p}");
        }
        assert_eq!(object(&format!("/{RUN}/manifest.json")).1, Kind::Plain);
    }

    #[test]
    fn escapes_from_the_root_are_malformed() {
        for p in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc",
            "/a/%2e/b",
            "//etc/passwd",
            "/a//b",
            "/a%2f%2fb",
            "/a%5cb",
            "/a%00b",
            "/%zz",
            "/%2",
            "/%c3%28",
            "relative",
        ] {
            assert!(
                matches!(route(p), Err(Refusal::BadRequest(_))),
                "{p}: {:?}",
                route(p)
            );
        }
        assert!(route(&format!("/{}", "a".repeat(MAX_PATH_BYTES))).is_err());
    }

    #[test]
    fn bookkeeping_and_dot_files_are_hidden() {
        for p in [
            "/.tilecast/locks/x",
            "/%2etilecast/plan.json",
            "/a/.hidden",
            "/.env",
        ] {
            assert_eq!(route(p), Err(Refusal::Hidden), "{p}");
        }
    }

    #[test]
    fn encoded_characters_decode_once() {
        // %2541 is "%41" after one decoding, which is not decoded again.
        assert_eq!(object("/a%2541.json").0, "a%41.json");
        assert_eq!(object("/caf%C3%A9.png").0, "café.png");
    }
}
