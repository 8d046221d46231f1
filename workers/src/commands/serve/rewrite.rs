//! Relative URLs in the published documents made absolute for the public URL `serve` answers
//! under, so every client that follows TileJSON 3.0.0 (which requires absolute tile URLs) or
//! the MapLibre style specification loads them as they are.
//!
//! Without `--base-url` a run's documents hold relative references (ARCHITECTURE §3.3,
//! §3.14): a TileJSON's `tiles` are relative to the document itself, `catalog.json`'s and a
//! style's URLs to the output root. References that are already absolute (a run rendered with
//! a base URL) are left as they are, as is anything that is not JSON of the expected shape.

use serde_json::Value;

use tilecast::run::publish::PMTILES_SCHEME;

use super::route::Kind;

/// The members of `catalog.json` (at any depth) whose string values are URLs.
const CATALOG_URL_KEYS: [&str; 11] = [
    "manifest",
    "style",
    "tilejson",
    "data_tilejson",
    "pmtiles",
    "data_pmtiles",
    "legend_png",
    "legend_json",
    "full_image",
    "stac_item",
    "url",
];

/// The document with its relative URLs resolved against `root` (the public URL of the output
/// root, without a trailing slash); `None` when the kind has no URLs to rewrite or the bytes
/// are not a JSON object (served as stored).
pub fn rewrite(kind: &Kind, key: &str, bytes: &[u8], root: &str) -> Option<Vec<u8>> {
    if !matches!(kind, Kind::Catalog | Kind::Style | Kind::TileJson) {
        return None;
    }
    let mut doc: Value = serde_json::from_slice(bytes).ok()?;
    if !doc.is_object() {
        return None;
    }
    match kind {
        Kind::Catalog => catalog(&mut doc, root),
        Kind::Style => style(&mut doc, root),
        _ => {
            let dir = key.rsplit_once('/').map_or("", |(d, _)| d);
            tilejson(&mut doc, &format!("{root}/{dir}"));
        }
    }
    serde_json::to_vec(&doc).ok()
}

/// Whether a reference is relative to a path (RFC 3986 §4.2 relative-path reference): no
/// scheme, not network-path (`//host`), not absolute-path (`/x`).
fn is_relative_path(r: &str) -> bool {
    let scheme = r.split_once(':').is_some_and(|(s, _)| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    !scheme && !r.starts_with('/') && !r.is_empty()
}

fn resolve(v: &mut Value, base: &str) {
    if let Value::String(s) = v {
        // `pmtiles://<archive URL>/...` (a PMTiles archive's tiles, ARCHITECTURE §3.3): the
        // archive URL is resolved as any other.
        let (scheme, rest) = match s.strip_prefix(PMTILES_SCHEME) {
            Some(rest) => (PMTILES_SCHEME, rest),
            None => ("", s.as_str()),
        };
        if is_relative_path(rest) {
            *s = format!("{scheme}{base}/{}", rest.strip_prefix("./").unwrap_or(rest));
        }
    }
}

fn catalog(v: &mut Value, root: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if CATALOG_URL_KEYS.contains(&k.as_str()) && x.is_string() {
                    resolve(x, root);
                } else {
                    catalog(x, root);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| catalog(x, root)),
        _ => {}
    }
}

fn style(doc: &mut Value, root: &str) {
    for k in ["sprite", "glyphs"] {
        if let Some(x) = doc.get_mut(k) {
            resolve(x, root);
        }
    }
    if let Some(Value::Object(sources)) = doc.get_mut("sources") {
        for source in sources.values_mut() {
            if let Some(x) = source.get_mut("url") {
                resolve(x, root);
            }
            if let Some(Value::Array(tiles)) = source.get_mut("tiles") {
                tiles.iter_mut().for_each(|x| resolve(x, root));
            }
        }
    }
}

