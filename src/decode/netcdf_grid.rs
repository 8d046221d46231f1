//! The horizontal grid of a NetCDF field: regular 1-D latitude/longitude coordinates, a
//! projected grid from its CF `grid_mapping` and 1-D x/y coordinates (a rotated-pole grid in
//! rotated degrees and a geostationary one in scan angles too, even where the file also
//! has 2-D latitude/longitude), or 2-D (curvilinear) latitude/longitude arrays.

use std::path::Path;

use super::cf::{self, Axis, Unpack, VarMeta};
use super::netcdf::read_1d;
use crate::error::{Error, Result};
use crate::geo::curvilinear::Curvilinear;
use crate::geo::grid::{Grid, GridKind};
use crate::geo::projection::Projection;

/// Evenly spaced within a small tolerance: returns (first, step).
fn regular(vals: &[f64]) -> Option<(f64, f64)> {
    if vals.len() < 2 || vals.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let step = (vals[vals.len() - 1] - vals[0]) / (vals.len() - 1) as f64;
    if step == 0.0 {
        return None;
    }
    let ok = vals
        .iter()
        .enumerate()
        .all(|(k, v)| (v - (vals[0] + k as f64 * step)).abs() <= step.abs() * 1e-3);
    ok.then_some((vals[0], step))
}

pub(super) fn grid_of(
    path: &Path,
    file: &netcdf::File,
    vars: &[VarMeta],
    v: &VarMeta,
    index: usize,
) -> Result<Grid> {
    let unsupported = |detail: String| Error::Unsupported {
        path: path.to_owned(),
        field: index,
        what: "grid",
        template: format!("of variable {}", v.name),
        detail: format!(": {detail}"),
    };
    let n = v.dims.len();
    let (ydim, ny) = v.dims[n - 2].clone();
    let (xdim, nx) = v.dims[n - 1].clone();
    let find = |n: &str| vars.iter().find(|c| c.name == n);
    let axis_of_dim = |d: &str| find(d).filter(|c| c.dims.len() == 1).and_then(cf::axis_of);
    let (ax, ay) = (axis_of_dim(&xdim), axis_of_dim(&ydim));

    // 1. Regular lat/lon coordinate variables.
    if ax == Some(Axis::Lon) && ay == Some(Axis::Lat) {
        let lon = coord_values(file, vars, &xdim);
        let lat = coord_values(file, vars, &ydim);
        if let (Some((lon0, dlon)), Some((lat0, dlat))) = (regular(&lon), regular(&lat)) {
            return Ok(Grid {
                nx,
                ny,
                kind: GridKind::LatLon {
                    lon0,
                    lat0,
                    dlon,
                    dlat,
                },
            });
        }
        if lon.len() == nx && lat.len() == ny {
            let mut lon2 = Vec::with_capacity(nx * ny);
            let mut lat2 = Vec::with_capacity(nx * ny);
            for la in &lat {
                for lo in &lon {
                    lon2.push(*lo);
                    lat2.push(*la);
                }
            }
            return Ok(Grid {
                nx,
                ny,
                kind: GridKind::Curvilinear(Box::new(Curvilinear::new(nx, ny, lon2, lat2))),
            });
        }
    }
    // 2. Projected x/y with a grid mapping.
    if let Some(gm) = v
        .text("grid_mapping")
        .and_then(|g| find(g.split(':').next().unwrap_or(g).trim()))
    {
        match cf::projection_of(gm) {
            Ok(Some(projection)) => {
                let x = coord_values(file, vars, &xdim);
                let y = coord_values(file, vars, &ydim);
                if let (Some((x0, dx)), Some((y0, dy))) = (regular(&x), regular(&y)) {
                    let units = |d: &str| find(d).map_or(String::new(), |c| c.lower("units"));
                    let (fx, fy) = (
                        unit_factor(&projection, gm, &units(&xdim), &x),
                        unit_factor(&projection, gm, &units(&ydim), &y),
                    );
                    // False easting and northing are metres of the plane projections.
                    let (fe, fn_) = match projection {
                        Projection::Rotated(_) | Projection::Geostationary(_) => (0.0, 0.0),
                        _ => (
                            gm.number("false_easting").unwrap_or(0.0),
                            gm.number("false_northing").unwrap_or(0.0),
                        ),
                    };
                    return Ok(Grid {
                        nx,
                        ny,
                        kind: GridKind::Projected {
                            projection,
                            x0: x0 * fx - fe,
                            y0: y0 * fy - fn_,
                            dx: dx * fx,
                            dy: dy * fy,
                        },
                    });
                }
            }
            Ok(None) => {}
            Err(reason) => {
                if !has_2d_latlon(vars, v) {
                    return Err(unsupported(reason));
                }
            }
        }
    }
    // 3. 2-D latitude/longitude auxiliary coordinates.
    let aux: Vec<&VarMeta> = v
        .text("coordinates")
        .unwrap_or("")
        .split_whitespace()
        .filter_map(find)
        .chain(vars.iter().filter(|c| c.dims.len() == 2))
        .filter(|c| c.dims.len() == 2 && c.dims[0].0 == ydim && c.dims[1].0 == xdim)
        .collect();
    let lat = aux.iter().find(|c| cf::axis_of(c) == Some(Axis::Lat));
    let lon = aux.iter().find(|c| cf::axis_of(c) == Some(Axis::Lon));
    if let (Some(lat), Some(lon)) = (lat, lon) {
        let la = coord_values(file, vars, &lat.name);
        let lo = coord_values(file, vars, &lon.name);
        if la.len() == nx * ny && lo.len() == nx * ny {
            return Ok(Grid {
                nx,
                ny,
                kind: GridKind::Curvilinear(Box::new(Curvilinear::new(nx, ny, lo, la))),
            });
        }
    }
    Err(Error::NoGeolocation {
        path: path.to_owned(),
        field: index,
        variable: v.name.clone(),
        reason: format!(
            "no latitude/longitude coordinates or usable grid mapping for dimensions \
             ({ydim}, {xdim})"
        ),
    })
}

