//! `--base-url` as users give it: absolute TileJSON URLs under `<run>/<layer>/`, a clear
//! error naming the flag for anything else, and no effect on run ids or tile bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

mod common;

use common::{bin, local_render_exit, samples};

fn render(flags: &[&str]) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = vec!["--zoom", "0-1"];
    all.extend_from_slice(flags);
    let (code, _dir, tree) = local_render_exit(&[samples().join("global_uv10.grib2")], &all);
    assert_eq!(code, Some(0));
    tree
}

fn json(tree: &BTreeMap<PathBuf, Vec<u8>>, key: &str) -> serde_json::Value {
    serde_json::from_slice(&tree[&PathBuf::from(key)]).unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// The documents that carry public URLs: the TileJSONs, the manifest, the run's style and
/// STAC items, and the catalog (the STAC root and collections have relative links only).
fn published(key: &std::path::Path) -> bool {
    [
        "tilejson.json",
        "manifest.json",
        "style.json",
        "item.json",
        "catalog.json",
    ]
    .iter()
    .any(|name| key.ends_with(name))
        && !key.starts_with("stac")
}

#[test]
fn the_base_url_makes_tilejson_urls_absolute_and_changes_nothing_else() {
    let plain = render(&[]);
    let with = render(&["--base-url", "https://tiles.example/wx/"]);
    let manifest_key = plain
        .keys()
        .find(|k| k.ends_with("manifest.json"))
        .unwrap()
        .clone();
    // Same run id (the run folder), same files, the same bytes in every tile and image.
    assert_eq!(
        plain.keys().collect::<Vec<_>>(),
        with.keys().collect::<Vec<_>>()
    );
    for (k, v) in &plain {
        if !published(k) {
            assert!(&with[k] == v, "{} differs with a base URL", k.display());
        }
    }
    let run = manifest_key.parent().unwrap().to_str().unwrap().to_string();
    let m = json(&with, manifest_key.to_str().unwrap());
    assert_eq!(m["base_url"], "https://tiles.example/wx");
    assert!(json(&plain, manifest_key.to_str().unwrap())["base_url"].is_null());
    assert!(m["settings"].get("base_url").is_none(), "{}", m["settings"]);
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let mut names = Vec::new();
    for l in layers {
        let name = l["name"].as_str().unwrap();
        names.push(name);
        let prefix = format!("https://tiles.example/wx/{run}/{name}");
        let tj = json(&with, &format!("{run}/{}", l["tilejson"].as_str().unwrap()));
        assert_eq!(
            tj["tiles"],
            serde_json::json!([format!("{prefix}/{{z}}/{{x}}/{{y}}.png")])
        );
        let legend = tj["legend"].as_str().unwrap();
        let img = format!("<img src=\"{prefix}/legend.png\"");
        assert!(legend.contains(&img), "{legend}");
        assert!(with.contains_key(&PathBuf::from(format!("{run}/{name}/legend.png"))));
        let data = json(
            &with,
            &format!("{run}/{}", l["data_tilejson"].as_str().unwrap()),
        );
        assert_eq!(
            data["tiles"],
            serde_json::json!([format!("{prefix}/data/{{z}}/{{x}}/{{y}}.png")])
        );
        // Every URL names a file that exists.
        assert!(with.contains_key(&PathBuf::from(format!("{run}/{name}/data/0/0/0.png"))));
        // Without a base URL, URLs are relative to each document.
        let tj = json(&plain, &format!("{run}/{name}/tilejson.json"));
        assert_eq!(tj["tiles"], serde_json::json!(["{z}/{x}/{y}.png"]));
        assert!(!tj["legend"].as_str().unwrap().contains("<img"));
    }
    // Every layer has its own URLs.
    let urls: std::collections::BTreeSet<String> = names
        .iter()
        .map(|n| json(&with, &format!("{run}/{n}/tilejson.json"))["tiles"][0].to_string())
        .collect();
    assert_eq!(urls.len(), 3);
}

fn tilecast(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let out = tempfile::tempdir().unwrap();
    Command::new(bin())
        .arg("render")
        .arg(samples().join("global_uv10.grib2"))
        .arg("--out")
        .arg(out.path())
        .args(["--zoom", "0", "--quiet"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn a_base_url_that_is_not_an_absolute_http_url_is_refused_naming_the_flag() {
    for bad in [
        "tiles.example.com/wx",
        "/srv/tiles",
        "ftp://tiles.example.com",
        "https://tiles.example.com/wx?v=2",
        "https://user:pw@tiles.example.com",
        "https://tiles.example.com/a b",
    ] {
        for o in [
            tilecast(&["--base-url", bad], &[]),
            tilecast(&[], &[("TILECAST_BASE_URL", bad)]),
        ] {
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
            assert!(err.contains("--base-url"), "{bad}: {err}");
            assert!(err.contains("http:// or https://"), "{bad}: {err}");
        }
    }
    // The chunker has the flag too, checked before it connects to anything.
    let o = Command::new(bin())
        .args([
            "chunker",
            "--ingest",
            "/nonexistent",
            "--out",
            "/nonexistent",
        ])
        .args(["--base-url", "ftp://x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--base-url"), "{err}");
    // An empty value (an unset chart value) means no base URL.
    let o = tilecast(&[], &[("TILECAST_BASE_URL", "")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
