#!/usr/bin/env python3
"""A reference warp for grids GDAL cannot read (reduced Gaussian, reduced lat/lon, HEALPix,
NCEP's rotated 3.32769): ecCodes' values at ecCodes' coordinates (pyproj for 3.32769),
interpolated to the pixel centres of one tile.

Usage: points_warp.py FILE[:VARIABLE] CRS XMIN YMIN XMAX YMAX OUT.npy

FILE is a GRIB file (its first field, ecCodes' values and points), or FILE:VARIABLE a NetCDF
variable (its first 2-D slice, at the file's 2-D lat/lon or its rotated-pole coordinates
through pyproj).

CRS is EPSG:3857 or EPSG:4326 (the tile's bounds are in it). Writes float64 (256, 256), rows
from the north, NaN where the tile is off the grid or the value is missing. The warp is
independent of how tilecast walks rows: scipy's Delaunay-based linear interpolation of the
scattered points in a local projection (azimuthal equidistant about the tile's centre, so the
antimeridian and the poles are nowhere special), with pixels farther than 1.5 grid spacings
from any point left missing.
"""
import os
import subprocess
import sys

from pyproj import CRS, Transformer  # isort: skip (before eccodes, see ncep_rotated_latlon.py)
import eccodes as ec  # isort: skip
import numpy as np
from scipy.interpolate import LinearNDInterpolator
from scipy.spatial import cKDTree


def netcdf_points(path, var):
    """The first 2-D slice of `var`, with its points from the file's 2-D lat/lon, or from
    pyproj on its rotated-pole grid mapping and 1-D rotated coordinates."""
    import netCDF4

    with netCDF4.Dataset(path) as ds:
        v = ds.variables[var]
        data = np.ma.filled(v[(0,) * (v.ndim - 2)].astype(np.float64), np.nan)
        ydim, xdim = v.dimensions[-2:]
        if "lat" in ds.variables and ds.variables["lat"].ndim == 2:
            lat = np.asarray(ds.variables["lat"][:], dtype=np.float64)
            lon = np.asarray(ds.variables["lon"][:], dtype=np.float64)
        else:
            gm = ds.variables[v.grid_mapping]
            rot = CRS.from_cf({k: gm.getncattr(k) for k in gm.ncattrs()})
            x = np.asarray(ds.variables[xdim][:], dtype=np.float64)
            y = np.asarray(ds.variables[ydim][:], dtype=np.float64)
            if gm.grid_mapping_name == "geostationary" and ds.variables[xdim].units == "rad":
                # PROJ's geos takes scan angles times the satellite's height.
                h = float(gm.perspective_point_height)
                x, y = x * h, y * h
            xx, yy = np.meshgrid(x, y)
            base = rot.source_crs if rot.is_derived and rot.is_geographic else rot.geodetic_crs
            to_geo = Transformer.from_crs(rot, base, always_xy=True)
            lon, lat = to_geo.transform(xx, yy)
    return np.ravel(lon), np.ravel(lat), data.ravel()


def field_points(path, workdir):
    if ":" in os.path.basename(path):
        file, var = path.rsplit(":", 1)
        return netcdf_points(file, var)
    with open(path, "rb") as f:
        h = ec.codes_grib_new_from_file(f)
        grid_type = ec.codes_get(h, "gridType")
        values = ec.codes_get_values(h).astype(np.float64)
        if ec.codes_get(h, "bitmapPresent"):
            values[values == ec.codes_get(h, "missingValue")] = np.nan
        if grid_type != "ncep_32769":
            lat = ec.codes_get_array(h, "latitudes")
            lon = ec.codes_get_array(h, "longitudes")
            ec.codes_release(h)
            return lon, lat, values
        ec.codes_release(h)
    tmp = os.path.join(workdir, "points_warp_ll.npy")
    here = __file__.rsplit("/", 1)[0]
    subprocess.run([sys.executable, f"{here}/ncep_rotated_latlon.py", path, "0", tmp], check=True)
    ll = np.load(tmp)
    return ll[1].ravel(), ll[0].ravel(), values


def main(path, crs, xmin, ymin, xmax, ymax, out):
    lon, lat, values = field_points(path, os.path.dirname(os.path.abspath(out)))
    n = 256
    xs = xmin + (np.arange(n) + 0.5) * (xmax - xmin) / n
    ys = ymax - (np.arange(n) + 0.5) * (ymax - ymin) / n
    gx, gy = np.meshgrid(xs, ys)
    to_geo = Transformer.from_crs(CRS.from_user_input(crs), CRS.from_epsg(4326), always_xy=True)
    plon, plat = to_geo.transform(gx, gy)
    clon, clat = to_geo.transform((xmin + xmax) / 2, (ymin + ymax) / 2)
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={clat} +lon_0={clon} +R=6371229 +no_defs")
    to_local = Transformer.from_crs(CRS.from_epsg(4326), local, always_xy=True)
    # Only points near the tile take part: its pixels' extent in the local projection and a
    # margin of a tenth of it (at least 300 km), within a quarter turn of the earth.
    px, py = to_local.transform(plon.ravel(), plat.ravel())
    sx, sy = to_local.transform(lon, lat)
    ok = np.isfinite(px) & np.isfinite(py)
    x0, x1, y0, y1 = px[ok].min(), px[ok].max(), py[ok].min(), py[ok].max()
    m = max(0.1 * max(x1 - x0, y1 - y0), 3e5)
    near = ((sx > x0 - m) & (sx < x1 + m) & (sy > y0 - m) & (sy < y1 + m)
            & (np.hypot(sx, sy) < 1e7))
    sx, sy, sv = sx[near], sy[near], values[near]
    result = np.full(n * n, np.nan)
    if sx.size >= 3:
        tree = cKDTree(np.column_stack([sx, sy]))
        # The grid's spacing: the median distance to a point's fourth neighbour, which on a
        # regular lat/lon or Gaussian grid near a pole is the row spacing, not the (much
        # shorter) spacing along the row.
        spacing = np.median(tree.query(np.column_stack([sx, sy]), k=5)[0][:, 4])
        dist, _ = tree.query(np.column_stack([px, py]))
        result = LinearNDInterpolator(np.column_stack([sx, sy]), sv)(px, py)
        result[dist > 1.5 * spacing] = np.nan
    np.save(out, result.reshape(n, n).astype(np.float64))


if __name__ == "__main__":
    a = sys.argv
    main(a[1], a[2], float(a[3]), float(a[4]), float(a[5]), float(a[6]), a[7])
