//! Kernel notifications (inotify) for a local ingest directory, so a new file is handled as
//! soon as it is complete rather than at the next listing and after `--stable-for`.
//!
//! A file whose writer closed it (`IN_CLOSE_WRITE`) or that was renamed into place
//! (`IN_MOVED_TO`) is reported [`Note::Closed`]; with `--take-on-close` the chunker takes it at
//! once, provided it has not changed since. Writes themselves are not watched (a large
//! download would flood the queue). Every directory under the root is watched, including
//! those created later. The listing stays the truth: it still runs every `--poll-interval`,
//! finds anything the notifications missed (files written through a network mount, events
//! lost to a full queue, which asks for a listing at once) and applies `--stable-for` to it.
//! Symbolic links are never reported, as the listing skips them, and directories whose keys
//! the chunker ignores (hidden or temporary names, the outputs when they are inside the ingest
//! directory) are not watched: a render writing its tiles there would flood the queue.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures_lite::StreamExt;
use inotify::{EventMask, EventStream, Inotify, WatchDescriptor, WatchMask, Watches};

/// What a notification means for the chunker.
pub(super) enum Note {
    /// The file at this key (relative to the root, `/`-separated) was closed after writing
    /// or renamed into place.
    Closed(String),
    /// Notifications may have been missed: list the ingest location now.
    List,
}

pub(super) struct Notifier {
    root: PathBuf,
    /// Key prefix (ending in `/`) of a directory not to watch: the outputs.
    skip: Option<String>,
    events: EventStream<Vec<u8>>,
    watches: Watches,
    /// Each watched directory's key prefix ("" for the root, else ending in `/`).
    dirs: HashMap<WatchDescriptor, String>,
}

fn mask() -> WatchMask {
    WatchMask::CLOSE_WRITE | WatchMask::MOVED_TO | WatchMask::CREATE | WatchMask::ONLYDIR
}

impl Notifier {
    /// Watches `root` and every directory under it but `skip` (a key prefix ending in `/`).
    pub(super) fn new(root: &Path, skip: Option<String>) -> std::io::Result<Notifier> {
        let inotify = Inotify::init()?;
        let events = inotify.into_event_stream(vec![0u8; 64 * 1024])?;
        let watches = events.watches();
        let mut n = Notifier {
            root: root.to_path_buf(),
            skip: skip.filter(|s| !s.is_empty()),
            events,
            watches,
            dirs: HashMap::new(),
        };
        n.watch_tree(String::new())?;
        Ok(n)
    }

    /// Watches the directory at `prefix` and every directory under it (not following
    /// symbolic links).
    fn watch_tree(&mut self, prefix: String) -> std::io::Result<()> {
        if !self.wanted(&prefix) {
            return Ok(());
        }
        let dir = self.root.join(&prefix);
        let wd = self.watches.add(&dir, mask())?;
        self.dirs.insert(wd, prefix.clone());
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if let (true, Some(name)) = (is_dir, entry.file_name().to_str()) {
                // A directory removed meanwhile is no error.
                let _ = self.watch_tree(format!("{prefix}{name}/"));
            }
        }
        Ok(())
    }

    /// Whether the directory at `prefix` (empty, or ending in `/`) is watched.
    fn wanted(&self, prefix: &str) -> bool {
        let Some(dir) = prefix.strip_suffix('/') else {
            return true;
        };
        !super::ignored(dir) && !self.skip.as_deref().is_some_and(|s| prefix.starts_with(s))
    }

    /// The next notification that matters. An error means notifications have stopped
    /// (the caller goes on with listings alone).
    pub(super) async fn next(&mut self) -> std::io::Result<Note> {
        loop {
            let Some(event) = self.events.next().await else {
                return Err(std::io::Error::other("the inotify stream ended"));
            };
            let event = event?;
            if event.mask.contains(EventMask::Q_OVERFLOW) {
                return Ok(Note::List);
            }
            if event.mask.contains(EventMask::IGNORED) {
                self.dirs.remove(&event.wd);
                continue;
            }
            let (Some(prefix), Some(name)) = (
                self.dirs.get(&event.wd),
                event.name.as_ref().and_then(|n| n.to_str()),
            ) else {
                continue;
            };
            let key = format!("{prefix}{name}");
            if event.mask.contains(EventMask::ISDIR) {
                // A new directory: watch it, and list at once for what was written into it
                // before the watch.
                let prefix = format!("{key}/");
                if self.wanted(&prefix) {
                    let _ = self.watch_tree(prefix);
                    return Ok(Note::List);
                }
                continue;
            }
            if event
                .mask
                .intersects(EventMask::CLOSE_WRITE | EventMask::MOVED_TO)
            {
                let plain =
                    std::fs::symlink_metadata(self.root.join(&key)).is_ok_and(|m| m.is_file());
                if plain {
                    return Ok(Note::Closed(key));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(n: &mut Notifier) -> Note {
        tokio::time::timeout(std::time::Duration::from_secs(5), n.next())
            .await
            .expect("a notification")
            .expect("notifications work")
    }

    fn closed(note: Note) -> String {
        match note {
            Note::Closed(k) => k,
            Note::List => panic!("a listing asked for, not a closed file"),
        }
    }

    #[tokio::test]
    async fn closed_and_renamed_files_are_reported_in_old_and_new_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("old")).unwrap();
        std::fs::create_dir(root.join("tiles")).unwrap();
        let mut n = Notifier::new(root, Some("tiles/".into())).unwrap();
        // Nothing under the skipped directory, nor in a hidden one, is reported.
        std::fs::write(root.join("tiles/t.png"), b"PNG").unwrap();
        std::fs::create_dir(root.join(".hidden")).unwrap();
        std::fs::write(root.join("a.grib2"), b"GRIB").unwrap();
        assert_eq!(closed(next(&mut n).await), "a.grib2");
        std::fs::write(root.join("old/b.part"), b"GRIB").unwrap();
        assert_eq!(closed(next(&mut n).await), "old/b.part");
        std::fs::rename(root.join("old/b.part"), root.join("old/b.grib2")).unwrap();
        assert_eq!(closed(next(&mut n).await), "old/b.grib2");
        std::fs::create_dir(root.join("new")).unwrap();
        assert!(matches!(next(&mut n).await, Note::List));
        std::fs::write(root.join("new/c.nc"), b"CDF").unwrap();
        assert_eq!(closed(next(&mut n).await), "new/c.nc");
        // A symbolic link renamed into place is not a file to take; the next file is.
        std::os::unix::fs::symlink("/etc/hostname", root.join("link.tmp")).unwrap();
        std::fs::rename(root.join("link.tmp"), root.join("link.grib2")).unwrap();
        std::fs::write(root.join("d.grib2"), b"GRIB").unwrap();
        assert_eq!(closed(next(&mut n).await), "d.grib2");
    }
}
