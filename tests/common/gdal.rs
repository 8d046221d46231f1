//! Rendered data tiles against a reference warp of the same field: `gdalwarp -r bilinear`
//! to the same tile bounds, or, for grids GDAL cannot read, a warp of ecCodes' values at
//! ecCodes' coordinates done by `tests/oracle/points_warp.py`. Data tiles, decoded with the
//! manifest's scale/offset, must agree with RMSE at most 1% of the layer's value range.

use std::path::Path;
use std::process::Command;

use tilecast::geo::tiling::{TileId, Tiling};
use tilecast::io::store::LocalStore;
use tilecast::render::encode::decode_rgba;
use tilecast::run::execute::Progress;
use tilecast::run::local::render_file;
use tilecast::settings::RenderSettings;

/// Where a reference tile comes from.
#[derive(Clone, Copy)]
pub enum Reference<'a> {
    /// gdalwarp of this source (a file or a GDAL subdataset name).
    Gdal(&'a str),
    /// The scattered-points warp of ecCodes' values at ecCodes' coordinates (GRIB field 0).
    Points,
    /// The scattered-points warp of a NetCDF variable's first slice at its coordinates.
    NetCdfPoints(&'a str),
}

pub struct Stats {
    rmse: f64,
    range: f64,
    compared: usize,
    tiles: usize,
}

/// Renders `file` and compares every data tile of zoom `z` with gdalwarp reading `source`
/// (the file itself, or a GDAL subdataset name for NetCDF variables).
pub fn compare(file: &Path, reference: Reference, tiling: Tiling, z: u8) -> Stats {
    let out = super::tempdir();
    let settings = RenderSettings {
        tiling,
        zoom: Some((z, z)),
        ..Default::default()
    };
    let report = render_file(
        file,
        &settings,
        None,
        &LocalStore::new(out.path()),
        &Progress::default(),
    )
    .expect("render");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(std::path::Path::new(&report.location).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let layer = &manifest["layers"][0];
    let (scale, offset) = (
        layer["scale"].as_f64().unwrap(),
        layer["offset"].as_f64().unwrap(),
    );
    let range = layer["value_max"].as_f64().unwrap() - layer["value_min"].as_f64().unwrap();
    let data_dir = std::path::Path::new(&report.location)
        .join(layer["name"].as_str().unwrap())
        .join("data");
    let (mut sum_sq, mut compared, mut tiles, mut ours_valid) = (0f64, 0usize, 0usize, 0usize);
    let (cols, rows) = tiling.matrix(z);
    for x in 0..cols {
        for y in 0..rows {
            let path = data_dir.join(format!("{z}/{x}/{y}.png"));
            if !path.exists() {
                continue;
            }
            tiles += 1;
            let (_, _, px) = decode_rgba(&std::fs::read(&path).unwrap()).unwrap();
            let t = TileId { z, x, y };
            let reference = match reference {
                Reference::Gdal(source) => gdalwarp(source, tiling, t, out.path()),
                Reference::Points => points_warp(&file.to_string_lossy(), tiling, t, out.path()),
                Reference::NetCdfPoints(var) => {
                    let source = format!("{}:{var}", file.display());
                    points_warp(&source, tiling, t, out.path())
                }
            };
            for (k, want) in reference.iter().enumerate() {
                let p = &px[k * 4..k * 4 + 4];
                if p[3] == 0 {
                    continue;
                }
                ours_valid += 1;
                if want.is_nan() {
                    continue;
                }
                let got = offset + scale * (p[0] as f64 * 256.0 + p[1] as f64);
                sum_sq += (got - *want as f64).powi(2);
                compared += 1;
            }
        }
    }
    assert!(tiles > 0, "no tiles rendered");
    assert!(
        compared as f64 >= 0.9 * ours_valid as f64,
        "GDAL has no value for {} of our {ours_valid} valid pixels",
        ours_valid - compared
    );
    Stats {
        rmse: (sum_sq / compared.max(1) as f64).sqrt(),
        range,
        compared,
        tiles,
    }
}

/// The scattered-points warp of `source` (a GRIB file's field 0, or `file:variable` of a
/// NetCDF file) to one tile: 256x256, NaN where none.
fn points_warp(source: &str, tiling: Tiling, t: TileId, tmp: &Path) -> Vec<f32> {
    let b = tiling.tile_bounds_native(t);
    let dst = tmp.join(format!("points_{}_{}_{}.npy", t.z, t.x, t.y));
    super::run(
        Command::new(super::python())
            .arg(super::root().join("tests/oracle/points_warp.py"))
            .arg(source)
            .arg(tiling.crs())
            .args(b.iter().map(|v| format!("{v:.10}")))
            .arg(&dst),
    );
    let (_, v) = super::read_npy(&dst);
    v.into_iter().map(|x| x as f32).collect()
}

/// gdalwarp of the first field (band 1) to one tile: 256x256 float32, NaN where GDAL has no data.
fn gdalwarp(source: &str, tiling: Tiling, t: TileId, tmp: &Path) -> Vec<f32> {
    let b = tiling.tile_bounds_native(t);
    let dst = tmp.join(format!("gdal_{}_{}_{}.bin", t.z, t.x, t.y));
    super::run(
        Command::new("gdalwarp")
            // GDAL converts GRIB temperatures to Celsius unless told not to.
            .args(["--config", "GRIB_NORMALIZE_UNITS", "NO"])
            .args(["-q", "-overwrite", "-t_srs", tiling.crs(), "-te"])
            .args(b.iter().map(|v| format!("{v:.10}")))
            .args([
                "-ts", "256", "256", "-r", "bilinear", "-ot", "Float32", "-of", "ENVI",
            ])
            .args(["-dstnodata", "nan", "-wo", "SOURCE_EXTRA=2"])
            .arg(source)
            .arg(&dst),
    );
    let bytes = std::fs::read(&dst).expect("gdalwarp output");
    // ENVI is band-sequential: band 1 (the first field) comes first.
    assert!(bytes.len() >= 256 * 256 * 4);
    bytes
        .chunks_exact(4)
        .take(256 * 256)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

pub fn check(file: &Path, tiling: Tiling, z: u8) {
    check_source(file, &file.to_string_lossy(), tiling, z)
}

pub fn check_source(file: &Path, source: &str, tiling: Tiling, z: u8) {
    check_against(file, Reference::Gdal(source), tiling, z)
}

pub fn check_against(file: &Path, reference: Reference, tiling: Tiling, z: u8) {
    let s = compare(file, reference, tiling, z);
    eprintln!(
        "{} {:?} z{z}: {} tiles, {} pixels, RMSE {:.4} ({:.3}% of range {:.2})",
        file.display(),
        tiling,
        s.tiles,
        s.compared,
        s.rmse,
        100.0 * s.rmse / s.range,
        s.range
    );
    assert!(
        s.compared > 10_000,
        "too few pixels compared: {}",
        s.compared
    );
    assert!(
        s.rmse <= 0.01 * s.range,
        "RMSE {} > 1% of range {}",
        s.rmse,
        s.range
    );
}
