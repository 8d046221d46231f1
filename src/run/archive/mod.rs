//! A run's PMTiles archives (`--format pmtiles|both`): each job stores its tiles as a
//! [`part`] in the bookkeeping, and the run's completion (the end of `tilecast render`,
//! [`crate::run::ledger`] in the distributed shape) assembles, per layer, one archive of
//! colour tiles (`<run>/<layer>/tiles.pmtiles`) and one of data tiles
//! (`<run>/<layer>/data.pmtiles`) by a k-way merge of the layer's parts, then deletes the
//! parts once the manifest is written. One path for both shapes.
//!
//! Bounded memory: parts are read a tile at a time (a bucket's parts are first downloaded
//! to a local work directory, as a stream), tiles stream into the archive's data file, and
//! what stays in memory is the parts' indexes (16 bytes per tile), the archive's entries and
//! the digests of distinct tiles ([`crate::io::pmtiles::writer`]). An archive is written to a
//! local file and then stored with [`Store::upload`] (a multipart upload to a bucket). The
//! same parts always give the same archive bytes, so a ledger restarted during assembly
//! writes the same archives again.

pub mod part;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::io::pmtiles::corrupt;
use crate::io::pmtiles::writer::{ArchiveWriter, Extent};
use crate::io::store::{tmp_dir, PutMeta, Store};
use crate::run::execute::Failure;
use crate::run::manifest::{FailedField, LayerEntry, Manifest};
use crate::run::plan::RunPlan;
use part::PartReader;

/// Archive names inside a layer's directory: beside its legend and TileJSON documents, so a
/// layer's files stay under one prefix and no layer name can collide with an archive's.
pub const COLOUR_ARCHIVE: &str = "tiles.pmtiles";
pub const DATA_ARCHIVE: &str = "data.pmtiles";

/// The key of a job's part.
pub fn part_key(run: &str, layer: &str, job: &str) -> String {
    format!(".tilecast/{run}/parts/{layer}/{job}.part")
}

fn parts_prefix(run: &str) -> String {
    format!(".tilecast/{run}/parts/")
}

/// Assembles the archives of every layer of a complete run's manifest (nothing unless its
/// settings ask for archives). A layer whose archives cannot be made from its parts (a
/// missing, truncated or garbage part: a permanent error) moves from `layers` to `failed`
/// with the reason, as a layer with a dead job does; a transient error (I/O, a store that
/// may answer later) is returned, and the run is settled again later.
pub fn assemble_run(out: &dyn Store, plan: &RunPlan, m: &mut Manifest) -> Result<()> {
    if !plan.settings.format.archives() {
        return Ok(());
    }
    let work = WorkDir::new(out)?;
    let mut kept = Vec::with_capacity(m.layers.len());
    for entry in std::mem::take(&mut m.layers) {
        match assemble_layer(out, plan, &entry, &work) {
            Ok(_) => kept.push(entry),
            Err(e) if e.is_permanent() => m.failed.push(FailedField {
                field: entry.field,
                layer: Some(entry.name.clone()),
                error: Failure::of(&e).reason,
            }),
            Err(e) => {
                m.layers = kept;
                return Err(e);
            }
        }
    }
    m.layers = kept;
    m.failed
        .sort_by(|a, b| (a.field, &a.layer).cmp(&(b.field, &b.layer)));
    Ok(())
}