fn has_2d_latlon(vars: &[VarMeta], v: &VarMeta) -> bool {
    v.text("coordinates")
        .unwrap_or("")
        .split_whitespace()
        .any(|n| {
            vars.iter().any(|c| {
                c.name == n
                    && c.dims.len() == 2
                    && matches!(cf::axis_of(c), Some(Axis::Lat | Axis::Lon))
            })
        })
}

/// A coordinate variable's values, unpacked as netCDF4-python does (GOES packs its scan
/// angles as scaled 16-bit integers); empty when it cannot be read.
fn coord_values(file: &netcdf::File, vars: &[VarMeta], name: &str) -> Vec<f64> {
    let raw = read_1d(file, name).unwrap_or_default();
    match vars.iter().find(|v| v.name == name) {
        Some(v) => {
            let unpack = Unpack::of(v);
            raw.into_iter().map(|r| unpack.value(r)).collect()
        }
        None => raw,
    }
}

/// What one unit of a projected coordinate is in the projection's own units: metres for
/// the plane projections (kilometres convert), degrees for a rotated grid, radians for a
/// geostationary one, whose coordinates may also be given in metres (the scan angle times
/// `perspective_point_height`, as PROJ and GDAL write them).
fn unit_factor(projection: &Projection, gm: &VarMeta, units: &str, values: &[f64]) -> f64 {
    let km = matches!(
        units,
        "km" | "kilometres" | "kilometers" | "kilometre" | "kilometer"
    );
    match projection {
        Projection::Rotated(_) => 1.0,
        Projection::Geostationary(_) => {
            let height = gm.number("perspective_point_height").unwrap_or(1.0);
            let radians = matches!(units, "rad" | "radian" | "radians")
                || (units.is_empty() && values.iter().all(|v| v.abs() < 1.0));
            if radians {
                1.0
            } else if km {
                1000.0 / height
            } else {
                1.0 / height
            }
        }
        _ if km => 1000.0,
        _ => 1.0,
    }
}
