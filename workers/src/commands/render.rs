//! `tilecast render`: the embedded, single-process renderer a new user runs first.
//!
//! Renders each file into `<out>/<run>/`, showing a progress bar on a terminal, publishes the
//! viewer beside the catalog (`crate::site`) when a run completed, then prints a one-line
//! summary. Exit code 1 when any field or file failed (the others are still written).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tilecast::geo::tiling::Tiling;
use tilecast::io::store::Store;
use tilecast::render::palette::PaletteSpec;
use tilecast::render::resample::Resample;
use tilecast::run::execute::Progress;
use tilecast::run::local::render_file;
use tilecast::run::publish::BaseUrl;
use tilecast::settings::{
    parse_data_zoom, parse_format, parse_range, parse_zoom, DataZoom, Images, OutputFormat,
    RenderSettings,
};

use crate::infra::storage::{Location, S3Args};

#[derive(Args)]
pub struct RenderArgs {
    /// GRIB (edition 1 or 2) or NetCDF files or objects (`s3://bucket/key`), or directories
    /// and bucket prefixes (their GRIB and NetCDF files, by extension, are rendered, sorted by
    /// name).
    #[arg(required = true, env = "TILECAST_FILES", value_delimiter = ',')]
    files: Vec<String>,
    /// Output location (a directory, file://path or s3://bucket/prefix); each file's run goes
    /// in `<out>/<run>/`.
    #[arg(long, short, env = "TILECAST_OUT", default_value = "out")]
    out: String,
    #[command(flatten)]
    s3: S3Args,
    #[command(flatten)]
    flags: RenderFlags,
    #[command(flatten)]
    publish: PublishFlags,
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
    /// Highest zoom of data tiles: `native` (up to the zoom where a tile pixel is no
    /// smaller than a grid cell; clients overzoom above it), `all` (every zoom, as colour
    /// tiles) or a zoom number. Always within the layer's zoom range.
    #[arg(long, env = "TILECAST_DATA_ZOOM", value_name = "native|all|N",
          default_value = "native", value_parser = parse_data_zoom)]
    data_zoom: DataZoom,
    /// Resampling where a tile pixel is smaller than a grid cell.
    #[arg(
        long,
        env = "TILECAST_RESAMPLE",
        value_enum,
        default_value = "bilinear"
    )]
    resample: ResampleArg,
    /// Palette: a built-in name (viridis, turbo, temperature, precipitation, wind_speed,
    /// pressure, relative_humidity, cloud_cover, reflectivity, sst) or a JSON palette file
    /// (at most 64 KB, read once here: its content, not its path, goes into the settings and
    /// the run id). Default: chosen from the variable.
    #[arg(long, env = "TILECAST_PALETTE")]
    palette: Option<String>,
    /// Colour range `MIN:MAX` in the field's units (default: the palette's, else the data's).
    #[arg(long, env = "TILECAST_RANGE", value_parser = parse_range, allow_hyphen_values = true)]
    range: Option<(f64, f64)>,
    /// Whole-field images per layer besides the tiles: `equirect` writes `image.png` (the
    /// field on a lon/lat grid, 8-bit with its `imageUnscale` in the manifest, as
    /// WeatherLayers GL reads it) and, per u/v pair, `vector_image.png` (u in R, v in G).
    #[arg(long, env = "TILECAST_IMAGES", value_enum, default_value = "none")]
    images: ImagesArg,
    /// How tiles are published: `dir` (`<layer>/{z}/{x}/{y}.png` and `<layer>/data/...`),
    /// `pmtiles` (PMTiles v3 archives per layer, `<layer>/tiles.pmtiles` for colour tiles and
    /// `<layer>/data.pmtiles` for data tiles, assembled from the jobs' parts when the run
    /// completes) or `both`. Part of the run id.
    #[arg(long, env = "TILECAST_FORMAT", value_name = "dir|pmtiles|both",
          default_value = "dir", value_parser = parse_format)]
    format: OutputFormat,
}

