//! Tests of palette definitions and colour tables.

use super::*;

#[test]
fn bucketed_lookups_equal_the_search_everywhere() {
    let ends = |mut p: Palette| {
        p.under = Some([1, 2, 3, 255]);
        p.over = Some([4, 5, 6, 255]);
        p
    };
    let palettes = Palette::builtin_names()
        .map(|n| Palette::builtin(n).unwrap())
        .flat_map(|p| [p.clone(), ends(p)]);
    for p in palettes {
        let name = &p.name;
        for (min, max) in [(0.0, 1.0), (-3.5, 41.25), (213.15, 313.15), (5.0, 5.0)] {
            let t = ColourTable::new(&p, min, max);
            let slow = |v: f32| {
                if v.is_nan() {
                    return 0;
                }
                let v = v as f64;
                match (v < t.min, v > t.max, t.under, t.over) {
                    (true, _, Some(u), _) => return u,
                    (_, true, _, Some(o)) => return o,
                    _ => {}
                }
                let x = if t.max > t.min {
                    ((v - t.min) / (t.max - t.min)).clamp(0.0, 1.0)
                } else {
                    0.5
                };
                t.index_at(x)
            };
            let span = (max - min).max(1.0);
            // A dense sweep past both ends, and the values nearest every slice edge.
            let sweep =
                (0..200_000).map(|k| (min - 0.1 * span + 1.2 * span * k as f64 / 2e5) as f32);
            let edges = (0..=BUCKETS).flat_map(|b| {
                let v = (min + (max - min) * b as f64 / BUCKETS as f64) as f32;
                [v.next_down(), v, v.next_up()]
            });
            let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, -0.0];
            let values: Vec<f32> = sweep.chain(edges).chain(specials).collect();
            let batch = t.indices(&values);
            for (&v, &i) in values.iter().zip(&batch) {
                assert_eq!(t.index(v), slow(v), "{name} [{min}, {max}] at {v}");
                assert_eq!(i, slow(v), "indices(): {name} [{min}, {max}] at {v}");
            }
        }
    }
}

#[test]
fn builtins_parse_and_are_found_by_variable() {
    for n in Palette::builtin_names() {
        assert!(Palette::builtin(n).is_some(), "{n}");
    }
    assert_eq!(Palette::for_variable(&["TMP"]).name, "temperature");
    assert_eq!(
        Palette::for_variable(&["x_wind_10m", "x_wind"]).name,
        "wind_component"
    );
    assert_eq!(Palette::for_variable(&["UGRD"]).name, "wind_component");
    assert_eq!(Palette::for_variable(&["cape"]).name, "viridis");
}

#[test]
fn table_is_monotonic_and_keeps_small_segments() {
    let p = Palette::builtin("precipitation").unwrap();
    let t = ColourTable::new(&p, 0.0, 50.0);
    assert_eq!(t.entries.len(), 256);
    assert_eq!(t.index(f32::NAN), 0);
    let (a, b, c) = (t.index(0.1), t.index(0.5), t.index(1.0));
    assert!(a < b && b < c, "{a} {b} {c}");
    assert!(t.index(-5.0) == t.index(0.0) && t.index(500.0) == 255);
    let mut last = 0;
    for k in 0..1000 {
        let i = t.index(k as f32 * 0.05);
        assert!(i >= last);
        last = i;
    }
}

#[test]
fn units_compare_canonically() {
    assert_eq!(canonical_units("m s-1"), canonical_units("m/s"));
    assert_eq!(canonical_units("kg m-2"), canonical_units("kgm-2"));
    assert_eq!(canonical_units("Pa"), canonical_units("pa"));
}
