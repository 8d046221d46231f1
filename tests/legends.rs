//! Legends and colour ranges of every field in the sample files: full names with their
//! units, ranges that cover the data (fixed ranges from the quantity, not the data), and
//! the legend files `render` writes.

mod common;

use std::path::{Path, PathBuf};

use tilecast::decode::{Dataset, Field};
use tilecast::io::store::LocalStore;
use tilecast::render::range::RangeSource;
use tilecast::run::execute::Progress;
use tilecast::run::layer::{self, Styling};
use tilecast::run::local::render_file;
use tilecast::settings::RenderSettings;

/// Every sample file: the project's own and the shared ones.
fn sample_files() -> Vec<PathBuf> {
    let shared = common::shared_samples();
    let mut files = Vec::new();
    for dir in [
        common::own_samples(),
        shared.join("grib2"),
        shared.join("netcdf"),
        shared.join("grids"),
        shared.join("unsupported"),
        shared.join("grib1"),
    ] {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in read.flatten() {
            let p = e.path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if p.is_file() && !matches!(ext, "md" | "py") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 20, "{} sample files", files.len());
    files
}

/// Single-word names that are a parameter's whole name.
const ONE_WORD: &[&str] = &[
    "Temperature",
    "Pressure",
    "Orography",
    "Geopotential",
    "Precipitation",
    "Albedo",
    "Visibility",
    "Emissivity",
    "Direction",
];

/// The fraction of finite, possible values outside the colour range. Values past the
/// quantity's physical bounds (below 0 K, negative pressures or amounts: packing noise and
/// fill) are not data.
fn clamped(field: &Field, style: &Styling) -> (f64, usize) {
    let (min, max) = (style.table.min, style.table.max);
    let tol = (max - min).abs() * 1e-6;
    let (lo, hi) = style.quantity.map_or((None, None), |q| q.bounds);
    let lo = lo.map_or(f64::NEG_INFINITY, |b| style.display.unshow(b) - tol);
    let hi = hi.map_or(f64::INFINITY, |b| style.display.unshow(b) + tol);
    let finite: Vec<f64> = field
        .values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| v as f64)
        .filter(|v| (lo..=hi).contains(v))
        .collect();
    let out = finite
        .iter()
        .filter(|&&v| v < min - tol || v > max + tol)
        .count();
    (out as f64 / finite.len().max(1) as f64, finite.len())
}

fn check_file(path: &Path, problems: &mut Vec<String>, fields: &mut usize) {
    let Ok(ds) = Dataset::open(path) else {
        return;
    };
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    for e in ds.entries() {
        let Ok(info) = &e.info else { continue };
        let Ok(field) = ds.decode(info.index) else {
            continue;
        };
        *fields += 1;
        let style = layer::style(&field, &RenderSettings::default(), None).unwrap();
        let legend = layer::legend(&field.info, &style);
        let json = serde_json::to_value(legend.json(&style.palette, &style.table)).unwrap();
        let title = json["title"].as_str().unwrap();
        let name = json["name"].as_str().unwrap();
        let shown = json["display"]["units"].as_str().unwrap();
        let what = format!("{file} #{} {} ({title})", info.index, info.variable);
        let one_word = ONE_WORD.iter().any(|w| w.eq_ignore_ascii_case(name));
        if !(name.contains(' ') || one_word) {
            problems.push(format!("{what}: name {name:?} is not a full name"));
        }
        if !info.units.trim().is_empty() && shown.trim().is_empty() {
            problems.push(format!("{what}: no display units"));
        }
        if !shown.trim().is_empty() && !title.ends_with(&format!("({shown})")) {
            problems.push(format!("{what}: the title lacks its units"));
        }
        let (out, n) = clamped(&field, &style);
        // Fewer than 20% of the values past the range: it covers the data. NAM's cloud base
        // and cloud top fields hold undefined values at cloud-free points (heights down to
        // -6 km, negative pressures), so only their names are checked.
        let cloud = matches!(info.level.kind.as_str(), "cloud_base" | "cloud_top");
        if n > 0 && out >= 0.2 && !cloud {
            problems.push(format!(
                "{what}: {:.0}% of values outside {}..{} ({:?})",
                out * 100.0,
                style.table.min,
                style.table.max,
                style.range_source
            ));
        }
        if std::env::var_os("TILECAST_LEGEND_REPORT").is_some() {
            eprintln!(
                "{what} | {:?} {} | {:?} | {:.1}% out",
                style.range_source,
                style.palette.name,
                json["display"]["range"],
                out * 100.0
            );
        }
    }
}