/// Where the outputs are published (shared by `render` and `chunker`): changes the TileJSON
/// documents and the manifest, never a tile, a run id or a job id.
#[derive(Args, Clone)]
pub struct PublishFlags {
    /// Public URL of the output root, an absolute http:// or https:// URL such as
    /// https://tiles.example.com/weather: TileJSON tile and legend URLs become
    /// `URL/<run>/<layer>/...`. Default (or empty): tile URLs relative to each TileJSON,
    /// usable only by clients that resolve them against the TileJSON's own URL.
    #[arg(long, env = "TILECAST_BASE_URL", value_name = "URL", value_parser = check_base_url)]
    base_url: Option<String>,
}

/// Accepts an empty value (no base URL: an unset chart value) or a valid base URL.
fn check_base_url(s: &str) -> Result<String, String> {
    if !s.is_empty() {
        BaseUrl::parse(s)?;
    }
    Ok(s.to_string())
}

impl PublishFlags {
    /// The validated base URL, `None` when absent or empty.
    pub fn base_url(&self) -> anyhow::Result<Option<BaseUrl>> {
        let given = self.base_url.as_deref().filter(|s| !s.is_empty());
        given
            .map(BaseUrl::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--base-url: {e}"))
    }
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
            palette: self
                .palette
                .as_deref()
                .map(PaletteSpec::from_arg)
                .transpose()?,
            range: self.range,
            images: match self.images {
                ImagesArg::None => Images::None,
                ImagesArg::Equirect => Images::Equirect,
            },
            data_zoom: self.data_zoom,
            format: self.format,
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

#[derive(Clone, Copy, clap::ValueEnum)]
enum ImagesArg {
    None,
    Equirect,
}

fn renderable(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, e)| {
        matches!(
            e.to_lowercase().as_str(),
            "grib2" | "grb2" | "grib1" | "grb1" | "grib" | "grb" | "nc" | "nc4" | "netcdf"
        )
    })
}

/// One input: a local file, or an object to be fetched first.
enum Input {
    File(PathBuf),
    Object { store: Arc<dyn Store>, key: String },
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Object { store, key } => store.url(key),
        }
    }
}

fn expand(items: &[String], s3: &S3Args) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for item in items {
        match Location::parse(item)? {
            Location::Local(p) if p.is_dir() => {
                let mut inner: Vec<PathBuf> = std::fs::read_dir(&p)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.is_file()
                            && renderable(&p.file_name().unwrap_or_default().to_string_lossy())
                    })
                    .collect();
                inner.sort();
                inputs.extend(inner.into_iter().map(Input::File));
            }
            Location::Local(p) => inputs.push(Input::File(p)),
            Location::S3 { bucket, prefix } => {
                let store = Location::S3 {
                    bucket,
                    prefix: String::new(),
                }
                .open(s3)?;
                if !prefix.is_empty() && store.head(&prefix)?.is_some() {
                    inputs.push(Input::Object { store, key: prefix });
                    continue;
                }
                let under = if prefix.is_empty() {
                    prefix
                } else {
                    format!("{prefix}/")
                };
                for o in store.list(&under)? {
                    if renderable(&o.key) {
                        inputs.push(Input::Object {
                            store: store.clone(),
                            key: o.key,
                        });
                    }
                }
            }
        }
    }
    Ok(inputs)
}

/// Renders one input, fetching an object into a temporary directory first (under its own
/// file name, which the manifest records as the source key).
fn render_input(
    input: &Input,
    settings: &RenderSettings,
    base_url: Option<&BaseUrl>,
    out: &dyn Store,
    progress: &Progress,
) -> anyhow::Result<tilecast::run::local::RunReport> {
    match input {
        Input::File(p) => Ok(render_file(p, settings, base_url, out, progress)?),
        Input::Object { store, key } => {
            let dir = tempfile::Builder::new()
                .prefix("tilecast-fetch-")
                .tempdir()?;
            let path = dir.path().join(key.rsplit('/').next().unwrap_or("object"));
            store.download(key, &path)?;
            Ok(render_file(&path, settings, base_url, out, progress)?)
        }
    }
}

