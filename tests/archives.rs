//! PMTiles archives (`--format pmtiles`) against the directory output of the same file:
//! every archive is read back by the PyPI `pmtiles` reader (tests/oracle/pmtiles_read.py,
//! protomaps' own Python implementation), and its tiles must be exactly the directory's
//! tiles, byte for byte (so pixel for pixel), with the TileJSON's metadata, clustered.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tilecast::io::store::{LocalStore, PutMeta, Store};
use tilecast::run::archive;
use tilecast::run::execute::Progress;
use tilecast::run::local::{plan_file, render_file};
use tilecast::run::manifest::Manifest;
use tilecast::run::plan::DEFAULT_JOB_TILES;
use tilecast::settings::{OutputFormat, RenderSettings};

fn settings(format: OutputFormat) -> RenderSettings {
    RenderSettings {
        zoom: Some((0, 4)),
        format,
        ..Default::default()
    }
}

fn render(file: &Path, format: OutputFormat, out: &Path) -> (PathBuf, Value) {
    let report = render_file(
        file,
        &settings(format),
        None,
        &LocalStore::new(out),
        &Progress::default(),
    )
    .expect("render");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let run = PathBuf::from(&report.location);
    let m = json(&run.join("manifest.json"));
    (run, m)
}

fn json(p: &Path) -> Value {
    let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&b).unwrap()
}

/// The `{z}/{x}/{y}.png` files under a tile directory.
fn dir_tiles(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tiles = BTreeMap::new();
    for z in std::fs::read_dir(dir).unwrap().flatten() {
        let zs = z.file_name().to_string_lossy().into_owned();
        if zs.parse::<u8>().is_err() {
            continue;
        }
        for x in std::fs::read_dir(z.path()).unwrap().flatten() {
            let xs = x.file_name().to_string_lossy().into_owned();
            for y in std::fs::read_dir(x.path()).unwrap().flatten() {
                let ys = y.file_name().to_string_lossy().into_owned();
                let ys = ys.strip_suffix(".png").expect("a PNG tile").to_string();
                tiles.insert(format!("{zs}/{xs}/{ys}"), std::fs::read(y.path()).unwrap());
            }
        }
    }
    tiles
}

/// What the PyPI reader found in an archive: its report and every tile.
pub fn read_with_pypi(archive: &Path, out: &Path) -> (Value, BTreeMap<String, Vec<u8>>) {
    let status = Command::new(common::python())
        .arg(common::root().join("tests/oracle/pmtiles_read.py"))
        .arg(archive)
        .arg(out)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (run scripts/setup --test): {e}",
                common::python()
            )
        });
    assert!(
        status.success(),
        "pmtiles_read.py failed on {}",
        archive.display()
    );
    let report = json(&out.join("archive.json"));
    assert_eq!(
        report["error"],
        Value::Null,
        "{}: {report}",
        archive.display()
    );
    let tiles = report["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let t = t.as_str().unwrap().to_string();
            let bytes = std::fs::read(out.join(format!("{t}.png"))).unwrap();
            (t, bytes)
        })
        .collect();
    (report, tiles)
}

