//! What writing a pyramid's files costs on ext4 against tmpfs: the 2,730 keys of a z0-z5
//! pyramid (colour and data tiles), 4 KB each (a colour tile's typical size), written on 2
//! threads into a fresh directory per run, three ways:
//!
//! - `store`: [`LocalStore::put`] as a render writes (temporary file, rename, known
//!   directories remembered);
//! - `mkdir each`: the same with `create_dir_all` of the tile's directory and the temporary
//!   directory before every file (the store before session 8);
//! - `in place`: `std::fs::write` straight to the final name, the floor (not atomic).
//!
//! `cargo bench --bench writes [-- EXT4_DIR TMPFS_DIR]` (defaults `target/` and `/dev/shm`).
//! Runs are interleaved and outputs removed only at the end: deleting thousands of files just
//! before a timed run makes ext4 skip the freed inodes (benches/README.md).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use tilecast::io::store::{LocalStore, PutMeta, Store};

const RUNS: usize = 7;
const SIZE: usize = 4096;

fn keys() -> Vec<String> {
    let mut keys = Vec::new();
    for prefix in ["run/layer", "run/layer/data"] {
        for z in 0..=5u32 {
            for x in 0..1u32 << z {
                for y in 0..1u32 << z {
                    keys.push(format!("{prefix}/{z}/{x}/{y}.png"));
                }
            }
        }
    }
    keys
}

fn write(way: &str, root: &Path, keys: &[String], bytes: &[u8]) -> f64 {
    let t = Instant::now();
    match way {
        "store" => {
            let s = LocalStore::new(root);
            keys.par_iter()
                .for_each(|k| s.put(k, bytes.to_vec(), PutMeta::PNG).expect("put"));
        }
        "mkdir each" => {
            let tmp = root.join(".tilecast/tmp");
            keys.par_iter().enumerate().for_each(|(i, k)| {
                let path = root.join(k);
                std::fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
                std::fs::create_dir_all(&tmp).expect("mkdir");
                let t = tmp.join(i.to_string());
                std::fs::write(&t, bytes).expect("write");
                std::fs::rename(&t, &path).expect("rename");
            });
        }
        _ => {
            keys.par_iter().for_each(|k| {
                let path = root.join(k);
                std::fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
                std::fs::write(&path, bytes).expect("write");
            });
        }
    }
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let ext4 = PathBuf::from(args.first().map_or("target", String::as_str));
    let tmpfs = PathBuf::from(args.get(1).map_or("/dev/shm", String::as_str));
    let keys = keys();
    let bytes: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let roots: Vec<tempfile::TempDir> = [&ext4, &tmpfs]
        .iter()
        .map(|d| {
            tempfile::Builder::new()
                .prefix("tilecast-writes-")
                .tempdir_in(d)
                .expect("temporary directory")
        })
        .collect();
    let ways = ["store", "mkdir each", "in place"];
    let mut times = vec![vec![Vec::new(); ways.len()]; 2];
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    for run in 0..RUNS {
        for (w, way) in ways.iter().enumerate() {
            for (f, root) in roots.iter().enumerate() {
                let dir = root.path().join(format!("{run}-{w}"));
                times[f][w].push(write(way, &dir, &keys, &bytes));
            }
        }
    }
    println!(
        "{} files of {} bytes, 2 threads, median of {RUNS} runs; load average before: {}",
        keys.len(),
        SIZE,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>12}",
        "", "ext4 ms", "tmpfs ms", "ext4/tmpfs", "ext4 µs/file"
    );
    for (w, way) in ways.iter().enumerate() {
        let (e, t) = (median(times[0][w].clone()), median(times[1][w].clone()));
        println!(
            "{way:<12} {:>10.1} {:>10.1} {:>10.2} {:>12.1}",
            e * 1e3,
            t * 1e3,
            e / t,
            e * 1e6 / keys.len() as f64
        );
    }
}
