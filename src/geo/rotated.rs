//! Rotated-pole coordinates: a lat/lon system whose south pole sits at a chosen geographic
//! point, so a limited-area model's domain straddles the rotated equator where meridians
//! are nearly parallel (GRIB2 templates 3.1, 3.41 and NCEP's 3.32769, GRIB1 types 10 and
//! 14, CF `rotated_latitude_longitude`).
//!
//! The transform is a rotation of the unit sphere: a point's rotated lon/lat become a unit
//! vector, which is turned so the rotated south pole lands on the geographic point
//! (`south_lat`, `south_lon`). The matrix is orthonormal, so the inverse is its transpose.
//! `angle` turns the rotated system about its own polar axis (GRIB's "angle of rotation";
//! every sample and almost every file has 0).

use serde::Serialize;

/// A rotated lat/lon system, by the geographic position of its south pole (degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RotatedPole {
    pub south_lat: f64,
    pub south_lon: f64,
    /// Rotation about the rotated polar axis, degrees, added to rotated longitudes before
    /// they are turned to geographic ones.
    pub angle: f64,
}

impl RotatedPole {
    /// From the geographic position of the rotated *north* pole (CF
    /// `grid_north_pole_latitude`/`grid_north_pole_longitude`) and the rotated longitude of
    /// the geographic north pole (CF `north_pole_grid_longitude`, usually 0).
    pub fn from_north_pole(lat: f64, lon: f64, north_pole_grid_longitude: f64) -> RotatedPole {
        RotatedPole {
            south_lat: -lat,
            south_lon: lon + 180.0,
            // `0.0 - x` rather than `-x`: no "-0" angle in descriptions.
            angle: 0.0 - north_pole_grid_longitude,
        }
    }

    /// Rows of the rotation taking rotated unit vectors to geographic ones.
    fn matrix(&self) -> [[f64; 3]; 3] {
        // Tilt about the y axis so the rotated south pole reaches latitude `south_lat`, then
        // turn about the polar axis to `south_lon`.
        let t = (-(90.0 + self.south_lat)).to_radians();
        let o = self.south_lon.to_radians();
        let (st, ct) = t.sin_cos();
        let (so, co) = o.sin_cos();
        [
            [ct * co, -so, st * co],
            [ct * so, co, st * so],
            [-st, 0.0, ct],
        ]
    }

    /// Rotated lon/lat to geographic lon/lat (degrees, lon in [-180, 180)).
    pub fn to_geographic(&self, rlon: f64, rlat: f64) -> (f64, f64) {
        let v = unit(rlon + self.angle, rlat);
        let m = self.matrix();
        let g = [
            m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
            m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
            m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
        ];
        lonlat(g)
    }

    /// Geographic lon/lat to rotated lon/lat (degrees, rotated lon in [-180, 180)).
    pub fn to_rotated(&self, lon: f64, lat: f64) -> (f64, f64) {
        let g = unit(lon, lat);
        let m = self.matrix();
        let v = [
            m[0][0] * g[0] + m[1][0] * g[1] + m[2][0] * g[2],
            m[0][1] * g[0] + m[1][1] * g[1] + m[2][1] * g[2],
            m[0][2] * g[0] + m[1][2] * g[1] + m[2][2] * g[2],
        ];
        let (rlon, rlat) = lonlat(v);
        (crate::geo::grid::norm180(rlon - self.angle), rlat)
    }

