//! The two views of a file must agree: what [`Dataset::open`] lists (the whole file read,
//! what `inspect` and a worker see) and what [`inventory`] lists (streamed one message at a
//! time, what the chunker plans from). Same outcome, same entries in the same order, same
//! metadata and grids, and the same error text wherever either fails.

use std::path::Path;

use tilecast::decode::{inventory, Dataset, FileFields};

/// One entry as both views list it: `Ok` with the field's metadata as JSON, or the error text.
pub type Line = Result<serde_json::Value, String>;

/// Asserts that both views of `path` agree and returns what they list: the file's error, or
/// its entries.
pub fn agree(path: &Path) -> Result<Vec<Line>, String> {
    let name = path.display();
    let (full, streamed) = match (Dataset::open(path), inventory(path)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) => {
            let (a, b) = (a.to_string(), b.to_string());
            assert_eq!(
                a, b,
                "{name}: the dataset and the inventory fail differently"
            );
            return Err(a);
        }
        (a, b) => panic!(
            "{name}: dataset {:?} vs inventory {:?}",
            a.err().map(|e| e.to_string()),
            b.err().map(|e| e.to_string())
        ),
    };
    assert_eq!(full.format(), streamed.format(), "{name}: format");
    let (a, b) = (FileFields::entries(&full), streamed.entries());
    assert_eq!(a.len(), b.len(), "{name}: entry count");
    let mut lines = Vec::new();
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!((x.index, y.index), (k, k), "{name}: entry {k} numbering");
        let line = match (&x.info, &y.info) {
            (Ok(i), Ok(j)) => {
                let (i, j) = (to_json(i), to_json(j));
                assert_eq!(i, j, "{name}: field {k} metadata");
                assert_eq!(
                    line(FileFields::grid(&full, k)),
                    line(streamed.grid(k)),
                    "{name}: field {k} grid"
                );
                Ok(i)
            }
            (Err(e1), Err(e2)) => {
                let (e1, e2) = (e1.to_string(), e2.to_string());
                assert_eq!(e1, e2, "{name}: entry {k} error");
                Err(e1)
            }
            (i, j) => panic!(
                "{name}: entry {k}: dataset {:?} vs inventory {:?}",
                i.as_ref().map(|_| "ok").map_err(|e| e.to_string()),
                j.as_ref().map(|_| "ok").map_err(|e| e.to_string())
            ),
        };
        lines.push(line);
    }
    Ok(lines)
}

fn line<T: serde::Serialize, E: std::fmt::Display>(r: Result<T, E>) -> Line {
    r.map(|v| to_json(&v)).map_err(|e| e.to_string())
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("serialisable")
}
