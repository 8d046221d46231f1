//! The container image, built and run for real with podman (Debian's, `runc` runtime, the
//! settings in `tests/container/containers.conf`): the Dockerfile's runtime stage around the
//! release binary the other tests test (given as the build context `build`, which replaces
//! the compiling stage), on a base made by `scripts/container-base` (no image registry is
//! needed). The image then runs, exactly as the Helm chart runs it, with a read-only root
//! file system as the image's user (uid 10001) with a tmpfs at /scratch: a chunker (whose
//! `/healthz` must answer) and one-shot workers, against the real RabbitMQ, on real sample
//! files; every output file must be written by uid 10001 and equal `tilecast render`'s.
//! Missing podman, base tools or broker fail the test. Every container and the image are
//! named after the test's queue prefix and removed at the end; only the base image and the
//! layer of the runtime stage's Debian packages (`localhost/tilecast-test:runtime-packages`)
//! stay, so a rerun on the same machine does not download the packages again.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

use common::*;

/// The cached layer of the runtime stage's packages (a name kept across runs).
const PACKAGES_LAYER: &str = "localhost/tilecast-test:runtime-packages";

/// The image's fixed non-root user (the Dockerfile's USER, the chart's runAsUser).
const UID: u32 = 10001;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// podman with this test's settings (no default ulimits, runc).
fn podman() -> Command {
    let mut c = Command::new("podman");
    c.env(
        "CONTAINERS_CONF",
        root().join("tests/container/containers.conf"),
    );
    c
}

