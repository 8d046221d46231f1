#!/usr/bin/env python3
"""Reference bearings of a grid's +y axis, from GDAL's reading of the file's coordinate
system and pyproj.

Usage: grid_north.py FILE POINTS.npy OUT.npy

POINTS.npy holds float64 (N, 2) longitudes and latitudes. Writes float64 (N,): the bearing
(radians, clockwise from true north) of the grid's y axis at each point. The coordinate system
comes from `gdalsrsinfo -o wkt2 FILE`:
  * a projected CRS (Lambert, polar stereographic, Mercator): pyproj's meridian convergence
    (PROJ's `Factors.meridian_convergence`, degrees, the angle from true north to grid north
    measured clockwise, e.g. +n(lon - lon0) for Lambert);
  * a rotated pole (a derived geographic CRS): the bearing of rotated north, from pyproj's
    transform over a 1e-6 degree step of rotated latitude.
"""
import subprocess
import sys

from pyproj import CRS, Proj, Transformer  # isort: skip (before any library bundling PROJ)
import numpy as np


def main(path, points, out):
    text = subprocess.run(["gdalsrsinfo", "-o", "wkt2", path], check=True,
                          capture_output=True, text=True).stdout
    # GDAL's GRIB driver may print notes (e.g. on ensemble sections) before the WKT.
    start = min((text.find(k) for k in ("GEOGCRS[", "PROJCRS[") if k in text), default=0)
    wkt = text[start:].strip()
    # GDAL 3.6 writes a sphere from GRIB's shape 6 with inverse flattening "Inf", which
    # PROJ cannot parse; 0 is WKT's spelling of a sphere.
    crs = CRS.from_wkt(wkt.replace(",Inf,", ",0,"))
    lonlat = np.load(points)
    lon, lat = lonlat[:, 0], lonlat[:, 1]
    if crs.is_projected:
        f = Proj(crs).get_factors(lon, lat)
        bearing = np.radians(np.asarray(f.meridian_convergence))
    else:
        base = crs.source_crs if crs.is_derived else None
        if base is None:
            sys.exit(f"{path}: neither projected nor rotated: {crs.type_name}")
        fwd = Transformer.from_crs(base, crs, always_xy=True)
        inv = Transformer.from_crs(crs, base, always_xy=True)
        rlon, rlat = fwd.transform(lon, lat)
        h = 1e-6
        lon0, lat0 = inv.transform(rlon, rlat - h)
        lon1, lat1 = inv.transform(rlon, rlat + h)
        dlon = (np.asarray(lon1) - np.asarray(lon0) + 540.0) % 360.0 - 180.0
        east = dlon * np.cos(np.radians(lat))
        bearing = np.arctan2(east, np.asarray(lat1) - np.asarray(lat0))
    np.save(out, np.asarray(bearing, dtype=np.float64))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
