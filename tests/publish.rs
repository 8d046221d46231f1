//! The TileJSON documents of real renders, read the way MapLibre GL JS reads them: the
//! bounds must let MapLibre request every tile written (its `TileBounds`, ported below), and
//! the data TileJSON's `raster-dem` factors must decode real data tiles to the field's values.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tilecast::decode::inventory;
use tilecast::geo::tiling::{TileId, Tiling, MERCATOR_MAX_LAT};
use tilecast::io::store::LocalStore;
use tilecast::render::encode::decode_rgba;
use tilecast::render::resample::{Resample, Sampler};
use tilecast::run::execute::Progress;
use tilecast::run::local::render_file;
use tilecast::run::publish::BaseUrl;
use tilecast::settings::RenderSettings;

/// MapLibre GL JS `TileBounds` (src/source/tile_bounds.ts): `validateBounds` clamps west and
/// south up to -180/-90 and east and north down to 180/90, then `contains` keeps a tile when
/// its x and y fall in the Mercator range of the bounds at its zoom.
fn maplibre_requests(bounds: &Value, t: TileId) -> bool {
    let b: Vec<f64> = bounds
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (w, s, e, n) = (
        b[0].max(-180.0),
        b[1].max(-90.0),
        b[2].min(180.0),
        b[3].min(90.0),
    );
    let x = |lng: f64| (180.0 + lng) / 360.0;
    let y = |lat: f64| {
        let pi = std::f64::consts::PI;
        (180.0 - (180.0 / pi) * (pi / 4.0 + lat * pi / 360.0).tan().ln()) / 360.0
    };
    let size = (1u64 << t.z) as f64;
    let (min_x, min_y) = ((x(w) * size).floor(), (y(n) * size).floor());
    let (max_x, max_y) = ((x(e) * size).ceil(), (y(s) * size).ceil());
    let (tx, ty) = (t.x as f64, t.y as f64);
    tx >= min_x && tx < max_x && ty >= min_y && ty < max_y
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap()
}

/// Renders `file` into `out` and returns the run directory and its manifest.
fn render(
    file: &Path,
    settings: &RenderSettings,
    base: Option<&str>,
    out: &Path,
) -> (PathBuf, Value) {
    let base = base.map(|b| BaseUrl::parse(b).unwrap());
    let report = render_file(
        file,
        settings,
        base.as_ref(),
        &LocalStore::new(out),
        &Progress::default(),
    )
    .expect("render");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let run = PathBuf::from(&report.location);
    let manifest = json(&run.join("manifest.json"));
    (run, manifest)
}

/// The colour tiles a layer wrote, from its directory.
fn written_tiles(layer: &Path) -> BTreeSet<TileId> {
    let mut tiles = BTreeSet::new();
    for z in std::fs::read_dir(layer).unwrap().flatten() {
        let Ok(z) = z.file_name().to_string_lossy().parse::<u8>() else {
            continue;
        };
        for x in std::fs::read_dir(layer.join(z.to_string()))
            .unwrap()
            .flatten()
        {
            let x = x.file_name().to_string_lossy().parse::<u32>().unwrap();
            for y in std::fs::read_dir(layer.join(format!("{z}/{x}")))
                .unwrap()
                .flatten()
            {
                let name = y.file_name().to_string_lossy().into_owned();
                let y = name.strip_suffix(".png").unwrap().parse::<u32>().unwrap();
                tiles.insert(TileId { z, x, y });
            }
        }
    }
    tiles
}

fn center_inside(tj: &Value) {
    let (b, c) = (&tj["bounds"], &tj["center"]);
    let f = |v: &Value, k: usize| v[k].as_f64().unwrap();
    assert!(f(b, 0) <= f(c, 0) && f(c, 0) <= f(b, 2), "{c} outside {b}");
    assert!(f(b, 1) <= f(c, 1) && f(c, 1) <= f(b, 3), "{c} outside {b}");
    assert_eq!(c[2], tj["minzoom"], "centre zoom is minzoom, an integer");
}