/// Checks one archive against the tile directory and TileJSON document of the same layer.
fn check_archive(archive: &Path, tile_dir: &Path, tilejson: &Path, scratch: &Path) -> usize {
    let (report, tiles) = read_with_pypi(archive, scratch);
    let want = dir_tiles(tile_dir);
    assert!(
        !want.is_empty(),
        "{}: no tiles to compare",
        tile_dir.display()
    );
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&tiles),
        names(&want),
        "{}: tile sets differ",
        archive.display()
    );
    for (t, bytes) in &want {
        assert!(
            tiles[t] == *bytes,
            "{}: tile {t} differs from {}",
            archive.display(),
            tile_dir.display()
        );
    }
    let h = &report["header"];
    let tj = json(tilejson);
    assert_eq!(h["clustered"], true);
    assert_eq!(
        report["offsets_in_order"], true,
        "tile data in tile-id order"
    );
    assert_eq!(h["tile_type"], "png");
    assert_eq!(h["tile_compression"], "none");
    assert_eq!(h["internal_compression"], "gzip");
    assert_eq!(h["addressed_tiles_count"], want.len());
    assert_eq!(h["min_zoom"], tj["minzoom"]);
    assert_eq!(h["max_zoom"], tj["maxzoom"]);
    let e7 = |v: &Value| (v.as_f64().unwrap() * 1e7).round() as i64;
    for (i, k) in ["min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7"]
        .iter()
        .enumerate()
    {
        assert_eq!(h[k].as_i64().unwrap(), e7(&tj["bounds"][i]), "{k}");
    }
    assert_eq!(h["center_lon_e7"].as_i64().unwrap(), e7(&tj["center"][0]));
    assert_eq!(h["center_lat_e7"].as_i64().unwrap(), e7(&tj["center"][1]));
    assert_eq!(h["center_zoom"], tj["center"][2]);
    let meta = &report["metadata"];
    for k in [
        "name",
        "description",
        "attribution",
        "bounds",
        "center",
        "minzoom",
        "maxzoom",
        "legend",
        "crs",
    ] {
        assert_eq!(meta[k], tj[k], "metadata {k}");
    }
    // Data archives carry the decoding (3.2) as their TileJSON does.
    for k in [
        "data_encoding",
        "encoding",
        "redFactor",
        "greenFactor",
        "blueFactor",
        "baseShift",
    ] {
        assert_eq!(meta.get(k), tj.get(k), "metadata {k}");
    }
    assert_eq!(meta["type"], "overlay");
    assert_eq!(meta["format"], "png");
    want.len()
}

/// A global lat/lon GRIB2 field and a Lambert conformal one, rendered as directories and as
/// archives: every tile of every archive, as the PyPI reader reads it, is the directory's.
#[test]
fn archives_hold_exactly_the_directory_tiles_as_the_pypi_reader_reads_them() {
    for sample in ["global_t2m.grib2", "lambert_t850.grib2"] {
        let file = common::own_samples().join(sample);
        let (dirs, pm, scratch) = (common::tempdir(), common::tempdir(), common::tempdir());
        let (dir_run, dir_m) = render(&file, OutputFormat::Dir, dirs.path());
        let (pm_run, pm_m) = render(&file, OutputFormat::Pmtiles, pm.path());
        assert_ne!(
            dir_m["run"], pm_m["run"],
            "the format is part of the run id"
        );
        assert_eq!(pm_m["settings"]["format"], "pmtiles");
        assert_eq!(
            dir_m["settings"].get("format"),
            None,
            "dir runs keep their run ids"
        );
        let mut compared = 0;
        for (d, p) in dir_m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .zip(pm_m["layers"].as_array().unwrap())
        {
            let name = p["name"].as_str().unwrap();
            assert_eq!(d["name"], p["name"]);
            assert_eq!(p["pmtiles"], format!("{name}/tiles.pmtiles"));
            assert_eq!(p["data_pmtiles"], format!("{name}/data.pmtiles"));
            assert_eq!(d.get("pmtiles"), None);
            assert_eq!(d["tile_count"], p["tile_count"]);
            let layer = pm_run.join(name);
            assert!(
                !layer.join("0").exists(),
                "{name}: tile files beside the archive"
            );
            assert!(
                !layer.join("data/0").exists(),
                "{name}: data tile files beside the archive"
            );
            let tj = json(&layer.join("tilejson.json"));
            assert_eq!(tj["pmtiles"], "tiles.pmtiles");
            assert_eq!(tj["tiles"][0], "pmtiles://tiles.pmtiles/{z}/{x}/{y}");
            let data_tj = json(&layer.join("data/tilejson.json"));
            assert_eq!(data_tj["pmtiles"], "../data.pmtiles");
            let item = json(&layer.join("item.json"));
            assert_eq!(item["assets"]["pmtiles"]["href"], "tiles.pmtiles");
            assert_eq!(
                item["assets"]["data_pmtiles"]["type"],
                "application/vnd.pmtiles"
            );
            let links = item["links"].as_array().unwrap();
            assert!(
                links.iter().all(|l| l["rel"] != "xyz"),
                "an xyz link to no tile files"
            );
            for (archive, tiles, doc, sub) in [
                (
                    "tiles.pmtiles",
                    dir_run.join(name),
                    layer.join("tilejson.json"),
                    "c",
                ),
                (
                    "data.pmtiles",
                    dir_run.join(name).join("data"),
                    layer.join("data/tilejson.json"),
                    "d",
                ),
            ] {
                let s = scratch.path().join(format!("{name}-{sub}"));
                compared += check_archive(&layer.join(archive), &tiles, &doc, &s);
            }
        }
        assert!(compared > 20, "{sample}: only {compared} tiles compared");
        // The parts are gone once the manifest is written.
        let books = pm
            .path()
            .join(".tilecast")
            .join(pm_m["run"].as_str().unwrap());
        assert!(
            !books.join("parts").exists(),
            "parts left in {}",
            books.display()
        );
        // The catalog names the archives.
        let cat = json(&pm.path().join("catalog.json"));
        let text = cat.to_string();
        assert!(
            text.contains("/tiles.pmtiles\"") && text.contains("/data.pmtiles\""),
            "{text}"
        );
    }
}

