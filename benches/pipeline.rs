//! Criterion benchmarks of each pipeline stage on real inputs: decode per packing, resample,
//! colour, PNG encode, and a whole z0-z5 pyramid of a 1440x721 global field and of a Lambert
//! field. See benches/README.md for numbers and how to compare with ecCodes and GDAL.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use tilecast::decode::Dataset;
use tilecast::geo::tiling::{TileId, Tiling};
use tilecast::render::encode::{data_pixels, indexed_png, rgba_png, DataScale};
use tilecast::render::palette::{ColourTable, Palette};
use tilecast::render::resample::{Resample, Sampler};

fn shared(rel: &str) -> PathBuf {
    let base = std::env::var_os("TILECAST_SHARED_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/sample-data"));
    base.join(rel)
}

/// One real file per packing.
fn packings() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("simple", shared("grib2/cfgrib__regular_ll_msl.grib")),
        (
            "complex_spatial_diff",
            shared("grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2"),
        ),
        ("complex", shared("grib2/cfgrib__ds.waveh.5.grib")),
        (
            "jpeg2000",
            shared("grib2/geocat__fh.0012_tl.press_gr.awp211.grb2"),
        ),
        (
            "png",
            shared("grib2/geocat__200711210135_NCV_FLIGHTCAT_A.grb2"),
        ),
        ("ccsds", shared("grib2/gribberish__aifs-single-t500.grib2")),
    ]
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (name, path) in packings() {
        let ds = Dataset::open(&path).expect("sample file");
        let n = ds.decode(0).expect("decodes").values.len();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| ds.decode(0).unwrap())
        });
    }
    g.finish();
}

fn stages(c: &mut Criterion) {
    let ds = Dataset::open(&shared(
        "grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2",
    ))
    .unwrap();
    let field = ds.decode(0).unwrap();
    let sampler = Sampler::new(field.grid.clone(), field.values.clone(), Resample::Bilinear);
    let tile = TileId { z: 5, x: 10, y: 12 };
    let mut g = c.benchmark_group("stages");
    g.bench_function("summed_area_table_1440x721", |b| {
        b.iter(|| Sampler::new(field.grid.clone(), field.values.clone(), Resample::Bilinear))
    });
    g.bench_function("resample_tile_z5", |b| {
        b.iter(|| sampler.tile(Tiling::WebMercator, tile))
    });
    g.bench_function("resample_tile_z1_averaging", |b| {
        b.iter(|| sampler.tile(Tiling::WebMercator, TileId { z: 1, x: 0, y: 0 }))
    });
    let values = sampler.tile(Tiling::WebMercator, tile);
    let table = ColourTable::new(&Palette::builtin("temperature").unwrap(), 223.15, 323.15);
    g.bench_function("colour_tile", |b| {
        b.iter(|| values.iter().map(|&v| table.index(v)).collect::<Vec<u8>>())
    });
    let idx: Vec<u8> = values.iter().map(|&v| table.index(v)).collect();
    g.bench_function("png_indexed_tile", |b| {
        b.iter(|| indexed_png(256, 256, &idx, &table.entries).unwrap())
    });
    let scale = DataScale::for_range(180.0, 320.0);
    g.bench_function("png_data_tile", |b| {
        b.iter(|| rgba_png(256, 256, &data_pixels(&values, scale)).unwrap())
    });
    g.finish();
}

/// Colour and data tiles of zooms 0-5, in memory (no disk writes), on all cores.
fn pyramid(c: &mut Criterion) {
    let mut g = c.benchmark_group("pyramid");
    g.sample_size(10);
    for (name, path, zmax) in [
        (
            "global_1440x721_z0-5",
            shared("grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2"),
            5u8,
        ),
        (
            "lambert_hrrr_z0-6",
            shared("grib2/gribberish__hrrr.t06z.wrfsfcf01-TMP.grib2"),
            6u8,
        ),
    ] {
        let ds = Dataset::open(&path).unwrap();
        let field = ds.decode(0).unwrap();
        let table = ColourTable::new(&Palette::builtin("temperature").unwrap(), 223.15, 323.15);
        let scale = DataScale::for_range(180.0, 320.0);
        let bounds = field.grid.bounds();
        let tiles: Vec<TileId> = (0..=zmax)
            .flat_map(|z| Tiling::WebMercator.tiles_covering(z, bounds))
            .collect();
        g.throughput(Throughput::Elements(tiles.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let sampler =
                    Sampler::new(field.grid.clone(), field.values.clone(), Resample::Bilinear);
                tiles
                    .par_iter()
                    .map(|&t| {
                        let v = sampler.tile(Tiling::WebMercator, t);
                        if v.iter().all(|x| x.is_nan()) {
                            return 0;
                        }
                        let idx: Vec<u8> = v.iter().map(|&x| table.index(x)).collect();
                        indexed_png(256, 256, &idx, &table.entries).unwrap().len()
                            + rgba_png(256, 256, &data_pixels(&v, scale)).unwrap().len()
                    })
                    .sum::<usize>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decode, stages, pyramid);
criterion_main!(benches);
