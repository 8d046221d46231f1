//! Series: the layers of one quantity on one product's grid across valid times and runs
//! (same variable, level, tiling and grid), which a viewer steps through and whose colours
//! must mean the same thing at every step.
//!
//! A series id is readable and stable: `<variable>_<level>_<tiling>_<grid hash>`, e.g.
//! `tmp_2m_webmercator_3f2a9c01`, where the grid hash is the first 8 hex digits of the SHA-256
//! of the grid's definition and size, so two products on different grids never share a series.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::Level;
use crate::run::catalog::CatalogRun;
use crate::run::manifest::LayerEntry;

/// One layer of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesStep {
    pub valid_time: Option<String>,
    pub reference_time: Option<String>,
    pub run: String,
    pub layer: String,
    pub tilejson: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub id: String,
    pub variable: String,
    pub long_name: String,
    pub units: String,
    pub level: Level,
    pub tiling: String,
    /// Every step, by valid time then reference time (a valid time forecast by several runs
    /// appears once per run).
    pub steps: Vec<SeriesStep>,
    /// The run with the latest reference time (of equal ones, the greatest run id).
    pub latest_run: String,
    pub latest_reference_time: Option<String>,
    /// The run ids with layers in this series, newest reference time first.
    pub runs: Vec<String>,
}

/// The series id of a layer in a manifest.
pub fn series_id(l: &LayerEntry) -> String {
    id_of(
        &l.variable,
        &l.level.label,
        &l.tiling,
        &l.grid.definition,
        l.grid.nx,
        l.grid.ny,
    )
}

/// The series id from its parts: also what a worker computes before a layer has a manifest
/// entry (`definition` is the grid definition as the manifest records it).
pub fn id_of(
    variable: &str,
    level: &str,
    tiling: &str,
    definition: &serde_json::Value,
    nx: usize,
    ny: usize,
) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(definition).expect("JSON values serialise"));
    h.update(format!(" {nx}x{ny}").as_bytes());
    let hash: String = h.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}_{}_{}_{hash}", slug(variable), slug(level), slug(tiling))
}

/// Lowercase ASCII letters, digits, `.`, `-` and `_`; anything else becomes `-`.
fn slug(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' => c,
            _ => '-',
        })
        .collect();
    if s.is_empty() {
        "x".into()
    } else {
        s
    }
}

/// Groups the runs' layers into series.
pub fn group(runs: &BTreeMap<String, CatalogRun>) -> BTreeMap<String, Series> {
    let mut out: BTreeMap<String, Series> = BTreeMap::new();
    // Runs in (reference time, run id) order, so the last one seen is the latest.
    let mut ordered: Vec<&CatalogRun> = runs.values().collect();
    ordered.sort_by(|a, b| (&a.reference_time, &a.run).cmp(&(&b.reference_time, &b.run)));
    for r in ordered {
        for l in &r.layers {
            let s = out.entry(l.series.clone()).or_insert_with(|| Series {
                id: l.series.clone(),
                variable: l.variable.clone(),
                long_name: l.long_name.clone(),
                units: l.units.clone(),
                level: l.level.clone(),
                tiling: l.tiling.clone(),
                steps: Vec::new(),
                latest_run: r.run.clone(),
                latest_reference_time: r.reference_time.clone(),
                runs: Vec::new(),
            });
            s.steps.push(SeriesStep {
                valid_time: l.valid_time.clone(),
                reference_time: l.reference_time.clone(),
                run: r.run.clone(),
                layer: l.name.clone(),
                tilejson: l.tilejson.clone(),
            });
            // Later runs describe the series as it is now.
            s.long_name = l.long_name.clone();
            s.units = l.units.clone();
            s.latest_run = r.run.clone();
            s.latest_reference_time = r.reference_time.clone();
            if s.runs.first() != Some(&r.run) {
                s.runs.retain(|x| x != &r.run);
                s.runs.insert(0, r.run.clone());
            }
        }
    }
    for s in out.values_mut() {
        s.steps.sort_by(|a, b| {
            (&a.valid_time, &a.reference_time, &a.run, &a.layer).cmp(&(
                &b.valid_time,
                &b.reference_time,
                &b.run,
                &b.layer,
            ))
        });
    }
    out
}

/// The colour range every step of a series shares when nothing about the quantity fixes one
/// (`.tilecast/ranges/<series>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreedRange {
    pub range: [f64; 2],
    pub units: String,
}

pub fn range_key(series: &str) -> String {
    format!(".tilecast/ranges/{series}.json")
}

/// The range the series agreed on: the first step to ask proposes its own data-driven
/// range, and every later step (in any process: creation is exclusive) gets the same one,
/// converted to its units if they differ. A record that does not parse is replaced.
///
/// `propose` is called only when the series has no usable record yet (at most once), so a
/// step that finds one spends nothing on a proposal of its own.
pub fn agreed_range(
    store: &dyn crate::io::store::Store,
    series: &str,
    units: &str,
    propose: impl FnOnce() -> crate::error::Result<[f64; 2]>,
) -> crate::error::Result<[f64; 2]> {
    let key = range_key(series);
    let mut propose = Some(propose);
    let mut proposed = None;
    let mut mine = || -> crate::error::Result<[f64; 2]> {
        if let Some(p) = proposed {
            return Ok(p);
        }
        let p = (propose.take().expect("called once"))()?;
        proposed = Some(p);
        Ok(p)
    };
    let record = |range: [f64; 2]| {
        let r = AgreedRange {
            range,
            units: units.to_string(),
        };
        serde_json::to_vec(&r).expect("serialisable")
    };
    for _ in 0..3 {
        if let Some(found) = store.get(&key)? {
            match serde_json::from_slice::<AgreedRange>(&found) {
                Ok(a) if a.range.iter().all(|v| v.is_finite()) && a.range[1] > a.range[0] => {
                    if a.units == units {
                        return Ok(a.range);
                    }
                    let conv = |v: f64| crate::render::units::convert(v, &a.units, units);
                    return Ok(match (conv(a.range[0]), conv(a.range[1])) {
                        (Some(lo), Some(hi)) => [lo, hi],
                        // Units that do not convert: the series changed quantity; keep ours.
                        _ => mine()?,
                    });
                }
                _ => {
                    let p = mine()?;
                    store.put(&key, record(p), crate::io::store::PutMeta::PRIVATE)?;
                    return Ok(p);
                }
            }
        }
        let p = mine()?;
        if store.put_new(&key, record(p))? {
            return Ok(p);
        }
    }
    mine()
}
