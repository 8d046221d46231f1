//! The local store: round trips, exclusive and conditional writes, keys kept inside the root.

use super::*;

#[test]
fn local_store_round_trips_and_lists() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    s.put("run/a/0/0/0.png", vec![1, 2, 3], PutMeta::PNG)
        .unwrap();
    s.put("run/a/legend.json", b"{}".to_vec(), PutMeta::JSON)
        .unwrap();
    assert_eq!(s.get("run/a/0/0/0.png").unwrap(), Some(vec![1, 2, 3]));
    assert_eq!(s.get("run/missing").unwrap(), None);
    assert_eq!(s.get_range("run/a/0/0/0.png", 1..3, None).unwrap(), [2, 3]);
    assert!(s.get_range("run/a/0/0/0.png", 2..4, None).is_err());
    let keys: Vec<String> = s
        .list("run/a/")
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["run/a/0/0/0.png", "run/a/legend.json"]);
    assert_eq!(s.list("run/a/l").unwrap().len(), 1);
    assert_eq!(s.list_dirs("run/").unwrap(), ["a"]);
    assert_eq!(s.head("run/a/legend.json").unwrap().unwrap().size, 2);
    assert_eq!(s.head("run/a/missing.json").unwrap(), None);
    // Nothing is left in the temporary directory.
    assert_eq!(std::fs::read_dir(tmp_dir(dir.path())).unwrap().count(), 0);
}

/// The store remembers the directories it made; one removed behind its back (another
/// process's render tidying `.tilecast/tmp`, a prune) is made again, not an error.
#[test]
fn directories_removed_by_another_process_are_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    s.put("run/a/1/0/0.png", vec![1], PutMeta::PNG).unwrap();
    assert!(s.put_new("claims/x/1", b"one".to_vec()).unwrap());
    assert!(s
        .put_if("doc.json", b"1".to_vec(), PutMeta::JSON, None)
        .unwrap());
    for d in ["run", ".tilecast", "claims"] {
        std::fs::remove_dir_all(dir.path().join(d)).unwrap();
    }
    s.put("run/a/1/0/1.png", vec![2], PutMeta::PNG).unwrap();
    assert!(s.put_new("claims/x/2", b"two".to_vec()).unwrap());
    let v = s.get_versioned("doc.json").unwrap().unwrap().version;
    assert!(s
        .put_if("doc.json", b"2".to_vec(), PutMeta::JSON, Some(&v))
        .unwrap());
    assert_eq!(s.get("run/a/1/0/1.png").unwrap(), Some(vec![2]));
    assert_eq!(s.get("claims/x/2").unwrap().unwrap(), b"two");
    // The store's own delete forgets the directories it removes as empty.
    s.delete("run/a/1/0/1.png").unwrap();
    assert!(!dir.path().join("run").exists());
    s.put("run/a/1/0/2.png", vec![3], PutMeta::PNG).unwrap();
    assert_eq!(s.get("run/a/1/0/2.png").unwrap(), Some(vec![3]));
}

#[test]
fn put_new_creates_once_with_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    assert!(s.put_new("claims/r", b"one".to_vec()).unwrap());
    assert!(!s.put_new("claims/r", b"two".to_vec()).unwrap());
    assert_eq!(s.get("claims/r").unwrap().unwrap(), b"one");
}

#[test]
fn concurrent_creators_get_one_claim() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    let won: usize = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                scope.spawn({
                    let s = &s;
                    move || s.put_new("c", vec![i]).unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap() as usize).sum()
    });
    assert_eq!(won, 1);
}

/// Eight threads add 25 to a counter each, by read-modify-conditional-write: no
/// increment is lost, and a stale version is refused.
#[test]
fn conditional_writes_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    assert!(s.put_if("n", b"0".to_vec(), PutMeta::JSON, None).unwrap());
    assert!(!s.put_if("n", b"9".to_vec(), PutMeta::JSON, None).unwrap());
    let stale = s.get_versioned("n").unwrap().unwrap().version;
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..25 {
                    loop {
                        let v = s.get_versioned("n").unwrap().unwrap();
                        let n: u32 = std::str::from_utf8(&v.bytes).unwrap().parse().unwrap();
                        let next = (n + 1).to_string().into_bytes();
                        if s.put_if("n", next, PutMeta::JSON, Some(&v.version))
                            .unwrap()
                        {
                            break;
                        }
                    }
                }
            });
        }
    });
    assert_eq!(s.get("n").unwrap().unwrap(), b"200");
    assert!(!s
        .put_if("n", b"1".to_vec(), PutMeta::JSON, Some(&stale))
        .unwrap());
    s.delete("n").unwrap();
    s.delete("n").unwrap();
    assert_eq!(s.get("n").unwrap(), None);
}

#[test]
fn keys_cannot_leave_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path().join("out"));
    for k in ["../x", "/etc/passwd", "a/../../x", ""] {
        assert!(s.put(k, vec![], PutMeta::PNG).is_err(), "{k}");
        assert!(s.get(k).is_err(), "{k}");
    }
}

#[test]
fn listings_skip_symbolic_links() {
    // The chunker plans what a listing of its ingest directory shows: a link (to a file or
    // a directory, inside or outside the root) is not an object of the store.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.grib2"), b"GRIB").unwrap();
    let d = tempfile::tempdir().unwrap();
    let s = LocalStore::new(d.path().to_path_buf());
    s.put("in/a.grib2", b"GRIB".to_vec(), PutMeta::PNG).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.grib2"),
        d.path().join("in/link.grib2"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("in/dir")).unwrap();
    std::os::unix::fs::symlink(d.path().join("in/a.grib2"), d.path().join("in/b.grib2")).unwrap();
    let keys: Vec<String> = s.list("in/").unwrap().into_iter().map(|o| o.key).collect();
    assert_eq!(keys, ["in/a.grib2"]);
}