#[test]
fn alaska_across_the_antimeridian_gets_bounds_maplibre_requests_every_tile_of() {
    let file = common::shared_samples()
        .join("grib2/gribberish__aqm.t12z.ave_1hr_o3-AK-polar-stereographic.grib2");
    let out = common::tempdir();
    let settings = RenderSettings {
        zoom: Some((0, 5)),
        ..Default::default()
    };
    let (run, m) = render(
        &file,
        &settings,
        Some("https://tiles.example/wx/"),
        out.path(),
    );
    let entry = &m["layers"][0];
    let name = entry["name"].as_str().unwrap();
    let layer = run.join(name);
    // The manifest keeps the true extent, which crosses the antimeridian...
    let extent = &entry["bounds"];
    assert!(extent[0].as_f64() > extent[2].as_f64(), "{extent}");
    let tj = json(&layer.join("tilejson.json"));
    let lon = tj["center"][0].as_f64().unwrap();
    assert!(
        (-180.0..-120.0).contains(&lon),
        "centre {lon} is not over Alaska"
    );
    let run_id = m["run"].as_str().unwrap();
    assert_eq!(
        tj["tiles"][0],
        format!("https://tiles.example/wx/{run_id}/{name}/{{z}}/{{x}}/{{y}}.png")
    );
    let tiles = written_tiles(&layer);
    let zooms: BTreeSet<u8> = tiles.iter().map(|t| t.z).collect();
    assert_eq!(zooms, (0..=5).collect(), "tiles at every zoom");
    for &t in &tiles {
        assert!(maplibre_requests(&tj["bounds"], t), "MapLibre skips {t:?}");
        // With the extent itself as bounds MapLibre requests nothing past zoom 0.
        assert_eq!(maplibre_requests(extent, t), t.z == 0, "{t:?}");
    }
    // Both sides of the antimeridian have tiles.
    let at5: Vec<u32> = tiles.iter().filter(|t| t.z == 5).map(|t| t.x).collect();
    assert!(
        at5.iter().any(|&x| x < 16) && at5.iter().any(|&x| x >= 16),
        "{at5:?}"
    );
    // ...so the TileJSON has the whole longitude range and the same latitudes.
    assert_eq!(tj["bounds"][0], -180.0);
    assert_eq!(tj["bounds"][2], 180.0);
    assert_eq!(tj["bounds"][1], extent[1]);
    assert_eq!(tj["bounds"][3], extent[3]);
    center_inside(&tj);
    let data_tj = json(&layer.join("data/tilejson.json"));
    assert_eq!(data_tj["bounds"], tj["bounds"]);
    assert_eq!(entry["data_tilejson"], format!("{name}/data/tilejson.json"));
    let at: BTreeSet<TileId> = tiles
        .iter()
        .filter(|t| t.z == 3 || t.z == 5)
        .copied()
        .collect();
    let (valid, missing) = decodes_like_the_sampler(&file, &layer, &data_tj, &at);
    assert!(
        valid > 10_000 && missing > 1_000,
        "{valid} valid, {missing} missing"
    );
}

/// MapLibre's custom `raster-dem` decoding of the data tiles `tiles` (the sum of each channel
/// times its factor, minus `baseShift`; alpha ignored) gives the value the renderer sampled
/// within half a quantisation step, and A = 0 exactly where it had none. Returns the valid
/// and the missing pixels seen.
fn decodes_like_the_sampler(
    file: &Path,
    layer: &Path,
    tj: &Value,
    tiles: &BTreeSet<TileId>,
) -> (usize, usize) {
    assert_eq!(tj["encoding"], "custom");
    let f = |k: &str| tj[k].as_f64().unwrap_or_else(|| panic!("{k} in {tj}"));
    let (rf, gf, bf, shift) = (
        f("redFactor"),
        f("greenFactor"),
        f("blueFactor"),
        f("baseShift"),
    );
    let scale = tj["data_encoding"]["scale"].as_f64().unwrap();
    let field = inventory(file).unwrap().decode(0).unwrap();
    let sampler = Sampler::new(field.grid, field.values, Resample::Bilinear);
    let (mut valid, mut missing) = (0usize, 0usize);
    for &t in tiles {
        let png = std::fs::read(layer.join(format!("data/{}/{}/{}.png", t.z, t.x, t.y))).unwrap();
        let (_, _, px) = decode_rgba(&png).unwrap();
        let want = sampler.tile(Tiling::WebMercator, t);
        for (p, &v) in px.chunks(4).zip(&want) {
            if v.is_nan() {
                assert_eq!(p[3], 0, "{t:?}: no value but alpha {}", p[3]);
                missing += 1;
                continue;
            }
            assert_eq!(p[3], 255, "{t:?}: a value but alpha {}", p[3]);
            let got = p[0] as f64 * rf + p[1] as f64 * gf + p[2] as f64 * bf - shift;
            let err = (got - v as f64).abs();
            assert!(
                err <= scale / 2.0 * (1.0 + 1e-6),
                "{t:?}: {got} for {v} (step {scale})"
            );
            valid += 1;
        }
    }
    (valid, missing)
}

