//! CF grid mappings: the projection and earth shape a `grid_mapping` variable describes
//! (Lambert conformal, polar stereographic, Mercator, latitude-longitude, rotated
//! latitude-longitude, geostationary), or why it cannot be used.
//!
//! A rotated grid's x/y are rotated longitude and latitude in degrees
//! (`grid_north_pole_latitude`/`_longitude` place the rotated north pole,
//! `north_pole_grid_longitude` turns the system about it); a geostationary grid's x/y are
//! scan angles in radians, the satellite `perspective_point_height` above the equator at
//! `longitude_of_projection_origin`, sweeping along `sweep_angle_axis` (GOES: x) or across
//! `fixed_angle_axis`, with CF's default sweep y.

use super::{Attr, VarMeta};
use crate::geo::geostationary::Geostationary;
use crate::geo::projection::{Earth, Projection};
use crate::geo::rotated::RotatedPole;

/// The projection of a CF grid-mapping variable, or why it cannot be used.
pub fn projection_of(gm: &VarMeta) -> Result<Option<Projection>, String> {
    let name = gm.lower("grid_mapping_name");
    let earth = earth_of(gm);
    let num = |k: &str| gm.number(k);
    let lon0 = num("longitude_of_central_meridian")
        .or(num("straight_vertical_longitude_from_pole"))
        .or(num("longitude_of_projection_origin"))
        .unwrap_or(0.0);
    match name.as_str() {
        "latitude_longitude" => Ok(None),
        "lambert_conformal_conic" => {
            let sp = gm
                .attr("standard_parallel")
                .map(Attr::numbers)
                .unwrap_or_default();
            let lat0 = num("latitude_of_projection_origin")
                .ok_or("latitude_of_projection_origin missing")?;
            let lat1 = *sp.first().ok_or("standard_parallel missing")?;
            let lat2 = *sp.get(1).unwrap_or(&lat1);
            Ok(Some(Projection::LambertConformal {
                earth,
                lon0,
                lat0,
                lat1,
                lat2,
            }))
        }
        "polar_stereographic" => {
            let origin = num("latitude_of_projection_origin").unwrap_or(90.0);
            let south = origin < 0.0;
            let lat_ts = match (
                num("standard_parallel"),
                num("scale_factor_at_projection_origin"),
            ) {
                (Some(sp), _) => sp,
                (None, Some(k0)) => {
                    lat_ts_for_scale(&earth, k0)
                        .ok_or("scale_factor_at_projection_origin out of range")?
                        * if south { -1.0 } else { 1.0 }
                }
                (None, None) => {
                    if south {
                        -90.0
                    } else {
                        90.0
                    }
                }
            };
            Ok(Some(Projection::PolarStereographic {
                earth,
                lon0,
                lat_ts,
                south,
            }))
        }
        "mercator" => {
            let lat_ts = match (
                num("standard_parallel"),
                num("scale_factor_at_projection_origin"),
            ) {
                (Some(sp), _) => sp,
                (None, Some(k0)) if k0 > 0.0 && k0 <= 1.0 => k0.acos().to_degrees(),
                _ => 0.0,
            };
            Ok(Some(Projection::Mercator {
                earth,
                lon0,
                lat_ts,
            }))
        }
        "rotated_latitude_longitude" => {
            let lat = num("grid_north_pole_latitude").ok_or("grid_north_pole_latitude missing")?;
            let lon =
                num("grid_north_pole_longitude").ok_or("grid_north_pole_longitude missing")?;
            let turn = num("north_pole_grid_longitude").unwrap_or(0.0);
            Ok(Some(Projection::Rotated(RotatedPole::from_north_pole(
                lat, lon, turn,
            ))))
        }
        "geostationary" => {
            let height =
                num("perspective_point_height").ok_or("perspective_point_height missing")?;
            // CF names the axis the instrument sweeps, or the one it holds fixed.
            let sweep = match (gm.lower("sweep_angle_axis"), gm.lower("fixed_angle_axis")) {
                (s, _) if !s.is_empty() => s,
                (_, f) if f == "x" => "y".into(),
                (_, f) if f == "y" => "x".into(),
                _ => "y".into(),
            };
            if sweep != "x" && sweep != "y" {
                return Err(format!("geostationary sweep_angle_axis {sweep}"));
            }
            Ok(Some(Projection::Geostationary(Geostationary {
                earth,
                lon0: num("longitude_of_projection_origin").unwrap_or(0.0),
                h: height + earth.a,
                sweep_x: sweep == "x",
            })))
        }
        "" => Err("grid mapping without grid_mapping_name".into()),
        other => Err(format!("grid mapping {other}")),
    }
}

