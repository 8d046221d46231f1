//! The streamed inventory the chunker plans from (one GRIB2 message in memory at a time)
//! lists exactly what a fully read dataset lists: same fields, metadata, grids and errors.

mod common;

use tilecast::decode::{inventory, Catalog, Dataset};

#[test]
fn streamed_inventory_equals_the_full_dataset() {
    let mut files = Vec::new();
    for dir in ["grib2", "unsupported", "grib1", "netcdf"] {
        for e in std::fs::read_dir(common::shared_samples().join(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    for e in std::fs::read_dir(common::own_samples()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "grib2" || x == "nc") {
            files.push(p);
        }
    }
    files.sort();
    assert!(files.len() > 25);
    for f in files {
        let full = Dataset::open(&f);
        let streamed = inventory(&f);
        let (full, streamed) = match (full, streamed) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(_), Err(_)) => continue,
            (a, b) => panic!(
                "{}: dataset {:?} vs inventory {:?}",
                f.display(),
                a.err(),
                b.err().map(|e| e.to_string())
            ),
        };
        let a = Catalog::entries(&full);
        let b = streamed.entries();
        assert_eq!(a.len(), b.len(), "{}", f.display());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x.index, y.index);
            match (&x.info, &y.info) {
                (Ok(i), Ok(j)) => {
                    assert_eq!(
                        serde_json::to_value(i).unwrap(),
                        serde_json::to_value(j).unwrap(),
                        "{}",
                        f.display()
                    );
                    let (g1, g2) = (
                        Catalog::grid(&full, x.index).unwrap(),
                        streamed.grid(x.index).unwrap(),
                    );
                    assert_eq!(
                        serde_json::to_value(&g1).unwrap(),
                        serde_json::to_value(&g2).unwrap()
                    );
                }
                (Err(e1), Err(e2)) => assert_eq!(e1.to_string(), e2.to_string(), "{}", f.display()),
                _ => panic!(
                    "{}: field {} differs: {:?} vs {:?}",
                    f.display(),
                    x.index,
                    x.info.is_ok(),
                    y.info.is_ok()
                ),
            }
        }
    }
}