fn output(cmd: &mut Command, what: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{what}: {e} (podman and debootstrap: scripts/setup --test)"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The podman objects of one test run, all named after its queue prefix; removed on drop.
struct Pod {
    prefix: String,
    image: String,
    containers: Vec<String>,
}

impl Pod {
    fn new(prefix: &str) -> Pod {
        Pod {
            prefix: prefix.to_lowercase(),
            image: format!("localhost/tilecast-test:{}", prefix.to_lowercase()),
            containers: Vec::new(),
        }
    }

    /// A new container name of this run.
    fn name(&mut self, what: &str) -> String {
        let n = format!("{}-{what}", self.prefix);
        self.containers.push(n.clone());
        n
    }

    /// Builds the Dockerfile's last (runtime) stage with `binary` as the build stage's output.
    fn build(&self, binary: &Path) {
        let ctx = tempfile::Builder::new()
            .prefix("tilecast-bin-")
            .tempdir()
            .unwrap();
        let bin = ctx.path().join("usr/local/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(binary, bin.join("tilecast")).unwrap();
        let o = output(
            podman()
                .args(["build", "--pull=never", "--network=host", "--force-rm"])
                .arg("--build-context")
                .arg(format!("build={}", ctx.path().display()))
                .args(["--tag", &self.image, "--file"])
                .arg(root().join("Dockerfile"))
                .arg(root()),
            "podman build",
        );
        assert!(o.status.success(), "podman build failed:\n{}", text(&o));
        // Keep the layer of the runtime stage's Debian packages for the next run: removing
        // this run's image removes every layer no other image holds.
        let o = output(
            podman()
                .args([
                    "history",
                    "--no-trunc",
                    "--format",
                    "{{.ID}} {{.CreatedBy}}",
                ])
                .arg(&self.image),
            "podman history",
        );
        let history = String::from_utf8_lossy(&o.stdout);
        if let Some(id) = history
            .lines()
            .find(|l| l.contains("apt-get install") && !l.starts_with("<missing>"))
            .and_then(|l| l.split_whitespace().next())
        {
            let _ = podman().args(["tag", id, PACKAGES_LAYER]).output();
        }
    }

    /// `podman run` of the image the way the chart runs it: read-only root file system (and
    /// no writable /tmp either), the image's user, no capabilities nor privilege escalation,
    /// a tmpfs at /scratch, the host's network
    /// (the broker is on localhost), the ingest directory read-only and the output directory
    /// mounted at their host paths, so the job's source path means the same inside.
    fn run(&mut self, what: &str, c: &Cluster) -> Command {
        let name = self.name(what);
        let (ingest, out) = (
            c.ingest().display().to_string(),
            c.out().display().to_string(),
        );
        let mut cmd = podman();
        cmd.args([
            "run",
            "--name",
            &name,
            "--read-only",
            "--read-only-tmpfs=false",
        ])
        .args(["--cap-drop=ALL", "--security-opt=no-new-privileges"])
        .args([
            "--network=host",
            "--tmpfs",
            "/scratch:rw,mode=1777,size=256m",
        ])
        .args(["--volume", &format!("{ingest}:{ingest}:ro")])
        .args(["--volume", &format!("{out}:{out}")])
        .args(["--env", &format!("TILECAST_AMQP_URL={}", amqp_url())])
        .args(["--env", &format!("TILECAST_QUEUE_PREFIX={}", c.prefix)])
        .args(["--env", &format!("TILECAST_OUT={out}")])
        // The source roots workers may read (`worker --ingest`); chunkers watch it.
        .args(["--env", &format!("TILECAST_INGEST={ingest}")]);
        cmd
    }

    fn logs(&self, name: &str) -> String {
        let o = output(podman().args(["logs", name]), "podman logs");
        text(&o)
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let _ = podman()
                .args(["rm", "--force", "--ignore", "--time", "2"])
                .args(&self.containers)
                .output();
        }
        let _ = podman().args(["rmi", "--ignore", &self.image]).output();
    }
}

/// Every file under `dir` (bookkeeping included) not owned by `uid`.
fn not_owned_by(dir: &Path, uid: u32) -> Vec<(PathBuf, u32)> {
    let mut bad = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.uid() != uid {
                bad.push((p.clone(), m.uid()));
            }
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    bad
}

#[test]
fn image_runs_chunker_and_workers_read_only_as_uid_10001() {
    let start = Instant::now();
    // The broker first: a missing one fails here.
    let c = Cluster::new("container");
    let o = output(
        Command::new(root().join("scripts/container-base")).env(
            "CONTAINERS_CONF",
            root().join("tests/container/containers.conf"),
        ),
        "scripts/container-base",
    );
    assert!(o.status.success(), "scripts/container-base:\n{}", text(&o));
    let t_base = start.elapsed();

    let mut pod = Pod::new(&c.prefix);
    pod.build(&bin());
    let t_build = start.elapsed();
    let o = output(
        podman().args([
            "image",
            "inspect",
            "--format",
            "{{.Config.User}}",
            &pod.image,
        ]),
        "podman image inspect",
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("{UID}:{UID}")
    );

    // The very binary this test suite tests, and its shared libraries, run in the image.
    let host = output(Command::new(bin()).arg("--version"), "tilecast --version");
    let name = pod.name("version");
    let o = output(
        podman()
            .args([
                "run",
                "--rm",
                "--name",
                &name,
                "--read-only",
                "--network=none",
            ])
            .args([&pod.image, "--version"]),
        "podman run --version",
    );
    assert!(
        o.status.success(),
        "tilecast --version in the image:\n{}",
        text(&o)
    );
    assert_eq!(o.stdout, host.stdout, "{}", text(&o));

    // Everything the containers write goes to the output volume, owned by the image's user
    // (as a Kubernetes fsGroup or an init step would arrange).
    std::os::unix::fs::chown(c.out(), Some(UID), Some(UID)).unwrap();
    let port = free_port();
    let metrics = format!("127.0.0.1:{port}");
    let mut chunker = pod.run("chunker", &c);
    chunker
        .arg("--detach")
        .args([&pod.image, "chunker", "--zoom", "0-3", "--job-tiles", "40"])
        .args([
            "--stable-for",
            "0.3",
            "--poll-interval",
            "0.2",
            "--recheck",
            "1",
        ])
        .args(["--metrics-addr", &metrics]);
    let o = output(&mut chunker, "podman run chunker");
    assert!(o.status.success(), "chunker container:\n{}", text(&o));
    let chunker_name = pod.containers.last().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {metrics}\n{}",
            pod.logs(&chunker_name)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = http_get(port, "/healthz");
    assert_eq!(status, 200, "{body}\n{}", pod.logs(&chunker_name));
    let t_healthz = start.elapsed();

    // A GRIB2 field (read by byte range) and a NetCDF4/HDF5 file (through the worker's
    // cache under /scratch, decoded by the image's libnetcdf).
    let files = [
        shared_samples().join("grib2/cfgrib__regular_ll_msl.grib"),
        shared_samples().join("netcdf/earthkit__test.nc"),
    ];
    for f in &files {
        c.drop_file(f, f.file_name().unwrap().to_str().unwrap());
    }
    // One-shot workers, one after another, while jobs wait.
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut workers = 0;
    while c.manifests().len() < files.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} manifests after {workers} workers\n{}\n{}",
            c.manifests().len(),
            files.len(),
            c.logs(),
            pod.logs(&chunker_name)
        );
        if c.depths()["render"] == 0 {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        workers += 1;
        let mut worker = pod.run(&format!("worker{workers}"), &c);
        worker
            .arg("--rm")
            .args([&pod.image, "worker", "--idle-exit", "10"]);
        let o = output(&mut worker, "podman run worker");
        let log = c.dir.path().join(format!("logs/worker{workers}.log"));
        std::fs::write(&log, text(&o)).unwrap();
        assert!(
            o.status.success(),
            "worker container {workers} exited {:?}\n{}",
            o.status.code(),
            text(&o)
        );
    }
    let t_pipeline = start.elapsed();

    for m in c.manifests() {
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&m).unwrap()).unwrap();
        assert!(m["failed"].as_array().unwrap().is_empty(), "{m}");
        assert!(!m["layers"].as_array().unwrap().is_empty(), "{m}");
    }
    assert_same_as_local(&c, &files, &["--zoom", "0-3"]);
    let bad = not_owned_by(&c.out(), UID);
    assert!(bad.is_empty(), "written by another user: {bad:?}");
    let d = c.depths();
    assert_eq!((d["render"], d["render.dead"]), (0, 0), "{d:?}");
    assert!(workers >= 2, "{workers} worker containers");

    let o = output(
        podman().args(["stop", "--time", "10", &chunker_name]),
        "podman stop",
    );
    assert!(o.status.success(), "{}", text(&o));
    let secs = |d: Duration| d.as_secs_f64();
    eprintln!(
        "container test: base {:.1} s, image build {:.1} s, --version and /healthz {:.1} s, \
         {} files through {workers} worker containers {:.1} s, total {:.1} s",
        secs(t_base),
        secs(t_build - t_base),
        secs(t_healthz - t_build),
        files.len(),
        secs(t_pipeline - t_healthz),
        secs(start.elapsed())
    );
}
