//! The job message (`tilecast.job.v1`) and the result record (`tilecast.result.v1`), defined
//! once here and used by both the chunker and the worker.
//!
//! Bodies are JSON. Unknown members are ignored so a rolling deploy can add some; a wrong
//! version, a missing member or an out-of-range value is a [`JobError`], which is permanent:
//! the same bytes will never become a valid job, so they belong in the dead-letter queue.

use serde::{Deserialize, Serialize};

use crate::run::manifest::LayerEntry;
use crate::run::plan::{JobPart, LayerPlan, RunPlan, SourceRef, TileRange};
use crate::run::publish::BaseUrl;
use crate::settings::RenderSettings;

pub const JOB_VERSION: u32 = 1;
pub const JOB_TYPE: &str = "tilecast.job.v1";
pub const RESULT_TYPE: &str = "tilecast.result.v1";

/// The file a job reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSource {
    /// Path or URI of the file.
    pub uri: String,
    pub sha256: String,
    /// A [`crate::decode::Format`] name: `grib1`, `grib2`, `grib` or `netcdf`.
    pub format: String,
    /// ETag of the object when it was planned (object stores only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// One unit of work: one layer's tiles in some ranges, with the settings to render them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub version: u32,
    pub id: String,
    pub run: String,
    pub source: JobSource,
    pub layer: String,
    /// One field, or u and v for a wind-speed layer.
    pub fields: Vec<SourceRef>,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// The highest zoom of the layer's data tiles (absent: `maxzoom`, as before the member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_maxzoom: Option<u8>,
    pub tiles: Vec<TileRange>,
    pub meta: bool,
    pub settings: RenderSettings,
    /// The public URL of the output root, for the TileJSON documents a meta job writes;
    /// optional (absent: relative URLs) and in no job id. Validated when parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<BaseUrl>,
    /// Output root: the run is written under `<out>/<run>/`.
    pub out: String,
    /// The fields of the first layer of this layer's series in the file, when that is
    /// another layer ([`crate::run::plan::LayerPlan::series_lead`]); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_lead: Option<Vec<SourceRef>>,
}

/// Why a message is not a job we can run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("malformed job message: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("unsupported job version {0} (this worker reads versions {JOB_VERSION} and 2)")]
    Version(u32),
    #[error("invalid job {id}: {reason}")]
    Invalid { id: String, reason: String },
}

/// Only the version, read first so a future version is reported as such rather than as a
/// shape mismatch.
#[derive(Deserialize)]
pub(crate) struct VersionOnly {
    pub(crate) version: u32,
}

impl Job {
    /// Jobs of a plan, in plan order.
    pub fn from_plan(plan: &RunPlan, out: &str) -> Vec<Job> {
        plan.layers
            .iter()
            .flat_map(|l| l.jobs.iter().map(move |j| Job::new(plan, l, j, out)))
            .collect()
    }

    fn new(plan: &RunPlan, layer: &LayerPlan, part: &JobPart, out: &str) -> Job {
        Job {
            version: JOB_VERSION,
            id: part.id.clone(),
            run: plan.run.clone(),
            source: JobSource {
                uri: plan.source_uri.clone(),
                sha256: plan.source.sha256.clone(),
                format: plan.source.format.clone(),
                etag: plan.source_etag.clone(),
            },
            layer: layer.name.clone(),
            fields: layer.sources.clone(),
            minzoom: layer.minzoom,
            maxzoom: layer.maxzoom,
            data_maxzoom: layer.data_maxzoom,
            tiles: part.tiles.clone(),
            meta: part.meta,
            settings: plan.settings.clone(),
            base_url: plan.base_url.clone(),
            out: out.to_string(),
            series_lead: layer.series_lead.clone(),
        }
    }

    /// The highest zoom of the layer's data tiles.
    pub fn data_maxzoom(&self) -> u8 {
        self.data_maxzoom.unwrap_or(self.maxzoom)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("jobs serialise")
    }

