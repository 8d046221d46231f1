//! Hostile and careless input to the `tilecast` binary, each crafted here: files declaring
//! huge grids, deep zoom ranges, devices and FIFOs, a full disk, absurd flags. Every command
//! runs under an address-space limit (`ulimit -v`) and a deadline, so a regression fails as
//! an abort or a timeout instead of swapping the machine: the expected outcome is exit 1 or
//! 3 with a message naming the file and the limit, never a signal or a hang.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::crafted::{constant_field_declaring, huge_netcdf};
use common::shared_samples as shared;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What a limited run gave: exit code (None: killed by a signal), stdout, stderr, seconds.
struct Run {
    code: Option<i32>,
    out: String,
    err: String,
    secs: f64,
}

/// Runs tilecast with `args` under `ulimit -v` of `mem_mb` and a deadline.
fn limited(mem_mb: u64, deadline: Duration, args: &[&str]) -> Run {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {} && exec \"$@\"", mem_mb * 1024))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_tilecast"))
        .args(args)
        .env("TILECAST_LOG_FORMAT", "human")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tilecast {args:?} still running after {deadline:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        out: t_out.join().unwrap(),
        err: t_err.join().unwrap(),
        secs: start.elapsed().as_secs_f64(),
    }
}

/// Asserts a clean failure: exit 1 or 3 (not a signal), no panic, and every `needle` in
/// the output.
fn assert_refused(r: &Run, what: &str, needles: &[&str]) {
    let text = format!("{}{}", r.out, r.err);
    assert!(!text.contains("panicked"), "{what}: panic: {text}");
    assert!(
        matches!(r.code, Some(1 | 3)),
        "{what}: exit {:?} (a signal or abort is a regression): {text}",
        r.code
    );
    for n in needles {
        assert!(text.contains(n), "{what}: expected {n:?} in: {text}");
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tilecast-hostile-")
        .tempdir()
        .unwrap()
}

const MEM_MB: u64 = 2048;
const DEADLINE: Duration = Duration::from_secs(60);

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_netcdf_header_declaring_a_huge_grid_is_refused_before_allocation() {
    let dir = tempdir();
    let file = dir.path().join("huge.nc");
    let curvilinear = dir.path().join("huge_2d.nc");
    huge_netcdf(&file, &curvilinear);
    let out = dir.path().join("out");
    for (f, points) in [(&file, "10000000000"), (&curvilinear, "2116000000")] {
        let name = f.file_name().unwrap().to_str().unwrap();
        for args in [
            vec!["inspect", p(f)],
            vec!["render", "--zoom", "0-1", "--out", p(&out), p(f)],
            vec![
                "extract",
                "--field",
                "0",
                "--out",
                p(&out.join("x.npy")),
                p(f),
            ],
        ] {
            let r = limited(MEM_MB, DEADLINE, &args);
            assert_refused(
                &r,
                &format!("{args:?}"),
                &[name, "grid points", points, "--max-field-points"],
            );
        }
    }
}

#[test]
fn a_tiny_grib2_file_declaring_a_huge_grid_is_refused_and_the_limit_is_a_flag() {
    let dir = tempdir();
    let file = dir.path().join("constant.grib2");
    std::fs::write(&file, constant_field_declaring(20000)).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 188);
    let out = dir.path().join("out");
    for args in [
        vec!["inspect", p(&file)],
        vec!["render", "--zoom", "0-1", "--out", p(&out), p(&file)],
    ] {
        let r = limited(MEM_MB, DEADLINE, &args);
        assert_refused(
            &r,
            &format!("{args:?}"),
            &[
                "constant.grib2",
                "field 0",
                "grid points 400000000",
                "--max-field-points",
            ],
        );
    }
    // Within the limit, the same message renders (the check is not a blanket refusal) ...
    std::fs::write(&file, constant_field_declaring(300)).unwrap();
    let r = limited(
        MEM_MB,
        DEADLINE,
        &["render", "--zoom", "0-1", "--out", p(&out), p(&file)],
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    // ... and the limit is the flag's.
    let r = limited(
        MEM_MB,
        DEADLINE,
        &[
            "render",
            "--max-field-points",
            "1000",
            "--zoom",
            "0",
            "--out",
            p(&out),
            p(&file),
        ],
    );
    assert_refused(
        &r,
        "--max-field-points 1000",
        &["grid points 90000 over the limit of 1000"],
    );
}

#[test]
fn deep_zoom_ranges_hit_the_tile_ceiling_and_threads_are_capped() {
    let dir = tempdir();
    let out = dir.path().join("out");
    let regional = shared().join("grib2/iris__uk_t.grib2");
    let r = limited(
        MEM_MB,
        DEADLINE,
        &["render", "--zoom", "0-24", "--out", p(&out), p(&regional)],
    );
    assert_refused(
        &r,
        "--zoom 0-24",
        &["iris__uk_t.grib2", "tiles", "--max-tiles"],
    );
    assert!(r.secs < 20.0, "refusing took {:.1} s", r.secs);
    let r = limited(
        MEM_MB,
        DEADLINE,
        &[
            "render",
            "--zoom",
            "0-16",
            "--max-tiles",
            "1000",
            "--out",
            p(&out),
            p(&regional),
        ],
    );
    assert_refused(
        &r,
        "--zoom 0-16 --max-tiles 1000",
        &["over the limit of 1000"],
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0);
    let r = limited(
        MEM_MB,
        DEADLINE,
        &[
            "render",
            "--threads",
            "100000",
            "--zoom",
            "0-2",
            "--out",
            p(&out),
            p(&regional),
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(r.err.contains("--threads 100000 capped to"), "{}", r.err);
}

#[test]
fn devices_and_fifos_are_refused_at_once() {
    let dir = tempdir();
    let fifo = dir.path().join("fifo.grib2");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = dir.path().join("out");
    for input in ["/dev/zero", p(&fifo)] {
        for args in [
            vec!["inspect", input],
            vec!["render", "--out", p(&out), input],
            vec![
                "render",
                "--palette",
                input,
                "--out",
                p(&out),
                p(&shared().join("grib2/iris__uk_t.grib2")),
            ],
        ] {
            let r = limited(MEM_MB, Duration::from_secs(20), &args);
            assert_refused(&r, &format!("{args:?}"), &[input, "not a regular file"]);
            assert_eq!(
                r.code,
                Some(3),
                "{args:?}: nothing could be done: {}",
                r.err
            );
        }
    }
}

#[test]
fn large_files_are_streamed_not_read_into_memory() {
    // Two real messages 1.2 GB apart (a sparse file): inspect and render must stay far below
    // the file's size.
    let dir = tempdir();
    let file = dir.path().join("large.grib2");
    let msg = std::fs::read(shared().join("grib2/iris__uk_t.grib2")).unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(&file).unwrap();
        f.write_all(&msg).unwrap();
        f.seek(SeekFrom::Start(1_200_000_000)).unwrap();
        f.write_all(&msg).unwrap();
    }
    let out = dir.path().join("out");
    let r = limited(600, DEADLINE, &["inspect", p(&file)]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    assert!(r.out.contains("2 fields"), "{}", r.out);
    let r = limited(
        600,
        DEADLINE,
        &["render", "--zoom", "0-1", "--out", p(&out), p(&file)],
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(r.err.contains("2 fields"), "{}", r.err);
}

/// A small tmpfs mounted for the test, unmounted when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_no_temporary_files() {
    let dir = tempdir();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=200k", "tmpfs"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "mounting a small tmpfs needs root (CI runs as root)"
    );
    let _mount = Mount(out.clone());
    let file = root().join("sample-data/global_t2m.grib2");
    let r = limited(
        MEM_MB,
        DEADLINE,
        &["render", "--zoom", "0-4", "--out", p(&out), p(&file)],
    );
    assert_refused(&r, "full disk", &["No space left on device"]);
    let tmp = out.join(".tilecast/tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

#[test]
fn absurd_flags_and_small_mistakes_get_clear_answers() {
    let dir = tempdir();
    let out = dir.path().join("out");
    let file = root().join("sample-data/global_t2m.grib2");
    // A range whose legend would hold infinities is a usage error (exit 2).
    let r = limited(
        MEM_MB,
        DEADLINE,
        &["render", "--range=-1e308:1e308", "--out", p(&out), p(&file)],
    );
    assert_eq!(r.code, Some(2), "{}", r.err);
    assert!(r.err.contains("range"), "{}", r.err);
    // One file that cannot be rendered at all: exit 3, its path said once.
    let bad = dir.path().join("bad.grib2");
    std::fs::write(&bad, b"not a weather file at all").unwrap();
    let r = limited(MEM_MB, DEADLINE, &["render", "--out", p(&out), p(&bad)]);
    assert_eq!(r.code, Some(3), "{}", r.err);
    let line = r
        .err
        .lines()
        .find(|l| l.contains("error"))
        .unwrap_or_default();
    assert_eq!(line.matches("bad.grib2").count(), 1, "{line}");
    // Empty output locations would mean the current directory.
    for o in ["", "file://"] {
        let r = limited(MEM_MB, DEADLINE, &["render", "--out", o, p(&file)]);
        assert_eq!(r.code, Some(3), "--out {o:?}: {}", r.err);
        assert!(r.err.contains("empty location"), "{}", r.err);
    }
    // A reader that goes away is not an error.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tilecast"))
        .args(["inspect", "--json"])
        .arg(shared().join("grib2/pygrib__ngm.grb"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("Broken pipe") && o.status.success(),
        "{:?}: {err}",
        o.status
    );
}

#[test]
fn a_palette_file_travels_by_value() {
    let dir = tempdir();
    let pal = dir.path().join("mine.json");
    std::fs::write(
        &pal,
        r##"{"name": "mine", "stops": [[0, "#000000"], [1, "#ff0000"]]}"##,
    )
    .unwrap();
    let out = dir.path().join("out");
    let file = root().join("sample-data/global_t2m.grib2");
    let r = limited(
        MEM_MB,
        DEADLINE,
        &[
            "render",
            "--zoom",
            "0",
            "--palette",
            p(&pal),
            "--out",
            p(&out),
            p(&file),
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    let run = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .find(|e| e.path().join("manifest.json").is_file())
        .unwrap()
        .path();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        m["settings"]["palette"]["name"], "mine",
        "{}",
        m["settings"]
    );
    assert_eq!(m["settings"]["palette"]["stops"][1][1], "#ff0000");
    assert!(
        !m.to_string().contains(p(&pal)),
        "the palette's path is not recorded"
    );
}

#[test]
fn an_interrupted_render_stops_promptly_and_leaves_no_manifest_or_temporary_files() {
    let dir = tempdir();
    let out = dir.path().join("out");
    let file = root().join("sample-data/lambert_t850.grib2");
    let child = Command::new(env!("CARGO_BIN_EXE_tilecast"))
        .args(["render", "--zoom", "0-8", "--out"])
        .arg(&out)
        .arg(&file)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until tiles are being written, then interrupt.
    let start = Instant::now();
    while !out.join(".tilecast/tmp").exists() {
        assert!(start.elapsed() < DEADLINE, "no render started");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stopped after {:?}",
        t.elapsed()
    );
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let runs: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().collect();
    for r in &runs {
        assert!(
            !r.path().join("manifest.json").exists(),
            "an unfinished run got a manifest"
        );
    }
    assert!(
        !out.join(".tilecast").exists(),
        "temporary files left behind"
    );
}
