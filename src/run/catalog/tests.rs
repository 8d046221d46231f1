//! The catalog on a local directory: what a run adds, concurrent writers, series, STAC
//! documents, styles and prune.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::prune::{prune, select, Rule};
use super::*;
use crate::io::store::LocalStore;
use crate::run::execute::Progress;
use crate::run::local::render_file;
use crate::run::manifest::Manifest;
use crate::settings::RenderSettings;

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/global_t2m.grib2")
}

/// A real manifest (of the sample rendered at z0 into `dir`).
fn rendered(dir: &Path) -> Manifest {
    let store = LocalStore::new(dir);
    let settings = RenderSettings {
        zoom: Some((0, 0)),
        ..Default::default()
    };
    let r = render_file(&sample(), &settings, None, &store, &Progress::default()).unwrap();
    serde_json::from_slice(
        &store
            .get(&format!("{}/manifest.json", r.run))
            .unwrap()
            .unwrap(),
    )
    .unwrap()
}

/// The manifest as another run of the same series at reference time `hour`.
fn step(m: &Manifest, run: &str, hour: u32) -> Manifest {
    let mut m = m.clone();
    m.run = run.to_string();
    for l in &mut m.layers {
        l.reference_time = Some(format!("2026-07-01T{hour:02}:00:00Z"));
        l.valid_time = Some(format!("2026-07-01T{:02}:00:00Z", hour + 6));
    }
    m
}

#[test]
fn a_render_lists_its_run_with_urls_series_stac_and_style() {
    let dir = tempfile::tempdir().unwrap();
    let m = rendered(dir.path());
    let store = LocalStore::new(dir.path());
    let cat = read(&store).unwrap();
    let run = &cat.runs[&m.run];
    assert_eq!(run.layers.len(), m.layers.len());
    let l = &run.layers[0];
    assert_eq!(l.tilejson, format!("{}/{}/tilejson.json", m.run, l.name));
    // Every URL the catalog gives (relative to the output root) names a file that exists.
    for key in [
        &l.tilejson,
        &l.legend_png,
        &l.legend_json,
        &l.full_image,
        &l.stac_item,
    ] {
        assert!(dir.path().join(key).is_file(), "{key}");
    }
    assert!(dir.path().join(&run.style).is_file());
    let s = &cat.series[&l.series];
    assert_eq!(s.steps.len(), 1);
    assert_eq!(s.latest_run, m.run);
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(stac::ROOT_KEY)).unwrap()).unwrap();
    assert_eq!(root["type"], "Catalog");
    let coll: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join(stac::collection_key(&l.series))).unwrap(),
    )
    .unwrap();
    assert_eq!(coll["type"], "Collection");
    // Relative links resolve to real files.
    let coll_dir = dir.path().join(stac::collection_key(&l.series));
    let coll_dir = coll_dir.parent().unwrap();
    let items: Vec<&str> = coll["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["rel"] == "item")
        .map(|k| k["href"].as_str().unwrap())
        .collect();
    assert_eq!(items.len(), 1);
    assert!(coll_dir.join(items[0]).is_file(), "{}", items[0]);
    let style: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(&run.style)).unwrap()).unwrap();
    assert_eq!(style["version"], 8);
    assert_eq!(style["sources"][&l.name]["url"], l.tilejson.as_str());
    // Recording the same run again changes nothing, and the catalog holds no time: the
    // same runs make the same bytes.
    let before = std::fs::read(dir.path().join(CATALOG_KEY)).unwrap();
    record_run(&store, &m).unwrap();
    assert_eq!(std::fs::read(dir.path().join(CATALOG_KEY)).unwrap(), before);
}

#[test]
fn concurrent_writers_lose_no_run() {
    let dir = tempfile::tempdir().unwrap();
    let m = rendered(dir.path());
    let store = LocalStore::new(dir.path());
    let runs: Vec<Manifest> = (0..16)
        .map(|k| step(&m, &format!("run{k:02}"), k % 12))
        .collect();
    std::thread::scope(|scope| {
        for chunk in runs.chunks(2) {
            let store = &store;
            scope.spawn(move || {
                for r in chunk {
                    record_run(store, r).unwrap();
                }
            });
        }
    });
    let cat = read(&store).unwrap();
    assert_eq!(
        cat.runs.len(),
        17,
        "{:?}",
        cat.runs.keys().collect::<Vec<_>>()
    );
    let series = &cat.series[&cat.runs["run00"].layers[0].series];
    assert_eq!(series.steps.len(), 17);
    // The latest reference time is hour 11 (run11); of the original (no time change) the
    // manifest's own time decides, so compare with the maximum.
    let latest = cat
        .runs
        .values()
        .map(|r| (&r.reference_time, &r.run))
        .max()
        .unwrap();
    assert_eq!(&series.latest_run, latest.1);
}