    /// Parses and validates a message body. Pure: nothing the message names is opened or
    /// read, so parsing a hostile message costs at most its own size.
    pub fn parse(body: &[u8]) -> Result<Job, JobError> {
        check_envelope(body)?;
        let job: Job = serde_json::from_slice(body)?;
        job.validate()?;
        Ok(job)
    }

    pub(crate) fn validate(&self) -> Result<(), JobError> {
        let invalid = |reason: String| JobError::Invalid {
            id: self.id.clone(),
            reason,
        };
        if !is_name(&self.id) || !is_name(&self.run) || !is_name(&self.layer) {
            return Err(invalid(NAME_RULE.into()));
        }
        let sha_ok = self.source.sha256.len() == 64
            && self.source.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !sha_ok {
            return Err(invalid("source sha256 must be 64 hex digits".into()));
        }
        if self.source.uri.is_empty() || self.source.uri.len() > 4096 || self.out.len() > 4096 {
            return Err(invalid("source uri and out must be 1 to 4096 bytes".into()));
        }
        if self.fields.is_empty() || self.fields.len() > 2 {
            return Err(invalid(format!(
                "{} fields (need 1, or 2 for wind speed)",
                self.fields.len()
            )));
        }
        if let Some(lead) = &self.series_lead {
            if lead.len() != self.fields.len() {
                return Err(invalid(format!(
                    "series_lead has {} fields, the layer {}",
                    lead.len(),
                    self.fields.len()
                )));
            }
        }
        if !crate::decode::Format::NAMES.contains(&self.source.format.as_str()) {
            return Err(invalid(format!("source format {:?}", self.source.format)));
        }
        if self.minzoom > self.maxzoom || self.maxzoom > crate::settings::MAX_ZOOM {
            return Err(invalid(format!(
                "zoom range {}-{}",
                self.minzoom, self.maxzoom
            )));
        }
        if let Some(d) = self.data_maxzoom {
            if d < self.minzoom || d > self.maxzoom {
                return Err(invalid(format!(
                    "data maxzoom {d} outside the zoom range {}-{}",
                    self.minzoom, self.maxzoom
                )));
            }
        }
        let tiling = self.settings.tiling;
        for r in &self.tiles {
            if !r.is_valid(tiling) || r.z < self.minzoom || r.z > self.maxzoom {
                return Err(invalid(format!(
                    "tile range {r:?} outside the {} matrix or zoom range",
                    tiling.name()
                )));
            }
        }
        let tiles: usize = self.tiles.iter().map(TileRange::len).sum();
        if tiles > 1 << 20 {
            return Err(invalid(format!("{tiles} tiles in one job")));
        }
        self.settings.validate().map_err(|e| invalid(e.to_string()))
    }
}

/// What [`is_name`] accepts, for messages.
pub const NAME_RULE: &str =
    "id, run and layer must be names of 1-200 characters of [A-Za-z0-9_.-] not starting with '.'";

/// A run, layer or job name that is safe as one path segment or key part: short, of
/// `[A-Za-z0-9_.-]`, and not hidden (which also excludes `.`, `..` and the `.tilecast`
/// bookkeeping folder).
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// The size and the version of a message, checked before its shape: a future version is
/// reported as such rather than as a shape mismatch.
fn check_envelope(body: &[u8]) -> Result<(), JobError> {
    check_size(body)?;
    let v: VersionOnly = serde_json::from_slice(body)?;
    if v.version != JOB_VERSION {
        return Err(JobError::Version(v.version));
    }
    Ok(())
}

pub(crate) fn check_size(body: &[u8]) -> Result<(), JobError> {
    if body.len() > crate::limits::MAX_MESSAGE_BYTES {
        return Err(JobError::Invalid {
            id: "?".into(),
            reason: format!(
                "message of {} bytes (at most {})",
                body.len(),
                crate::limits::MAX_MESSAGE_BYTES
            ),
        });
    }
    Ok(())
}

