//! PMTiles archives in the distributed shape: chunker, one-shot workers and the ledger on the
//! real broker, with `--format pmtiles`, into a local directory and into a bucket (moto).
//! The ledger assembles each layer's archives from the jobs' parts; they must be the bytes
//! `tilecast render --format pmtiles` writes, and every tile the PyPI `pmtiles` reader finds
//! in them must be the tile `tilecast render --format dir` writes.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::s3::{bucket_cluster, Moto};
use common::*;

const FLAGS: [&str; 4] = ["--zoom", "0-3", "--format", "pmtiles"];

fn python() -> String {
    std::env::var("TILECAST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// The tiles the PyPI reader finds in an archive, by `z/x/y`.
fn pypi_tiles(archive: &[u8], scratch: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::create_dir_all(scratch).unwrap();
    let path = scratch.join("a.pmtiles");
    std::fs::write(&path, archive).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/oracle/pmtiles_read.py");
    let out = scratch.join("read");
    let st = Command::new(python())
        .arg(&script)
        .arg(&path)
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {} (scripts/setup --test): {e}", python()));
    assert!(st.success());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("archive.json")).unwrap()).unwrap();
    assert_eq!(report["error"], serde_json::Value::Null, "{report}");
    assert_eq!(report["header"]["clustered"], true);
    assert_eq!(report["offsets_in_order"], true);
    report["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let t = t.as_str().unwrap().to_string();
            let b = std::fs::read(out.join(format!("{t}.png"))).unwrap();
            (t, b)
        })
        .collect()
}

/// Every archive of `archives` (an output tree of a pmtiles run) read by the PyPI reader
/// holds exactly the tiles of the same layer in `dirs` (a `--format dir` output tree).
fn assert_archives_hold_the_directory_tiles(
    archives: &BTreeMap<PathBuf, Vec<u8>>,
    dirs: &BTreeMap<PathBuf, Vec<u8>>,
) {
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (key, bytes) in archives
        .iter()
        .filter(|(k, _)| k.extension().is_some_and(|e| e == "pmtiles"))
    {
        let layer = key.parent().unwrap().file_name().unwrap().to_str().unwrap();
        let data = key.file_name().unwrap() == "data.pmtiles";
        // The same layer's tiles in the directory tree (another run id: another folder).
        let want: BTreeMap<String, Vec<u8>> = dirs
            .iter()
            .filter_map(|(k, v)| {
                let parts: Vec<&str> = k.iter().map(|p| p.to_str().unwrap()).collect();
                let rest = match (parts.get(1), data) {
                    (Some(l), false) if *l == layer && parts.len() == 5 => &parts[2..],
                    (Some(l), true) if *l == layer && parts.len() == 6 && parts[2] == "data" => {
                        &parts[3..]
                    }
                    _ => return None,
                };
                let y = rest[2].strip_suffix(".png")?;
                Some((format!("{}/{}/{y}", rest[0], rest[1]), v.clone()))
            })
            .collect();
        assert!(!want.is_empty(), "no directory tiles for {}", key.display());
        let got = pypi_tiles(bytes, &scratch.path().join(checked.to_string()));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{}",
            key.display()
        );
        assert!(
            got == want,
            "{}: tiles differ from the directory output",
            key.display()
        );
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} archives checked");
}

fn no_parts_left(out: &Path) {
    let books = out.join(".tilecast");
    for run in std::fs::read_dir(&books).unwrap().flatten() {
        assert!(
            !run.path().join("parts").exists(),
            "parts left in {}",
            run.path().display()
        );
    }
}

/// Chunker, workers and ledger into a local directory: the same archives as `render`.
#[test]
fn the_ledger_assembles_the_archives_render_writes() {
    let mut c = Cluster::new("pmlocal");
    c.chunker(&FLAGS);
    c.pool(2, &["--idle-exit", "30"]);
    let files = [
        samples().join("global_t2m.grib2"),
        samples().join("lambert_t850.grib2"),
    ];
    for f in &files {
        c.drop_file(f, f.file_name().unwrap().to_str().unwrap());
    }
    c.wait_manifests(files.len(), Duration::from_secs(240));
    assert_same_as_local(&c, &files, &FLAGS);
    no_parts_left(&c.out());
    let ingested: Vec<PathBuf> = files
        .iter()
        .map(|f| c.ingest().join(f.file_name().unwrap()))
        .collect();
    let (_keep, dirs) = local_render(&ingested, &["--zoom", "0-3"]);
    assert_archives_hold_the_directory_tiles(&tree(&c.out()), &dirs);
}