/// `both` writes the directories and the archives, and the archives are those of `pmtiles`.
#[test]
fn both_writes_directories_and_the_same_archives() {
    let file = common::own_samples().join("global_t2m.grib2");
    let (both, pm) = (common::tempdir(), common::tempdir());
    let (both_run, m) = render(&file, OutputFormat::Both, both.path());
    let (pm_run, _) = render(&file, OutputFormat::Pmtiles, pm.path());
    let name = m["layers"][0]["name"].as_str().unwrap();
    assert!(both_run.join(name).join("0/0/0.png").exists());
    for a in ["tiles.pmtiles", "data.pmtiles"] {
        let x = std::fs::read(both_run.join(name).join(a)).unwrap();
        let y = std::fs::read(pm_run.join(name).join(a)).unwrap();
        assert!(x == y, "{a} differs between both and pmtiles");
    }
}

/// Assembling again from the same parts (a ledger restarted during assembly) gives the same
/// archive bytes; a truncated, garbage or missing part is an error naming it.
#[test]
fn assembly_is_repeatable_and_bad_parts_are_named() {
    let file = common::own_samples().join("global_t2m.grib2");
    let out = common::tempdir();
    let (run, m) = render(&file, OutputFormat::Pmtiles, out.path());
    let store = LocalStore::new(out.path());
    let manifest: Manifest = serde_json::from_value(m.clone()).unwrap();
    let (_, plan) = plan_file(&file, &settings(OutputFormat::Pmtiles), DEFAULT_JOB_TILES).unwrap();
    assert_eq!(plan.run, manifest.run);
    let name = manifest.layers[0].name.clone();
    let archive_path = run.join(&name).join("tiles.pmtiles");
    let first = std::fs::read(&archive_path).unwrap();

    // The same file rendered again assembles the same bytes (parts and merge are
    // deterministic, whatever order the jobs ran in).
    let again = common::tempdir();
    let (again_run, _) = render(&file, OutputFormat::Pmtiles, again.path());
    assert!(
        std::fs::read(again_run.join(&name).join("tiles.pmtiles")).unwrap() == first,
        "two renders of one file give different archives"
    );

    let layer = &plan.layers[0];
    let key = archive::part_key(&plan.run, &layer.name, &layer.jobs[0].id);
    // A layer whose archives cannot be made is a failed layer, with the reason naming the
    // part; the others are kept.
    let failed_with = |parts: &[(String, Vec<u8>)]| -> String {
        for (k, bytes) in parts {
            store.put(k, bytes.clone(), PutMeta::PRIVATE).unwrap();
        }
        let mut m = manifest.clone();
        archive::assemble_run(&store, &plan, &mut m).unwrap();
        assert!(m.layers.iter().all(|l| l.name != layer.name), "{name} kept");
        let f = m
            .failed
            .iter()
            .find(|f| f.layer.as_deref() == Some(&layer.name))
            .unwrap();
        archive::delete_parts(&store, &plan.run).unwrap();
        f.error.clone()
    };
    let good = part_of_one_tile();
    let all = |first: Vec<u8>| -> Vec<(String, Vec<u8>)> {
        layer
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| {
                let k = archive::part_key(&plan.run, &layer.name, &j.id);
                (k, if i == 0 { first.clone() } else { good.clone() })
            })
            .collect()
    };
    // Missing (the render deleted them).
    let e = failed_with(&[]);
    assert!(e.contains(&key) && e.contains("missing"), "{e}");
    // Truncated, then garbage.
    for bad in [
        good[..good.len() - 3].to_vec(),
        b"not a part at all, just bytes".to_vec(),
    ] {
        let e = failed_with(&all(bad));
        assert!(e.contains(&key) && e.contains("corrupt"), "{e}");
    }
    // Two parts holding the same tile.
    assert!(
        layer.jobs.len() > 1,
        "the test needs a layer of several jobs"
    );
    let e = failed_with(&all(good.clone()));
    assert!(e.contains("is also in"), "{e}");
}