/// Latitude of true scale giving a polar stereographic scale factor `k0` at the pole.
fn lat_ts_for_scale(earth: &Earth, k0: f64) -> Option<f64> {
    if !(0.5..=1.0).contains(&k0) {
        return None;
    }
    if (k0 - 1.0).abs() < 1e-12 {
        return Some(90.0);
    }
    // k0 decreases monotonically as the true-scale latitude moves away from the pole.
    let scale = |lat: f64| {
        let p = Projection::PolarStereographic {
            earth: *earth,
            lon0: 0.0,
            lat_ts: lat,
            south: false,
        };
        let q = Projection::PolarStereographic {
            earth: *earth,
            lon0: 0.0,
            lat_ts: 90.0,
            south: false,
        };
        let a = p.forward(0.0, 89.0).map(|(x, y)| x.hypot(y))?;
        let b = q.forward(0.0, 89.0).map(|(x, y)| x.hypot(y))?;
        Some(a / b)
    };
    let (mut lo, mut hi) = (0.0f64, 90.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if scale(mid)? < k0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

fn earth_of(gm: &VarMeta) -> Earth {
    if let Some(r) = gm.number("earth_radius") {
        return Earth::sphere(r);
    }
    let a = gm.number("semi_major_axis");
    match (
        a,
        gm.number("semi_minor_axis"),
        gm.number("inverse_flattening"),
    ) {
        (Some(a), Some(b), _) => Earth::ellipsoid(a, b),
        (Some(a), None, Some(f)) if f > 0.0 => Earth { a, inv_f: Some(f) },
        (Some(a), _, _) => Earth::sphere(a),
        // CF's default when a mapping gives no figure: a sphere (GDAL uses WGS84; the
        // difference is below a pixel at the zooms such grids render to).
        _ => Earth::sphere(6_371_229.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(pairs: &[(&str, Attr)]) -> VarMeta {
        VarMeta {
            attrs: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn rotated_and_geostationary_mappings() {
        let n = |v: f64| Attr::Numbers(vec![v]);
        let t = |s: &str| Attr::Text(s.into());
        let rotated = mapping(&[
            ("grid_mapping_name", t("rotated_latitude_longitude")),
            ("grid_north_pole_latitude", n(39.25)),
            ("grid_north_pole_longitude", n(-162.0)),
        ]);
        let Ok(Some(Projection::Rotated(p))) = projection_of(&rotated) else {
            panic!("not rotated")
        };
        // The rotated equator's origin is 90 degrees from the rotated north pole.
        let (lon, lat) = p.to_geographic(0.0, 0.0);
        assert!(
            (lon - 18.0).abs() < 1e-9 && (lat - 50.75).abs() < 1e-9,
            "{lon} {lat}"
        );
        let mut geos = mapping(&[
            ("grid_mapping_name", t("geostationary")),
            ("perspective_point_height", n(35_786_023.0)),
            ("semi_major_axis", n(6_378_137.0)),
            ("semi_minor_axis", n(6_356_752.314_14)),
            ("longitude_of_projection_origin", n(-75.0)),
            ("fixed_angle_axis", t("y")),
        ]);
        let Ok(Some(Projection::Geostationary(g))) = projection_of(&geos) else {
            panic!("not geostationary")
        };
        assert!(g.sweep_x && g.lon0 == -75.0 && g.h == 35_786_023.0 + 6_378_137.0);
        geos.attrs.remove("fixed_angle_axis");
        let Ok(Some(Projection::Geostationary(g))) = projection_of(&geos) else {
            panic!("not geostationary")
        };
        assert!(!g.sweep_x, "CF's default sweep is y");
        geos.attrs.remove("perspective_point_height");
        assert!(projection_of(&geos).is_err());
    }
}