/// Seconds spent per stage, carried in results so they outlive short-lived workers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageSeconds {
    pub fetch: f64,
    pub decode: f64,
    pub render: f64,
    pub encode: f64,
    pub write: f64,
}

/// What a finished job reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub version: u32,
    pub job: String,
    pub run: String,
    pub layer: String,
    /// Tiles written (empty tiles are not written) and bytes of everything written.
    pub tiles: u64,
    pub bytes: u64,
    /// The layer's manifest entry, from the job that writes the layer's metadata; its tile
    /// count and bytes are the sums over the layer's jobs, filled in when the run is assembled.
    pub entry: Option<LayerEntry>,
    #[serde(default)]
    pub seconds: StageSeconds,
    /// `done` when this record reports rendering; `already_done` when a redelivered job found
    /// it recorded and only reported it again.
    #[serde(default = "done")]
    pub outcome: String,
}

fn done() -> String {
    "done".into()
}

impl JobResult {
    /// Parses a result message and checks the names it would be recorded under, and that its
    /// layer entry names only that layer's own files. Pure.
    pub fn parse(body: &[u8]) -> Result<JobResult, JobError> {
        check_envelope(body)?;
        let r: JobResult = serde_json::from_slice(body)?;
        let invalid = |reason: String| JobError::Invalid {
            id: r.job.chars().take(64).collect(),
            reason,
        };
        if !is_name(&r.job) || !is_name(&r.run) || !is_name(&r.layer) {
            return Err(invalid(NAME_RULE.into()));
        }
        if let Some(e) = &r.entry {
            e.check_own_files(&r.layer).map_err(invalid)?;
        }
        Ok(r)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn job() -> Job {
        Job {
            version: 1,
            id: "abc".into(),
            run: "r1".into(),
            source: JobSource {
                uri: "/data/x.grib2".into(),
                sha256: "0".repeat(64),
                format: "grib2".into(),
                etag: None,
            },
            layer: "tmp_2m_20260701T0000Z".into(),
            fields: vec![SourceRef {
                field: 0,
                location: crate::decode::FieldSource::Grib2 {
                    offset: 0,
                    length: 100,
                    sub_field: 0,
                },
            }],
            minzoom: 0,
            maxzoom: 2,
            data_maxzoom: Some(1),
            tiles: vec![TileRange {
                z: 2,
                x0: 0,
                x1: 3,
                y0: 0,
                y1: 3,
            }],
            meta: true,
            settings: RenderSettings::default(),
            base_url: None,
            out: "/out".into(),
            series_lead: None,
        }
    }

    #[test]
    fn round_trip_and_unknown_members() {
        let j = job();
        assert_eq!(Job::parse(&j.to_json()).unwrap(), j);
        let mut v: serde_json::Value = serde_json::from_slice(&j.to_json()).unwrap();
        v["added_in_a_later_release"] = serde_json::json!(42);
        assert_eq!(Job::parse(&serde_json::to_vec(&v).unwrap()).unwrap(), j);
        // GRIB1 and mixed-edition files: their formats and the one-field GRIB1 location.
        for format in ["grib1", "grib"] {
            let mut g = job();
            g.source.format = format.into();
            g.fields[0].location = crate::decode::FieldSource::Grib1 {
                offset: 442,
                length: 442,
            };
            let text = String::from_utf8(g.to_json()).unwrap();
            assert!(text.contains(r#""location":{"format":"grib1","offset":442,"length":442}"#));
            assert_eq!(Job::parse(text.as_bytes()).unwrap(), g);
        }
    }

    #[test]
    fn bad_messages_are_errors() {
        assert!(matches!(
            Job::parse(b"{not json"),
            Err(JobError::Malformed(_))
        ));
        let mut v: serde_json::Value = serde_json::from_slice(&job().to_json()).unwrap();
        v["version"] = serde_json::json!(2);
        assert!(matches!(
            Job::parse(&serde_json::to_vec(&v).unwrap()),
            Err(JobError::Version(2))
        ));
        let mut v: serde_json::Value = serde_json::from_slice(&job().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("tiles");
        assert!(matches!(
            Job::parse(&serde_json::to_vec(&v).unwrap()),
            Err(JobError::Malformed(_))
        ));
        let mut j = job();
        j.tiles[0].x1 = 4; // past the z2 matrix
        assert!(matches!(
            Job::parse(&j.to_json()),
            Err(JobError::Invalid { .. })
        ));
        for bad in ["../../etc", ".tilecast", ".hidden", "..", "a/b", ""] {
            for field in 0..3 {
                let mut j = job();
                match field {
                    0 => j.layer = bad.into(),
                    1 => j.run = bad.into(),
                    _ => j.id = bad.into(),
                }
                assert!(
                    matches!(Job::parse(&j.to_json()), Err(JobError::Invalid { .. })),
                    "{bad:?} as field {field}"
                );
            }
        }
        let mut j = job();
        j.settings.palette = Some(crate::render::palette::PaletteSpec::Builtin(
            "/dev/zero".into(),
        ));
        let e = Job::parse(&j.to_json()).unwrap_err();
        assert!(e.to_string().contains("not a built-in palette"), "{e}");
        let huge = vec![b' '; crate::limits::MAX_MESSAGE_BYTES + 1];
        assert!(matches!(Job::parse(&huge), Err(JobError::Invalid { .. })));
    }

    #[test]
    fn base_urls_are_optional_and_validated() {
        let mut j = job();
        let text = String::from_utf8(j.to_json()).unwrap();
        assert!(!text.contains("base_url"), "{text}");
        j.base_url = Some(BaseUrl::parse("https://tiles.example/w").unwrap());
        assert_eq!(Job::parse(&j.to_json()).unwrap(), j);
        let mut v: serde_json::Value = serde_json::from_slice(&j.to_json()).unwrap();
        v["base_url"] = serde_json::json!("javascript:alert(1)");
        let e = Job::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(e.to_string().contains("http:// or https://"), "{e}");
        // Messages of older chunkers carry `settings.base_url`: ignored, like any unknown
        // member, so the job renders with relative URLs.
        let mut v: serde_json::Value = serde_json::from_slice(&job().to_json()).unwrap();
        v["settings"]["base_url"] = serde_json::json!("https://old.example/");
        assert_eq!(Job::parse(&serde_json::to_vec(&v).unwrap()).unwrap(), job());
    }

    #[test]
    fn results_of_another_version_are_refused() {
        let r = serde_json::json!({"version": 2, "job": "a", "run": "b", "layer": "c",
            "tiles": 0, "bytes": 0, "entry": null});
        let body = serde_json::to_vec(&r).unwrap();
        assert!(matches!(JobResult::parse(&body), Err(JobError::Version(2))));
        let mut r = r;
        r["version"] = serde_json::json!(JOB_VERSION);
        assert!(JobResult::parse(&serde_json::to_vec(&r).unwrap()).is_ok());
    }

    #[test]
    fn palettes_travel_by_value() {
        let mut j = job();
        let def: crate::render::palette::PaletteDef = serde_json::from_str(
            r##"{"name": "mine", "stops": [[0, "#000000"], [1, "#ffffff"]]}"##,
        )
        .unwrap();
        j.settings.palette = Some(crate::render::palette::PaletteSpec::Inline(def));
        assert_eq!(Job::parse(&j.to_json()).unwrap(), j);
        j.settings.palette = Some(crate::render::palette::PaletteSpec::Builtin(
            "viridis".into(),
        ));
        let text = String::from_utf8(j.to_json()).unwrap();
        assert!(text.contains(r#""palette":"viridis""#), "{text}");
    }
}