    /// Angle (radians) from geographic north to the rotated system's north at a point given
    /// in rotated coordinates, counter-clockwise positive: a grid-relative wind turns to
    /// earth-relative by this angle.
    pub fn north_angle(&self, rlon: f64, rlat: f64) -> f64 {
        // Rotated north at the point is the derivative along rotated latitude; compare its
        // geographic east and north components.
        let v = unit(rlon + self.angle, rlat);
        let (lam, phi) = ((rlon + self.angle).to_radians(), rlat.to_radians());
        let north_r = [-phi.sin() * lam.cos(), -phi.sin() * lam.sin(), phi.cos()];
        let m = self.matrix();
        let apply = |a: [f64; 3]| {
            [
                m[0][0] * a[0] + m[0][1] * a[1] + m[0][2] * a[2],
                m[1][0] * a[0] + m[1][1] * a[1] + m[1][2] * a[2],
                m[2][0] * a[0] + m[2][1] * a[1] + m[2][2] * a[2],
            ]
        };
        let (g, d) = (apply(v), apply(north_r));
        let (glon, glat) = (g[1].atan2(g[0]), g[2].clamp(-1.0, 1.0).asin());
        let east = [-glon.sin(), glon.cos(), 0.0];
        let north = [
            -glat.sin() * glon.cos(),
            -glat.sin() * glon.sin(),
            glat.cos(),
        ];
        let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        // Counter-clockwise from geographic north: positive when rotated north leans west.
        (-dot(d, east)).atan2(dot(d, north))
    }
}

fn unit(lon: f64, lat: f64) -> [f64; 3] {
    let (lam, phi) = (lon.to_radians(), lat.to_radians());
    [phi.cos() * lam.cos(), phi.cos() * lam.sin(), phi.sin()]
}

fn lonlat(v: [f64; 3]) -> (f64, f64) {
    let lat = v[2].clamp(-1.0, 1.0).asin().to_degrees();
    let lon = v[1].atan2(v[0]).to_degrees();
    (crate::geo::grid::norm180(lon), lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rotated_south_pole_is_the_given_point_and_the_transform_inverts() {
        let r = RotatedPole {
            south_lat: -37.5,
            south_lon: 177.5,
            angle: 0.0,
        };
        let (lon, lat) = r.to_geographic(0.0, -90.0);
        assert!((lat - -37.5).abs() < 1e-9, "{lat}");
        assert!((lon - 177.5).abs() < 1e-9, "{lon}");
        for (rlon, rlat) in [(0.0, 0.0), (-10.0, 5.0), (25.0, -30.0), (179.0, 60.0)] {
            let (lon, lat) = r.to_geographic(rlon, rlat);
            let (a, b) = r.to_rotated(lon, lat);
            assert!(
                (a - rlon).abs() < 1e-9 && (b - rlat).abs() < 1e-9,
                "{a} {b}"
            );
        }
        // The rotated origin lies on the south pole's meridian, 90 degrees north of it.
        let (lon, lat) = r.to_geographic(0.0, 0.0);
        assert!(
            (lat - 52.5).abs() < 1e-9 && (lon - 177.5).abs() < 1e-9,
            "{lon} {lat}"
        );
    }

    #[test]
    fn north_pole_form_and_unrotated_identity() {
        let cf = RotatedPole::from_north_pole(39.25, -162.0, 0.0);
        assert_eq!((cf.south_lat, cf.south_lon), (-39.25, 18.0));
        let id = RotatedPole {
            south_lat: -90.0,
            south_lon: 0.0,
            angle: 0.0,
        };
        let (lon, lat) = id.to_geographic(12.0, 34.0);
        assert!((lon - 12.0).abs() < 1e-9 && (lat - 34.0).abs() < 1e-9);
        assert!(id.north_angle(12.0, 34.0).abs() < 1e-12);
    }

    #[test]
    fn north_angle_matches_a_finite_difference() {
        let r = RotatedPole {
            south_lat: -30.0,
            south_lon: 10.0,
            angle: 0.0,
        };
        for (rlon, rlat) in [(-20.0, 10.0), (15.0, -5.0), (30.0, 25.0)] {
            let (lon0, lat0) = r.to_geographic(rlon, rlat);
            let (lon1, lat1) = r.to_geographic(rlon, rlat + 1e-4);
            let de = (lon1 - lon0) * lat0.to_radians().cos();
            let dn = lat1 - lat0;
            let want = (-de).atan2(dn);
            let got = r.north_angle(rlon, rlat);
            assert!((got - want).abs() < 1e-5, "{got} {want}");
        }
    }
}