/// Deletes a run's parts: after its manifest is written (a reader never needs them again).
pub fn delete_parts(out: &dyn Store, run: &str) -> Result<()> {
    for o in out.list(&parts_prefix(run))? {
        out.delete(&o.key)?;
    }
    if let Some(root) = out.local_root() {
        let dir = root.join(parts_prefix(run));
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// Merges a layer's parts into its two archives and stores them.
fn assemble_layer(
    out: &dyn Store,
    plan: &RunPlan,
    entry: &LayerEntry,
    work: &WorkDir,
) -> Result<u64> {
    let run = &plan.run;
    let layer = plan
        .layers
        .iter()
        .find(|l| l.name == entry.name)
        .ok_or_else(|| {
            corrupt(
                &out.url(run),
                format!("layer {} is not in the plan", entry.name),
            )
        })?;
    let mut parts = Vec::with_capacity(layer.jobs.len());
    for (i, job) in layer.jobs.iter().enumerate() {
        let key = part_key(run, &layer.name, &job.id);
        let name = out.url(&key);
        let path = match out.local_root() {
            Some(root) => root.join(&key),
            None => {
                let p = work.path(&format!("{i}.part"));
                out.download(&key, &p)?;
                p
            }
        };
        if !path.exists() {
            return Err(corrupt(&name, "missing: the job has a result but no part"));
        }
        parts.push(PartReader::open(&path, &name)?);
    }
    let mut colour = ArchiveWriter::new(&work.path("colour.tiles"))?;
    let mut data = ArchiveWriter::new(&work.path("data.tiles"))?;
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some(Reverse((p.peek()?, i))))
        .collect();
    let mut last: Option<(u64, usize)> = None;
    while let Some(Reverse((id, i))) = heap.pop() {
        if let Some((prev, j)) = last.filter(|&(prev, _)| prev == id) {
            return Err(corrupt(
                parts[i].name(),
                format!("tile {prev} is also in {}", parts[j].name()),
            ));
        }
        last = Some((id, i));
        let tile = parts[i].read()?.expect("peeked");
        if let Some(next) = parts[i].peek() {
            heap.push(Reverse((next, i)));
        }
        colour.add_id(id, &tile.colour)?;
        if let Some(d) = &tile.data {
            data.add_id(id, d)?;
        }
    }
    drop(parts);
    if out.local_root().is_none() {
        for i in 0..layer.jobs.len() {
            let _ = std::fs::remove_file(work.path(&format!("{i}.part")));
        }
    }
    let mut bytes = 0;
    let docs = [
        (colour, entry.tilejson.as_str(), COLOUR_ARCHIVE),
        (
            data,
            entry.data_tilejson.as_deref().unwrap_or_default(),
            DATA_ARCHIVE,
        ),
    ];
    for (writer, tilejson, name) in docs {
        let doc_key = format!("{run}/{tilejson}");
        let doc = out.get(&doc_key)?.ok_or_else(|| {
            corrupt(
                &out.url(&doc_key),
                "missing: the layer's meta job wrote no TileJSON",
            )
        })?;
        let (extent, metadata) = metadata_of(&doc, &out.url(&doc_key))?;
        let file = work.path(name);
        let written = writer.finish(&extent, &metadata, &file)?;
        out.upload(
            &format!("{run}/{}/{name}", layer.name),
            &file,
            PutMeta::PMTILES,
        )?;
        let _ = std::fs::remove_file(&file);
        bytes += written.bytes;
    }
    Ok(bytes)
}

/// An archive's header extent and JSON metadata from the layer's TileJSON document: the
/// document itself without `tiles` and `pmtiles` (URLs of the archive, not in it), with
/// `type` and `format` as PMTiles readers look for them.
pub fn metadata_of(doc: &[u8], name: &str) -> Result<(Extent, Vec<u8>)> {
    let mut v: serde_json::Value =
        serde_json::from_slice(doc).map_err(|e| corrupt(name, format!("TileJSON: {e}")))?;
    let bad = |what: &str| corrupt(name, format!("TileJSON: no valid {what}"));
    let zoom = |k: &str| {
        v.get(k)
            .and_then(|z| z.as_u64())
            .filter(|&z| z <= 31)
            .map(|z| z as u8)
    };
    let min_zoom = zoom("minzoom").ok_or_else(|| bad("minzoom"))?;
    let max_zoom = zoom("maxzoom").ok_or_else(|| bad("maxzoom"))?;
    let nums = |k: &str| -> Option<Vec<f64>> {
        v.get(k)?.as_array()?.iter().map(|x| x.as_f64()).collect()
    };
    let b = nums("bounds")
        .filter(|b| b.len() == 4)
        .ok_or_else(|| bad("bounds"))?;
    let c = nums("center")
        .filter(|c| c.len() == 3)
        .ok_or_else(|| bad("center"))?;
    let extent = Extent {
        min_zoom,
        max_zoom,
        bounds: [b[0], b[1], b[2], b[3]],
        center: [c[0], c[1]],
        center_zoom: c[2] as u8,
    };
    let o = v.as_object_mut().ok_or_else(|| bad("object"))?;
    o.remove("tiles");
    o.remove("pmtiles");
    o.insert("type".into(), "overlay".into());
    o.insert("format".into(), "png".into());
    Ok((extent, serde_json::to_vec(&v).expect("serialisable")))
}

/// A local directory for one assembly's files, removed with everything in it on drop: in
/// the store's own temporary directory when the store is local (so an archive is renamed
/// into place), else in the system's.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(out: &dyn Store) -> Result<WorkDir> {
        static N: AtomicU64 = AtomicU64::new(0);
        let base = out.local_root().map_or_else(std::env::temp_dir, tmp_dir);
        let dir = base.join(format!(
            "archive-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create directory", e))?;
        Ok(WorkDir(dir))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
