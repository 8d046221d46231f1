//! `tilecast render`: the embedded, single-process renderer a new user runs first.
//!
//! Renders each file into `<out>/<run>/`, showing a progress bar on a terminal, then prints a
//! one-line summary. Exit code 1 when any field or file failed (the others are still written).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tilecast::render::{render_file, Progress};
use tilecast::resample::Resample;
use tilecast::settings::{parse_range, parse_zoom, RenderSettings};
use tilecast::tiling::Tiling;

#[derive(Args)]
pub struct RenderArgs {
    /// GRIB2 or NetCDF files, or directories (their files are rendered, sorted by name).
    #[arg(required = true, env = "TILECAST_FILES", value_delimiter = ',')]
    files: Vec<PathBuf>,
    /// Output directory; each file's run goes in `<out>/<run>/`.
    #[arg(long, short, env = "TILECAST_OUT", default_value = "out")]
    out: PathBuf,
    #[command(flatten)]
    flags: RenderFlags,
    /// Worker threads (default: one per core).
    #[arg(long, env = "TILECAST_THREADS")]
    threads: Option<usize>,
    /// Never draw a progress bar.
    #[arg(long, env = "TILECAST_QUIET")]
    quiet: bool,
}

/// The flags that decide rendered bytes (shared by `render` and `chunker`).
#[derive(Args, Clone)]
pub struct RenderFlags {
    /// Tiling scheme.
    #[arg(
        long,
        env = "TILECAST_TILING",
        value_enum,
        default_value = "webmercator"
    )]
    tiling: TilingArg,
    /// Zoom range, e.g. `0-5` (default: 0 up to the field's native resolution).
    #[arg(long, env = "TILECAST_ZOOM", value_parser = parse_zoom)]
    zoom: Option<(u8, u8)>,
    /// Resampling where a tile pixel is smaller than a grid cell.
    #[arg(
        long,
        env = "TILECAST_RESAMPLE",
        value_enum,
        default_value = "bilinear"
    )]
    resample: ResampleArg,
    /// Palette: a built-in name (viridis, turbo, temperature, precipitation, wind_speed,
    /// pressure, relative_humidity, cloud_cover, reflectivity, sst) or a JSON file.
    /// Default: chosen from the variable.
    #[arg(long, env = "TILECAST_PALETTE")]
    palette: Option<String>,
    /// Colour range `MIN:MAX` in the field's units (default: the palette's, else the data's).
    #[arg(long, env = "TILECAST_RANGE", value_parser = parse_range, allow_hyphen_values = true)]
    range: Option<(f64, f64)>,
    /// URL prefix written into TileJSON tile URLs (default: relative URLs).
    #[arg(long, env = "TILECAST_BASE_URL", default_value = "")]
    base_url: String,
}

impl RenderFlags {
    /// Validated settings.
    pub fn settings(&self) -> anyhow::Result<RenderSettings> {
        let s = RenderSettings {
            tiling: match self.tiling {
                TilingArg::Webmercator => Tiling::WebMercator,
                TilingArg::Geographic => Tiling::Geographic,
            },
            zoom: self.zoom,
            resample: match self.resample {
                ResampleArg::Bilinear => Resample::Bilinear,
                ResampleArg::Nearest => Resample::Nearest,
            },
            palette: self.palette.clone(),
            range: self.range,
            base_url: self.base_url.clone(),
        };
        s.validate()?;
        Ok(s)
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TilingArg {
    Webmercator,
    Geographic,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ResampleArg {
    Bilinear,
    Nearest,
}

fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                            matches!(
                                e.to_lowercase().as_str(),
                                "grib2" | "grb2" | "grib" | "grb" | "nc" | "nc4" | "netcdf"
                            )
                        })
                })
                .collect();
            inner.sort();
            files.extend(inner);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

pub fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let settings = args.flags.settings()?;
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    let files = expand(&args.files)?;
    if files.is_empty() {
        anyhow::bail!("no input files (directories are searched for .grib2/.grb2/.grib/.nc files)");
    }
    let start = Instant::now();
    let progress = Progress::default();
    let show = !args.quiet && std::io::stderr().is_terminal();
    let mut failures = 0usize;
    let (mut fields, mut tiles, mut bytes, mut layers) = (0usize, 0u64, 0u64, 0usize);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        if show {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {pos}/{len} tiles ({per_sec}, {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            let (progress, done) = (&progress, &done);
            scope.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    bar.set_length(progress.tiles_planned.load(Ordering::Relaxed));
                    bar.set_position(progress.tiles_done.load(Ordering::Relaxed));
                    bar.set_message(format!(
                        "{} layers",
                        progress.layers_done.load(Ordering::Relaxed)
                    ));
                    std::thread::sleep(Duration::from_millis(100));
                }
                bar.finish_and_clear();
            });
        }
        for f in &files {
            match render_file(f, &settings, &args.out, &progress) {
                Ok(r) => {
                    fields += r.fields;
                    layers += r.layers;
                    tiles += r.tiles;
                    bytes += r.bytes;
                    for fail in &r.failed {
                        failures += 1;
                        eprintln!(
                            "tilecast: {}: field {}: {}",
                            f.display(),
                            fail.field,
                            fail.error
                        );
                    }
                    eprintln!(
                        "{}: {} layers -> {}",
                        f.display(),
                        r.layers,
                        r.dir.join("manifest.json").display()
                    );
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("tilecast: error: {e}");
                }
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    eprintln!(
        "rendered {} files: {fields} fields, {layers} layers, {tiles} tiles, {:.1} MB in {:.2} s{}",
        files.len(),
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64(),
        if failures > 0 {
            format!("; {failures} failures (listed above)")
        } else {
            String::new()
        }
    );
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