fn tilejson(doc: &mut Value, dir: &str) {
    if let Some(Value::Array(tiles)) = doc.get_mut("tiles") {
        tiles.iter_mut().for_each(|x| resolve(x, dir));
    }
    if let Some(x) = doc.get_mut("pmtiles") {
        resolve(x, dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROOT: &str = "http://127.0.0.1:8080/weather";

    fn run(kind: Kind, key: &str, doc: Value) -> Value {
        let out = rewrite(&kind, key, &serde_json::to_vec(&doc).unwrap(), ROOT).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn tilejson_tiles_resolve_against_the_document() {
        let key = "0123456789abcdef/t_2m/data/tilejson.json";
        let out = run(
            Kind::TileJson,
            key,
            json!({"tiles": ["{z}/{x}/{y}.png"], "name": "a/b"}),
        );
        assert_eq!(
            out["tiles"],
            json!([format!(
                "{ROOT}/0123456789abcdef/t_2m/data/{{z}}/{{x}}/{{y}}.png"
            )])
        );
        assert_eq!(out["name"], "a/b", "only URL members change");
    }

    #[test]
    fn archive_urls_resolve_inside_the_pmtiles_scheme() {
        let out = run(
            Kind::TileJson,
            "r/l/data/tilejson.json",
            json!({"tiles": ["pmtiles://../data.pmtiles/{z}/{x}/{y}"], "pmtiles": "../data.pmtiles"}),
        );
        assert_eq!(
            out["tiles"][0],
            format!("pmtiles://{ROOT}/r/l/data/../data.pmtiles/{{z}}/{{x}}/{{y}}")
        );
        assert_eq!(out["pmtiles"], format!("{ROOT}/r/l/data/../data.pmtiles"));
        let abs = "pmtiles://https://t.example/r/l/tiles.pmtiles/{z}/{x}/{y}";
        let out = run(
            Kind::TileJson,
            "r/l/tilejson.json",
            json!({ "tiles": [abs] }),
        );
        assert_eq!(out["tiles"][0], abs);
    }

    #[test]
    fn absolute_urls_are_kept() {
        for u in [
            "https://cdn.example/{z}/{x}/{y}.png",
            "//cdn.example/x",
            "/abs/x",
            "s3x:y",
        ] {
            let out = run(Kind::TileJson, "r/l/tilejson.json", json!({"tiles": [u]}));
            assert_eq!(out["tiles"][0], u);
        }
    }

    #[test]
    fn catalog_urls_resolve_against_the_root() {
        let doc = json!({"runs": {"r": {"manifest": "r/manifest.json", "source": {"key": "in/a.grib2"},
            "layers": [{"tilejson": "r/l/tilejson.json", "name": "l", "image": {"url": "r/l/image.png"},
                        "data_tilejson": null}]}},
            "series": {"s": {"steps": [{"tilejson": "r/l/tilejson.json", "layer": "l"}]}}});
        let out = run(Kind::Catalog, "catalog.json", doc);
        let r = &out["runs"]["r"];
        assert_eq!(r["manifest"], format!("{ROOT}/r/manifest.json"));
        assert_eq!(
            r["source"]["key"], "in/a.grib2",
            "a source key is not a URL"
        );
        assert_eq!(
            r["layers"][0]["tilejson"],
            format!("{ROOT}/r/l/tilejson.json")
        );
        assert_eq!(
            r["layers"][0]["image"]["url"],
            format!("{ROOT}/r/l/image.png")
        );
        assert_eq!(r["layers"][0]["name"], "l");
        assert!(r["layers"][0]["data_tilejson"].is_null());
        assert_eq!(
            out["series"]["s"]["steps"][0]["tilejson"],
            format!("{ROOT}/r/l/tilejson.json")
        );
        assert_eq!(out["series"]["s"]["steps"][0]["layer"], "l");
    }

    #[test]
    fn style_sources_resolve_against_the_root() {
        let doc = json!({"version": 8, "sources": {"a": {"type": "raster", "url": "r/l/tilejson.json"},
            "b": {"type": "raster", "tiles": ["r/l/{z}/{x}/{y}.png"]}}, "layers": []});
        let out = run(Kind::Style, "r/style.json", doc);
        assert_eq!(
            out["sources"]["a"]["url"],
            format!("{ROOT}/r/l/tilejson.json")
        );
        assert_eq!(
            out["sources"]["b"]["tiles"][0],
            format!("{ROOT}/r/l/{{z}}/{{x}}/{{y}}.png")
        );
    }

    #[test]
    fn other_documents_and_non_json_are_left_alone() {
        assert!(rewrite(&Kind::Plain, "r/manifest.json", b"{}", ROOT).is_none());
        assert!(rewrite(&Kind::Catalog, "catalog.json", b"not json", ROOT).is_none());
        assert!(rewrite(&Kind::Catalog, "catalog.json", b"[1]", ROOT).is_none());
    }
}