#[test]
fn every_sample_field_gets_a_full_name_its_units_and_a_range_that_covers_it() {
    let mut problems = Vec::new();
    let mut fields = 0;
    for f in sample_files() {
        check_file(&f, &mut problems, &mut fields);
    }
    assert!(fields > 500, "only {fields} fields decoded");
    assert!(
        problems.is_empty(),
        "{} of {fields} fields:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// GFS temperature on the -2 PVU surface: the upper-air range covers it (it was clamped to
/// the darkest colour on 91% of the points with the surface range).
#[test]
fn temperature_on_the_pv_surface_is_not_clamped() {
    let path = common::shared_samples()
        .join("grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2");
    let field = Dataset::open(&path).unwrap().decode(0).unwrap();
    assert_eq!(field.info.level.kind, "potential_vorticity");
    let style = layer::style(&field, &RenderSettings::default(), None).unwrap();
    assert_eq!(style.range_source, RangeSource::Quantity);
    assert_eq!(style.palette.name, "temperature");
    let at_min = field
        .values
        .iter()
        .filter(|v| v.is_finite() && (**v as f64) <= style.table.min)
        .count() as f64
        / field.values.iter().filter(|v| v.is_finite()).count() as f64;
    let (out, _) = clamped(&field, &style);
    assert!(
        at_min < 0.05 && out < 0.05,
        "{at_min} at the minimum, {out} outside"
    );
    let legend = layer::legend(&field.info, &style);
    assert_eq!(legend.title(), "Temperature, -2 PVU (°C)");
}

/// `render` writes legend.json with the title, display units and conversion, and a legend
/// PNG wide enough for its title.
#[test]
fn rendered_legends_state_names_units_and_conversion() {
    let out = common::tempdir();
    let settings = RenderSettings {
        zoom: Some((0, 0)),
        ..Default::default()
    };
    let mut seen = Vec::new();
    for name in ["global_t2m.grib2", "global_uv10.grib2", "era_like.nc"] {
        let report = render_file(
            &common::own_samples().join(name),
            &settings,
            None,
            &LocalStore::new(out.path()),
            &Progress::default(),
        )
        .unwrap();
        let run = Path::new(&report.location);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
        for layer in manifest["layers"].as_array().unwrap() {
            let dir = run.join(layer["name"].as_str().unwrap());
            let legend: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("legend.json")).unwrap()).unwrap();
            let png = std::fs::read(dir.join("legend.png")).unwrap();
            let (w, _, _) = tilecast::render::encode::decode_rgba(&png).unwrap();
            let title = legend["title"].as_str().unwrap().to_string();
            assert!(
                w as f32 > tilecast::render::text::width(&title, 15.0),
                "{title}: {w} px"
            );
            let tj: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("tilejson.json")).unwrap()).unwrap();
            let text = tj["legend"].as_str().unwrap();
            assert!(text.starts_with(&title), "{text} vs {title}");
            seen.push((layer["variable"].as_str().unwrap().to_string(), legend));
        }
    }
    let by = |v: &str| {
        seen.iter()
            .find(|(var, _)| var == v)
            .unwrap_or_else(|| panic!("{v} rendered"))
            .1
            .clone()
    };
    let t = by("tmp");
    assert_eq!(t["title"], "Temperature, 2 m above ground (°C)");
    assert_eq!(t["units"], "K");
    assert_eq!(t["display"]["units"], "°C");
    assert_eq!(t["display"]["offset"], -273.15);
    assert_eq!(t["display"]["range"], serde_json::json!([-50.0, 50.0]));
    assert_eq!(t["extend"], "both");
    let msl = by("msl");
    assert_eq!(msl["display"]["units"], "hPa");
    assert_eq!(msl["display"]["scale"], 0.01);
    assert_eq!(msl["range"], serde_json::json!([96000.0, 104000.0]));
    let ws = by("wind_speed");
    assert_eq!(ws["title"], "Wind speed, 10 m above ground (m/s)");
    assert_eq!(ws["extend"], "max");
    let u = by("ugrd");
    assert_eq!(u["range"][0], -u["range"][1].as_f64().unwrap());
    assert_eq!(u["palette"], "wind_component");
}