#[test]
fn a_global_grid_gets_the_tilings_whole_world() {
    let file = common::own_samples().join("global_t2m.grib2");
    for (tiling, lat, zooms) in [
        (Tiling::WebMercator, MERCATOR_MAX_LAT, 0..=2u8),
        (Tiling::Geographic, 90.0, 0..=1u8),
    ] {
        let out = common::tempdir();
        let settings = RenderSettings {
            tiling,
            zoom: Some((*zooms.start(), *zooms.end())),
            ..Default::default()
        };
        let (run, m) = render(&file, &settings, None, out.path());
        let name = m["layers"][0]["name"].as_str().unwrap();
        let tj = json(&run.join(name).join("tilejson.json"));
        assert_eq!(tj["bounds"], serde_json::json!([-180.0, -lat, 180.0, lat]));
        assert_eq!(tj["tiles"], serde_json::json!(["{z}/{x}/{y}.png"]));
        assert!(
            !tj["legend"].as_str().unwrap().contains('<'),
            "{}",
            tj["legend"]
        );
        center_inside(&tj);
        let tiles = written_tiles(&run.join(name));
        let all: usize = zooms
            .clone()
            .map(|z| {
                let (c, r) = tiling.matrix(z);
                (c * r) as usize
            })
            .sum();
        assert_eq!(tiles.len(), all, "a global field fills every tile");
        if tiling == Tiling::WebMercator {
            for &t in &tiles {
                assert!(maplibre_requests(&tj["bounds"], t), "MapLibre skips {t:?}");
            }
            // Temperatures in K: an offset far from 0 tells +offset from -offset.
            let data_tj = json(&run.join(name).join("data/tilejson.json"));
            assert!(data_tj["baseShift"].as_f64().unwrap() < -100.0, "{data_tj}");
            // Data tiles stop at the data maxzoom (3.2).
            let data_max = data_tj["maxzoom"].as_u64().unwrap();
            let data_tiles: BTreeSet<TileId> = tiles
                .iter()
                .copied()
                .filter(|t| u64::from(t.z) <= data_max)
                .collect();
            assert!(!data_tiles.is_empty());
            let (valid, _) =
                decodes_like_the_sampler(&file, &run.join(name), &data_tj, &data_tiles);
            assert_eq!(valid, data_tiles.len() * 256 * 256);
        }
    }
}

#[test]
fn data_tiles_stop_at_the_native_zoom_unless_asked_for_more() {
    use tilecast::settings::DataZoom;
    // GFS at 0.25°: a z3 pixel (360° / 2048) is finer than a cell, a z2 pixel is not.
    let file = common::shared_samples()
        .join("grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2");
    let zooms = |dir: &Path| -> BTreeSet<u8> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_str()?.parse().ok())
            .collect()
    };
    for (data_zoom, want) in [
        (DataZoom::Native, 3u8),
        (DataZoom::All, 4),
        (DataZoom::Max(1), 1),
        (DataZoom::Max(9), 4),
    ] {
        let out = common::tempdir();
        let settings = RenderSettings {
            zoom: Some((0, 4)),
            data_zoom,
            ..Default::default()
        };
        let (run, manifest) = render(&file, &settings, None, out.path());
        let layer = &manifest["layers"][0];
        let dir = run.join(layer["name"].as_str().unwrap());
        assert_eq!(
            zooms(&dir),
            (0..=4).collect(),
            "colour tiles go to --zoom's end"
        );
        assert_eq!(
            zooms(&dir.join("data")),
            (0..=want).collect(),
            "{data_zoom:?}"
        );
        assert_eq!(layer["data_maxzoom"], want, "{data_zoom:?}");
        let tj = json(&dir.join("data/tilejson.json"));
        assert_eq!(
            (tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()),
            (Some(0), Some(want as u64))
        );
        assert_eq!(json(&dir.join("tilejson.json"))["maxzoom"], 4);
        // A data tile at the data maxzoom exists wherever the colour tile does.
        let colour: BTreeSet<_> = written_tiles(&dir)
            .into_iter()
            .filter(|t| t.z <= want)
            .collect();
        let data: BTreeSet<_> = written_tiles(&dir.join("data")).into_iter().collect();
        assert_eq!(colour, data);
    }
}
