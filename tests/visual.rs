//! What a person sees: the full-frame image and a z2 tile of a 2 m temperature field show
//! cold poles, warm tropics and land/sea contrast, and their colours read back through the
//! legend give the values in the data tiles (the legend matches the colours).

mod common;

use std::path::Path;

use tilecast::io::store::LocalStore;
use tilecast::render::encode::decode_rgba;
use tilecast::run::execute::Progress;
use tilecast::run::local::render_file;
use tilecast::settings::RenderSettings;

/// Colour → value through the legend: the legend stops sampled finely, nearest colour wins.
struct LegendReader {
    samples: Vec<([f64; 3], f64)>,
}

impl LegendReader {
    fn new(legend: &serde_json::Value) -> LegendReader {
        let stops: Vec<(f64, [f64; 4])> = legend["stops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let h = s["color"].as_str().unwrap();
                let b = |k: usize| u8::from_str_radix(&h[1 + k..3 + k], 16).unwrap() as f64;
                (s["value"].as_f64().unwrap(), [b(0), b(2), b(4), b(6)])
            })
            .collect();
        let mut samples = Vec::new();
        for w in stops.windows(2) {
            for k in 0..50 {
                let f = k as f64 / 50.0;
                let c = |ch: usize| w[0].1[ch] + (w[1].1[ch] - w[0].1[ch]) * f;
                samples.push(([c(0), c(1), c(2)], w[0].0 + (w[1].0 - w[0].0) * f));
            }
        }
        LegendReader { samples }
    }

    fn value(&self, px: &[u8]) -> f64 {
        let d = |c: &[f64; 3]| (0..3).map(|k| (c[k] - px[k] as f64).powi(2)).sum::<f64>();
        self.samples
            .iter()
            .min_by(|a, b| d(&a.0).total_cmp(&d(&b.0)))
            .unwrap()
            .1
    }
}

fn read_png(path: &Path) -> (usize, usize, Vec<u8>) {
    decode_rgba(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

#[test]
fn temperature_images_show_the_expected_pattern_and_match_the_legend() {
    let out = common::tempdir();
    // Colours and values are compared on a zoom 2 tile, above the grid's native zoom: data
    // tiles at every zoom.
    let settings = RenderSettings {
        zoom: Some((0, 2)),
        data_zoom: tilecast::settings::DataZoom::All,
        ..Default::default()
    };
    let file = common::own_samples().join("global_t2m.grib2");
    let report = render_file(
        &file,
        &settings,
        None,
        &LocalStore::new(out.path()),
        &Progress::default(),
    )
    .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(std::path::Path::new(&report.location).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let layer = &manifest["layers"][0];
    assert_eq!(layer["palette"], "temperature");
    let dir = std::path::Path::new(&report.location).join(layer["name"].as_str().unwrap());
    let legend: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("legend.json")).unwrap()).unwrap();
    assert_eq!(legend["units"], "K");
    let reader = LegendReader::new(&legend);
    let range = legend["range"][1].as_f64().unwrap() - legend["range"][0].as_f64().unwrap();

    // Full frame: 0..359E, 90N..90S, one pixel per degree, north up.
    let (w, h, px) = read_png(&dir.join("full.png"));
    assert_eq!((w, h), (360, 181));
    let at = |lon: usize, lat: i32| reader.value(&px[((90 - lat) as usize * w + lon) * 4..][..4]);
    let band = |lat0: i32, lat1: i32| {
        let v: Vec<f64> = (lat0..=lat1)
            .flat_map(|lat| (0..360).step_by(3).map(move |lon| (lon, lat)))
            .map(|(lon, lat)| at(lon, lat))
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let (arctic, tropics, antarctic) = (band(75, 88), band(-10, 10), band(-88, -75));
    assert!(
        tropics > arctic + 15.0,
        "tropics {tropics} vs arctic {arctic}"
    );
    assert!(
        tropics > antarctic + 40.0,
        "tropics {tropics} vs antarctic {antarctic}"
    );
    // July: central Asia (45N 90E) is warmer than the North Pacific (45N 180E).
    assert!(
        at(90, 45) > at(180, 45) + 3.0,
        "land {} vs sea {}",
        at(90, 45),
        at(180, 45)
    );

    // A z2 tile and its data tile: colours read through the legend agree with the values.
    let (scale, offset) = (
        layer["scale"].as_f64().unwrap(),
        layer["offset"].as_f64().unwrap(),
    );
    let (_, _, colour) = read_png(&dir.join("2/2/1.png"));
    let (_, _, data) = read_png(&dir.join("data/2/2/1.png"));
    let mut errors: Vec<f64> = Vec::new();
    let (mut coldest, mut warmest) = (f64::MAX, f64::MIN);
    for k in (0..256 * 256).step_by(7) {
        if data[k * 4 + 3] == 0 {
            continue;
        }
        let value = offset + scale * (data[k * 4] as f64 * 256.0 + data[k * 4 + 1] as f64);
        coldest = coldest.min(value);
        warmest = warmest.max(value);
        let lo = legend["range"][0].as_f64().unwrap();
        let hi = legend["range"][1].as_f64().unwrap();
        errors.push((reader.value(&colour[k * 4..k * 4 + 4]) - value.clamp(lo, hi)).abs());
    }
    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    let p95 = errors[errors.len() * 95 / 100];
    assert!(
        median < 0.01 * range && p95 < 0.03 * range,
        "legend mismatch: median {median}, p95 {p95}"
    );
    // The tile (0..90E, 0..66N in July) holds hot desert and cooler northern sea.
    assert!(errors.len() > 1000);
    assert!(
        warmest > 300.0 && warmest - coldest > 20.0,
        "values {coldest}..{warmest}"
    );
}