fn part_of_one_tile() -> Vec<u8> {
    archive::part::encode(vec![archive::part::PartTile {
        id: 0,
        colour: b"png".to_vec(),
        data: None,
    }])
}

/// An archive too large for its root directory alone (leaf directories, spec 4) written by
/// tilecast's writer is read whole by the PyPI reader: every tile, byte for byte, and the
/// header's counts.
#[test]
fn leaf_directories_are_read_by_the_pypi_reader() {
    use tilecast::io::pmtiles::reader::Archive;
    use tilecast::io::pmtiles::tile_of;
    use tilecast::io::pmtiles::writer::{ArchiveWriter, Extent};
    let dir = common::tempdir();
    let mut w = ArchiveWriter::new(&dir.path().join("data")).unwrap();
    let mut want = BTreeMap::new();
    let (mut id, mut seed) = (((1u64 << 20) - 1) / 3, 0x9e37_79b9_7f4a_7c15_u64);
    for n in 0..40_000u32 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        id += 1 + seed % 40;
        // Every tenth tile repeats a common body: deduplicated, sometimes in runs.
        let body = if n % 10 == 0 {
            b"common".to_vec()
        } else {
            format!("{id}:{}", "x".repeat((seed % 200) as usize)).into_bytes()
        };
        w.add_id(id, &body).unwrap();
        let (z, x, y) = tile_of(id);
        want.insert(format!("{z}/{x}/{y}"), body);
    }
    let path = dir.path().join("big.pmtiles");
    let extent = Extent {
        min_zoom: 10,
        max_zoom: 10,
        bounds: [-180.0, -85.0, 180.0, 85.0],
        center: [0.0, 0.0],
        center_zoom: 10,
    };
    w.finish(&extent, br#"{"name":"big"}"#, &path).unwrap();
    let a = Archive::open(&path).unwrap();
    assert!(
        a.header.leaf_length > 0,
        "no leaf directories: the test needs them"
    );
    assert!(a.header.root_offset + a.header.root_length <= 16_384);
    let (report, tiles) = read_with_pypi(&path, &dir.path().join("read"));
    assert_eq!(report["header"]["addressed_tiles_count"], 40_000);
    assert_eq!(report["offsets_in_order"], true);
    assert_eq!(tiles.len(), want.len());
    assert!(tiles == want, "tiles differ");
}