#[test]
fn prune_keeps_the_newest_runs_of_each_series_and_removes_the_rest_entirely() {
    let dir = tempfile::tempdir().unwrap();
    let m = rendered(dir.path());
    let store = LocalStore::new(dir.path());
    // Three more runs of the series, each with the original's objects copied under its id.
    for (k, hour) in [(1, 0), (2, 6), (3, 12)] {
        let run = format!("run{k}");
        let src = dir.path().join(&m.run);
        copy_dir(&src, &dir.path().join(&run));
        let s = step(&m, &run, hour);
        record_run(&store, &s).unwrap();
    }
    let cat = read(&store).unwrap();
    let now = SystemTime::now();
    let chosen = select(
        &cat,
        Rule {
            keep: Some(2),
            older_than: None,
        },
    );
    // The two newest by reference time are run3 (12Z) and the sample's own run or run2.
    assert_eq!(chosen.len(), cat.runs.len() - 2, "{chosen:?}");
    assert!(!chosen.contains("run3"));
    // A run whose render is in progress is never removed.
    let victim = chosen.iter().next().unwrap().clone();
    store
        .put(
            &prune::active_key(&victim),
            serde_json::to_vec(&prune::ActiveMarker {
                pid: 1,
                started: rfc3339(now),
            })
            .unwrap(),
            PutMeta::PRIVATE,
        )
        .unwrap();
    let rule = Rule {
        keep: Some(2),
        older_than: None,
    };
    let dry = prune(&store, rule, now, true).unwrap();
    assert!(
        dir.path().join(&victim).is_dir(),
        "a dry run deletes nothing"
    );
    assert_eq!(dry.skipped.len(), 1);
    let done = prune(&store, rule, now, false).unwrap();
    assert_eq!(done.skipped.len(), 1, "{:?}", done.skipped);
    assert_eq!(done.skipped[0].0, victim);
    let removed: BTreeSet<String> = done.runs.iter().cloned().collect();
    let expected: BTreeSet<String> = chosen.iter().filter(|r| **r != victim).cloned().collect();
    assert_eq!(removed, expected);
    for run in &removed {
        assert!(!dir.path().join(run).exists(), "{run} still has objects");
    }
    let cat = read(&store).unwrap();
    assert!(cat.runs.keys().all(|r| !removed.contains(r)));
    assert_eq!(cat.runs.len(), 3);
    assert!(cat.runs.contains_key(&victim));
    // The series' collection lists exactly the remaining items.
    let series = cat.runs["run3"].layers[0].series.clone();
    let coll: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join(stac::collection_key(&series))).unwrap(),
    )
    .unwrap();
    let items = coll["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["rel"] == "item")
        .count();
    assert_eq!(items, 3);
    // Age: no manifest was written more than an hour ago.
    let young = Rule {
        keep: None,
        older_than: Some(Duration::from_secs(3600)),
    };
    let dry = prune(&store, young, now, true).unwrap();
    assert!(dry.runs.is_empty(), "{dry:?}");
    let later = prune(&store, young, now + Duration::from_secs(7200), true).unwrap();
    // The victim's render marker is older than the lease two hours later? No: 6 hours.
    assert_eq!(later.runs.len() + later.skipped.len(), 3, "{later:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn a_series_agrees_on_one_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let a = series::agreed_range(&store, "x_sfc_webmercator_00000000", "K", || {
        Ok([250.0, 300.0])
    });
    assert_eq!(a.unwrap(), [250.0, 300.0]);
    let b = series::agreed_range(&store, "x_sfc_webmercator_00000000", "K", || {
        Ok([260.0, 310.0])
    });
    assert_eq!(b.unwrap(), [250.0, 300.0]);
    // Once the series has a record, a step proposes nothing (decodes no lead field).
    let again = series::agreed_range(&store, "x_sfc_webmercator_00000000", "K", || {
        unreachable!("the record exists")
    });
    assert_eq!(again.unwrap(), [250.0, 300.0]);
    let c = series::agreed_range(&store, "x_sfc_webmercator_00000000", "degC", || {
        Ok([0.0, 1.0])
    });
    let c = c.unwrap();
    assert!(
        (c[0] + 23.15).abs() < 1e-9 && (c[1] - 26.85).abs() < 1e-9,
        "{c:?}"
    );
    let d = series::agreed_range(&store, "y", "", || Ok([0.0, 1.0])).unwrap();
    assert_eq!(
        series::agreed_range(&store, "y", "", || Ok([5.0, 9.0])).unwrap(),
        d
    );
}