/// The run's jobs all finish before any ledger runs (as when a ledger is restarted during
/// assembly): a ledger started then replaces a stale archive and leaves the same bytes.
#[test]
fn a_ledger_started_after_the_jobs_replaces_a_stale_archive_with_the_same_bytes() {
    let mut c = Cluster::new("pmlate");
    let mut flags = FLAGS.to_vec();
    flags.push("--no-ledger");
    c.chunker(&flags);
    c.pool(2, &["--idle-exit", "30"]);
    let file = samples().join("global_t2m.grib2");
    c.drop_file(&file, "global_t2m.grib2");
    let books = c.out().join(".tilecast");
    let mut run = None;
    wait_for(&c, "every job's result", Duration::from_secs(240), || {
        let Some(plan) = std::fs::read_dir(&books).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path().join("plan.json"))
                .find(|p| p.exists())
        }) else {
            return false;
        };
        let p: tilecast::run::plan::RunPlan =
            serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
        let jobs: usize = p.layers.iter().map(|l| l.jobs.len()).sum();
        let results = std::fs::read_dir(plan.parent().unwrap().join("results"))
            .map(|rd| rd.count())
            .unwrap_or(0);
        run = Some(p);
        results == jobs
    });
    let plan = run.unwrap();
    assert!(c.manifests().is_empty(), "no ledger, no manifest");
    // What a ledger killed mid-assembly leaves: an archive of another attempt and its work
    // directory.
    let layer = &plan.layers[0].name;
    let stale = c.out().join(&plan.run).join(layer).join("tiles.pmtiles");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, b"PMTiles\x03 half an archive").unwrap();
    std::fs::create_dir_all(books.join("tmp/archive-1-0")).unwrap();
    std::fs::write(books.join("tmp/archive-1-0/colour.tiles"), b"partial").unwrap();
    c.start(
        "ledger",
        &["ledger", "--recheck", "1", "--metrics-addr", "127.0.0.1:0"],
    );
    c.wait_manifests(1, Duration::from_secs(120));
    let _ = std::fs::remove_dir_all(books.join("tmp/archive-1-0"));
    assert_same_as_local(&c, &[file], &FLAGS);
    no_parts_left(&c.out());
}

/// Into a bucket: the ledger's archives (multipart uploads) and `render`'s to a bucket are
/// the bytes of a local render, with the PMTiles content type.
#[test]
fn archives_in_a_bucket_are_the_local_archives() {
    let moto = Moto::start();
    moto.create_bucket("ingest");
    moto.create_bucket("tiles");
    let (ingest, out) = (moto.client("ingest"), moto.client("tiles"));
    let mut c = bucket_cluster("pms3", &moto.endpoint());
    let mut args = vec![
        "chunker",
        "--ingest",
        "s3://ingest/drop",
        "--poll-interval",
        "0.3",
        "--recheck",
        "1",
        "--metrics-addr",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(&FLAGS);
    c.start("chunker", &args);
    c.pool(2, &["--idle-exit", "30"]);
    let file = samples().join("global_t2m.grib2");
    ingest.put_file("drop/global_t2m.grib2", &file);
    wait_for(&c, "the manifest", Duration::from_secs(240), || {
        out.manifests("runs").len() == 1
    });
    let (_keep, local) = local_render(std::slice::from_ref(&file), &FLAGS);
    assert_same(&out.tree("runs"), &local);
    let archive = local
        .keys()
        .find(|k| k.ends_with("tiles.pmtiles"))
        .expect("an archive");
    let (ctype, cache) = out.headers(&format!("runs/{}", archive.display()));
    assert_eq!(ctype.as_deref(), Some("application/vnd.pmtiles"));
    assert_eq!(
        cache.as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let parts = out.list("runs/.tilecast");
    assert!(
        parts.keys().all(|k| !k.contains("/parts/")),
        "parts left: {parts:?}"
    );

    // `render` straight into a bucket assembles the same archives there.
    ingest.put_file("gfs/global_t2m.grib2", &file);
    let o = Command::new(bin())
        .args([
            "render",
            "s3://ingest/gfs",
            "--out",
            "s3://tiles/direct",
            "--quiet",
        ])
        .args(FLAGS)
        .envs(moto.env())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_same(&out.tree("direct"), &local);
}
