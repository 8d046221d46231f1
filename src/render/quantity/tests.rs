use super::*;
use crate::decode::{FieldSource, WindComponent};

fn info(variable: &str, units: &str, level: Level) -> FieldInfo {
    FieldInfo {
        index: 0,
        variable: variable.into(),
        long_name: variable.into(),
        units: units.into(),
        standard_name: None,
        level,
        reference_time: None,
        valid_time: None,
        nx: 1,
        ny: 1,
        grid: String::new(),
        packing: String::new(),
        source: FieldSource::NetCdf {
            variable: variable.into(),
            indices: vec![],
        },
        wind_component: None,
        wind_frame: None,
    }
}

fn lvl(kind: &str, value: Option<f64>) -> Level {
    Level {
        kind: kind.into(),
        value,
        units: None,
        label: kind.into(),
    }
}

fn key(i: &FieldInfo) -> Option<&'static str> {
    identify(i).map(|q| q.key)
}

#[test]
fn quantities_are_told_by_name_standard_name_and_units() {
    let single = || lvl("single", None);
    assert_eq!(
        key(&info("tas", "Celsius", single())),
        Some("air_temperature")
    );
    assert_eq!(key(&info("tas", "K", single())), Some("air_temperature"));
    assert_eq!(key(&info("TMP", "K", single())), Some("air_temperature"));
    // Units of another quantity: not a temperature.
    assert_eq!(key(&info("t", "Pa", single())), None);
    let mut i = info("data", "Celsius", single());
    i.standard_name = Some("air_temperature".into());
    assert_eq!(key(&i), Some("air_temperature"));
    // A perturbation of potential temperature under the name `T` (WRF).
    let mut i = info("T", "K", lvl("level", Some(3.0)));
    i.long_name = "perturbation potential temperature (theta-t0)".into();
    assert_eq!(key(&i), None);
    // Vertical velocity: the units tell omega from w.
    let p = || lvl("isobaric", Some(500.0));
    assert_eq!(
        key(&info("w", "Pa s**-1", p())),
        Some("lagrangian_tendency_of_air_pressure")
    );
    assert_eq!(key(&info("w", "m s-1", p())), Some("upward_air_velocity"));
    // `pr` is an amount or a rate by its units.
    assert_eq!(
        key(&info("pr", "kg m-2 s-1", single())),
        Some("precipitation_flux")
    );
    assert_eq!(
        key(&info("pr", "mm", single())),
        Some("precipitation_amount")
    );
    assert_eq!(
        key(&info("tp", "m", single())),
        Some("precipitation_amount")
    );
    // Geopotential height at the GRIB surface is the orography.
    assert_eq!(
        key(&info("hgt", "gpm", lvl("surface", None))),
        Some("surface_altitude")
    );
    assert_eq!(key(&info("hgt", "gpm", p())), Some("geopotential_height"));
    assert_eq!(key(&info("z", "m**2 s**-2", p())), Some("geopotential"));
    assert_eq!(
        key(&info("cape", "J kg**-1", single())),
        Some("convective_available_potential_energy")
    );
    assert_eq!(key(&info("sftls", "1", single())), Some("area_fraction"));
    assert_eq!(key(&info("nonsense", "K", single())), None);
}

#[test]
fn signed_quantities_get_symmetric_ranges() {
    for (v, level) in [
        ("10u", lvl("height_above_ground", Some(10.0))),
        ("ugrd", lvl("isobaric", Some(250.0))),
        ("vgrd", lvl("isobaric", Some(700.0))),
        ("u", lvl("hybrid", Some(30.0))),
    ] {
        let q = identify(&info(v, "m s-1", level.clone())).unwrap();
        assert!(q.signed && q.palette == "wind_component", "{v}");
        let (a, b) = q.range(&level);
        assert!(a == -b && b > 0.0, "{v}: {a}..{b}");
    }
    let q = identify(&info("vvel", "Pa s-1", lvl("isobaric", Some(500.0)))).unwrap();
    assert!(q.signed && q.palette == "diverging");
    let mut a = info("tmpa", "K", lvl("single", None));
    a.long_name = "Temperature anomaly".into();
    assert!(is_departure(&a) && identify(&a).is_none());
}