pub fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let settings = args.flags.settings()?;
    let base_url = args.publish.base_url()?;
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(thread_count(n)?)
            .build_global()?;
    }
    let files = expand(&args.files, &args.s3)?;
    let out = Location::parse(&args.out)?.open(&args.s3)?;
    if files.is_empty() {
        anyhow::bail!("no input files (directories are searched for .grib2/.grb2/.grib/.nc files)");
    }
    let start = Instant::now();
    let progress = Arc::new(Progress::default());
    stop_on_signals(progress.clone());
    let show = !args.quiet && std::io::stderr().is_terminal();
    let mut failures = 0usize;
    let mut rendered = 0usize;
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
            if progress.stopped() {
                break;
            }
            match render_input(f, &settings, base_url.as_ref(), out.as_ref(), &progress) {
                Ok(r) => {
                    rendered += 1;
                    fields += r.fields;
                    layers += r.layers;
                    tiles += r.tiles;
                    bytes += r.bytes;
                    for fail in &r.failed {
                        failures += 1;
                        eprintln!(
                            "tilecast: {}: field {}: {}",
                            f.name(),
                            fail.field,
                            fail.error
                        );
                    }
                    eprintln!(
                        "{}: {} layers -> {}/manifest.json",
                        f.name(),
                        r.layers,
                        r.location
                    );
                }
                Err(e) => {
                    failures += 1;
                    // Errors name their file; say which input otherwise.
                    let text = format!("{e:#}");
                    if text.contains(&f.name()) {
                        eprintln!("tilecast: error: {text}");
                    } else {
                        eprintln!("tilecast: error: {}: {text}", f.name());
                    }
                }
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    // The viewer beside catalog.json, once per command and only over a catalog with a run.
    if rendered > 0 && !progress.stopped() {
        if let Err(e) = crate::site::publish(out.as_ref()) {
            failures += 1;
            eprintln!("tilecast: error: {e:#}");
        }
    }
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
    if progress.stopped() {
        // Interrupted: no manifest was written for the unfinished run; leave no empty
        // bookkeeping folders behind.
        if let Some(root) = out.local_root() {
            let _ = std::fs::remove_dir(tilecast::io::store::tmp_dir(root));
            let _ = std::fs::remove_dir(root.join(".tilecast"));
        }
        eprintln!("tilecast: interrupted; the unfinished run has no manifest");
        return Ok(ExitCode::from(130));
    }
    // 3: no file could be rendered at all; 1: some files or fields failed.
    Ok(if rendered == 0 {
        ExitCode::from(3)
    } else if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// On the first SIGINT or SIGTERM, asks the render to stop between tiles (no manifest is
/// written for an unfinished run, and every tile written is whole); on a second, exits at
/// once.
fn stop_on_signals(progress: Arc<Progress>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            progress.request_stop();
            eprintln!("tilecast: stopping after the tiles in progress (again to quit at once)");
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            std::process::exit(130);
        });
    });
}

/// Most rayon threads per core `--threads` may ask for: more only adds switching.
const THREADS_PER_CORE: usize = 4;

/// `--threads`, at least 1 and at most [`THREADS_PER_CORE`] per core (capped, with a note).
fn thread_count(asked: usize) -> anyhow::Result<usize> {
    anyhow::ensure!(asked > 0, "--threads 0: need at least one thread");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cap = cores * THREADS_PER_CORE;
    if asked > cap {
        eprintln!(
            "tilecast: --threads {asked} capped to {cap} ({THREADS_PER_CORE} per core, {cores} cores)"
        );
    }
    Ok(asked.min(cap))
}
