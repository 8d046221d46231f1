//! The viewer: the static map page (`viewer/` in the repository) and its pinned third-party
//! files (MapLibre GL JS, Natural Earth outlines; embedded by `build.rs`), as the binary
//! carries them.
//!
//! It owns the published layout of those files, `index.html` at the output root and
//! `viewer/<file>` beside it (ARCHITECTURE §3.1), and [`publish`], which writes them into an
//! output store next to `catalog.json` so the page works from any static host or bucket
//! website. It does not serve them: `tilecast serve` answers `/` and `/viewer/*` from
//! [`asset`]. The files change with the tilecast version, not with a run, so they are written
//! with `Cache-Control: no-cache`, unlike the immutable run keys.

use anyhow::Context;
use tilecast::io::store::{PutMeta, Store};

/// One file of the viewer.
pub struct Asset {
    /// Its key under the output root, and its path under the server's root.
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// Revalidated on every use: the files change with the tilecast version under the same keys.
const CACHE_CONTROL: &str = "no-cache";

macro_rules! own {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            bytes: include_bytes!(concat!("../../viewer/", $file)),
            content_type: $type,
        }
    };
}

macro_rules! npm {
    ($file:literal, $type:expr) => {
        Asset {
            path: concat!("viewer/", $file),
            bytes: include_bytes!(concat!(env!("OUT_DIR"), "/", $file)),
            content_type: $type,
        }
    };
}

static ASSETS: [Asset; 17] = [
    own!("index.html", "index.html", HTML),
    own!("viewer/viewer.js", "viewer.js", JS),
    own!("viewer/catalog.js", "catalog.js", JS),
    own!("viewer/layers.js", "layers.js", JS),
    own!("viewer/values.js", "values.js", JS),
    own!("viewer/land.js", "land.js", JS),
    own!("viewer/state.js", "state.js", JS),
    own!("viewer/ui.js", "ui.js", JS),
    own!("viewer/viewer.css", "viewer.css", CSS),
    own!("viewer/pmtiles.LICENSE.txt", "pmtiles.LICENSE.txt", TEXT),
    npm!("maplibre-gl.js", JS),
    npm!("maplibre-gl.css", CSS),
    npm!("maplibre-gl.LICENSE.txt", TEXT),
    npm!("pmtiles.js", JS),
    npm!("fflate.LICENSE.txt", TEXT),
    npm!("countries-110m.json", JSON),
    npm!("world-atlas.LICENSE.txt", TEXT),
];

/// Every file of the viewer.
pub fn assets() -> &'static [Asset] {
    &ASSETS
}

/// The file published at `path` ("index.html", "viewer/viewer.js", ...); `tilecast serve`
/// answers `/` and `/viewer/*` with it.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// Writes every file of the viewer under its path, skipping those whose stored bytes are
/// already the same (so a ledger restart or a second render rewrites nothing).
pub fn publish(store: &dyn Store) -> anyhow::Result<()> {
    for a in assets() {
        let stored = store
            .get(a.path)
            .with_context(|| format!("reading {}", store.url(a.path)))?;
        if stored.as_deref() == Some(a.bytes) {
            continue;
        }
        let meta = PutMeta {
            content_type: a.content_type,
            cache_control: Some(CACHE_CONTROL),
        };
        store
            .put(a.path, a.bytes.to_vec(), meta)
            .with_context(|| format!("publishing the viewer: {}", store.url(a.path)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilecast::io::store::LocalStore;

    #[test]
    fn every_asset_has_a_unique_published_path_and_a_content_type_of_its_kind() {
        let mut seen = std::collections::BTreeSet::new();
        for a in assets() {
            assert!(seen.insert(a.path), "{} twice", a.path);
            assert!(
                a.path == "index.html" || a.path.starts_with("viewer/"),
                "{}",
                a.path
            );
            assert!(!a.bytes.is_empty(), "{} is empty", a.path);
            let ext = a.path.rsplit('.').next().unwrap();
            let want = match ext {
                "html" => HTML,
                "js" => JS,
                "css" => CSS,
                "txt" => TEXT,
                "json" => JSON,
                other => panic!("{}: unexpected extension {other}", a.path),
            };
            assert_eq!(a.content_type, want, "{}", a.path);
            assert!(std::ptr::eq(asset(a.path).unwrap(), a));
        }
        assert!(asset("viewer/nothing.js").is_none());
        assert!(asset("/index.html").is_none());
    }

    #[test]
    fn every_file_the_page_loads_is_an_asset() {
        // The page's own references (stylesheets, scripts, module imports, fetched data)
        // resolve to published assets, so nothing is missing on a static host.
        let page = std::str::from_utf8(asset("index.html").unwrap().bytes).unwrap();
        let mut wanted = Vec::new();
        for attr in ["href=\"", "src=\""] {
            for part in page.split(attr).skip(1) {
                let url = part.split('"').next().unwrap();
                if !url.starts_with("data:") && !url.starts_with('#') {
                    wanted.push(url.to_string());
                }
            }
        }
        for a in assets().iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(a.bytes).unwrap();
            for part in text.split(" from './").skip(1) {
                wanted.push(format!("viewer/{}", part.split('\'').next().unwrap()));
            }
        }
        assert!(wanted.len() > 4, "{wanted:?}");
        for w in &wanted {
            assert!(
                asset(w).is_some(),
                "index.html needs {w}, which is not an asset"
            );
        }
    }

    #[test]
    fn the_maplibre_embedded_is_the_version_the_lockfile_pins() {
        let lock: serde_json::Value =
            serde_json::from_slice(include_bytes!("../../viewer/package-lock.json")).unwrap();
        let pinned = lock["packages"]["node_modules/maplibre-gl"]["version"]
            .as_str()
            .unwrap();
        let js = asset("viewer/maplibre-gl.js").unwrap().bytes;
        let head = String::from_utf8_lossy(&js[..js.len().min(400)]);
        assert!(
            head.contains(&format!("v{pinned}")),
            "maplibre-gl.js does not say it is {pinned}: {head}"
        );
    }

    #[test]
    fn no_run_id_can_be_the_viewer_folder_or_the_page() {
        let settings = tilecast::settings::RenderSettings::default();
        let id = tilecast::run::plan::run_id(&"0".repeat(64), &settings);
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        for a in assets() {
            let top = a.path.split('/').next().unwrap();
            assert!(top.len() != 16 || !top.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn publish_writes_every_asset_once_and_then_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        publish(&store).unwrap();
        for a in assets() {
            assert_eq!(std::fs::read(dir.path().join(a.path)).unwrap(), a.bytes);
        }
        // Unchanged files are not written again; a changed one is put back.
        let page = dir.path().join("index.html");
        let before = std::fs::metadata(&page).unwrap().modified().unwrap();
        std::fs::write(dir.path().join("viewer/viewer.css"), b"stale").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        publish(&store).unwrap();
        assert_eq!(
            std::fs::metadata(&page).unwrap().modified().unwrap(),
            before
        );
        assert_eq!(
            std::fs::read(dir.path().join("viewer/viewer.css")).unwrap(),
            asset("viewer/viewer.css").unwrap().bytes
        );
    }
}