#[test]
fn temperature_ranges_follow_the_level() {
    let q = QUANTITIES
        .iter()
        .find(|q| q.key == "air_temperature")
        .unwrap();
    let r = |kind: &str, v: Option<f64>| q.range(&lvl(kind, v));
    assert_eq!(r("height_above_ground", Some(2.0)), (-50.0, 50.0));
    assert_eq!(r("surface", None), (-50.0, 50.0));
    assert_eq!(r("isobaric", Some(850.0)), (-50.0, 50.0));
    // Each upper level's typical temperatures (°C) lie inside its range.
    for (p, typical) in [
        (500.0, (-50.0, -5.0)),
        (250.0, (-65.0, -35.0)),
        (100.0, (-85.0, -45.0)),
    ] {
        let (a, b) = r("isobaric", Some(p));
        assert!(a <= typical.0 && typical.1 <= b, "{p} hPa: {a}..{b}");
    }
    // The -2 PVU surface and the tropopause: -85 to -25 °C.
    for kind in ["potential_vorticity", "tropopause"] {
        let (a, b) = r(kind, Some(-2.0));
        assert!(a <= -85.0 && b >= -25.0, "{kind}: {a}..{b}");
    }
    // Heights go by the standard atmosphere: 5500 m is about 500 hPa.
    assert_eq!(
        r("height_above_sea", Some(5500.0)),
        r("isobaric", Some(500.0))
    );
    assert!((isa_pressure(isa_height(300.0)) - 300.0).abs() < 1e-6);
    assert!((isa_pressure(isa_height(50.0)) - 50.0).abs() < 1e-6);
    assert!((isa_height(500.0) - 5574.0).abs() < 10.0);
}

#[test]
fn geopotential_height_ranges_cover_each_isobaric_level() {
    let q = QUANTITIES
        .iter()
        .find(|q| q.key == "geopotential_height")
        .unwrap();
    // Observed (NAM) ranges at each level lie inside.
    for (p, lo, hi) in [
        (1000.0, -215.0, 222.0),
        (850.0, 1091.0, 1589.0),
        (500.0, 5001.0, 5915.0),
        (250.0, 9608.0, 10970.0),
        (100.0, 15570.0, 16630.0),
    ] {
        let (a, b) = q.range(&lvl("isobaric", Some(p)));
        assert!(a <= lo && hi <= b, "{p} hPa: {a}..{b}");
        assert!(
            b - a < 4000.0,
            "{p} hPa: {a}..{b} is too wide to show structure"
        );
    }
}

#[test]
fn displays_are_in_the_quantitys_units() {
    let t = identify(&info("t2m", "K", lvl("single", None))).unwrap();
    let d = t.display("K");
    assert_eq!((d.units.as_str(), d.scale, d.offset), ("°C", 1.0, -273.15));
    let p = identify(&info("msl", "Pa", lvl("single", None))).unwrap();
    assert_eq!(p.display("Pa").scale, 0.01);
    let r = identify(&info("prate", "kg m**-2 s**-1", lvl("surface", None))).unwrap();
    let d = r.display("kg m**-2 s**-1");
    assert_eq!((d.units.as_str(), d.scale), ("mm/h", 3600.0));
    let u = identify(&info("10u", "m s**-1", lvl("surface", None))).unwrap();
    assert_eq!(u.display("m s**-1").units, "m/s");
    let kt = identify(&info("10u", "kt", lvl("surface", None))).unwrap();
    assert!((kt.display("kt").scale - 1852.0 / 3600.0).abs() < 1e-12);
    let mut v = info("v", "m s-1", lvl("surface", None));
    v.wind_component = Some(WindComponent::V);
    assert_eq!(identify(&v).unwrap().key, "wind_component");
}
