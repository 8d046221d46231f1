//! `tilecast inspect` and `tilecast extract`: look inside a file without rendering it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tilecast::decode::{inventory, FileFields};
use tilecast::geo::grid::GridKind;

#[derive(Args)]
pub struct InspectArgs {
    /// GRIB2 or NetCDF file.
    #[arg(env = "TILECAST_INSPECT_FILE")]
    file: PathBuf,
    /// Print JSON (one object with a list of fields) instead of a table.
    #[arg(long, env = "TILECAST_JSON")]
    json: bool,
}

#[derive(Args)]
pub struct ExtractArgs {
    /// GRIB2 or NetCDF file.
    #[arg(env = "TILECAST_EXTRACT_FILE")]
    file: PathBuf,
    /// Index of the field, as listed by `tilecast inspect`.
    #[arg(long, env = "TILECAST_FIELD")]
    field: usize,
    /// Output .npy path for the values: float32, shape (ny, nx), or (n,) on reduced and
    /// HEALPix grids, in the file's order.
    #[arg(long, env = "TILECAST_EXTRACT_OUT")]
    out: PathBuf,
    /// Also write each point's longitude and latitude (degrees, float64) here: shape
    /// (ny, nx, 2), or (n, 2) on reduced and HEALPix grids; NaN where a point has none
    /// (space-view pixels off the earth's disk).
    #[arg(long, env = "TILECAST_EXTRACT_LONLAT")]
    lonlat: Option<PathBuf>,
}

/// Lists fields; exit 1 when some fields cannot be decoded.
pub fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    // A streamed inventory: a message at a time, never the whole file.
    let ds = inventory(&args.file)?;
    let entries = ds.entries();
    let failed = entries.iter().filter(|e| e.info.is_err()).count();
    let mut out = std::io::stdout().lock();
    if args.json {
        let fields: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| match &e.info {
                Ok(info) => serde_json::to_value(info).expect("serialisable"),
                Err(err) => serde_json::json!({"index": e.index, "error": err.to_string()}),
            })
            .collect();
        let doc = serde_json::json!({
            "file": args.file,
            "format": ds.format(),
            "fields": fields,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{:>5}  {:<10} {:<14} {:<20} {:<10} {:<30} packing",
            "field", "variable", "level", "valid time", "units", "grid"
        )?;
        for e in entries {
            match &e.info {
                Ok(i) => writeln!(
                    out,
                    "{:>5}  {:<10} {:<14} {:<20} {:<10} {:<30} {}",
                    i.index,
                    i.variable,
                    i.level.label,
                    i.valid_time.as_deref().unwrap_or("-"),
                    i.units,
                    i.grid,
                    i.packing
                )?,
                Err(err) => writeln!(out, "{:>5}  error: {err}", e.index)?,
            }
        }
        writeln!(
            out,
            "{} fields, {failed} unsupported or corrupt",
            entries.len()
        )?;
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Decodes one field and writes it (and optionally its coordinates) as .npy.
pub fn extract(args: ExtractArgs) -> anyhow::Result<ExitCode> {
    let ds = inventory(&args.file)?;
    let field = match ds.decode(args.field) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tilecast: error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let grid = &field.grid;
    let shape = if matches!(grid.kind, GridKind::Rows(_)) && grid.ny == 1 {
        vec![grid.nx]
    } else {
        vec![grid.ny, grid.nx]
    };
    let mut buf = Vec::new();
    tilecast::io::npy::write_f32(&mut buf, &shape, &field.values)?;
    std::fs::write(&args.out, buf).with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = &args.lonlat {
        let flat: Vec<f64> = grid
            .all_lonlat()
            .into_iter()
            .flat_map(|(lon, lat)| [lon, lat])
            .collect();
        let mut shape = shape;
        shape.push(2);
        let mut buf = Vec::new();
        tilecast::io::npy::write_f64(&mut buf, &shape, &flat)?;
        std::fs::write(path, buf).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
