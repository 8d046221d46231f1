#!/usr/bin/env python3
"""Reference geolocation for NCEP's rotated lat/lon grid (GRIB2 template 3.32769), which
ecCodes' geo iterator does not cover.

Usage: ncep_rotated_latlon.py FILE INDEX OUT.npy

Reads the grid keys with ecCodes (first point, centre, increments in nano-degrees, scanning)
and places every point with pyproj's `ob_tran` (the grid's centre is rotated 0, 0), writing
float64 (2, Nj, Ni): [latitudes, longitudes].
"""
import sys

# pyproj before eccodes: the other order crashes in the allocator (both wheels bundle
# their own copies of shared libraries).
from pyproj import CRS, Transformer  # isort: skip
import eccodes as ec  # isort: skip
import numpy as np


def main(path, index, out):
    ec.codes_grib_multi_support_on()
    with open(path, "rb") as f:
        for k in range(index + 1):
            h = ec.codes_grib_new_from_file(f)
            if h is None:
                sys.exit(f"{path}: no field {index}")
            if k < index:
                ec.codes_release(h)
        g = {k: ec.codes_get(h, k) for k in ("Ni", "Nj", "La1", "Lo1", "centreLatitude",
                                              "centreLongitude", "Di", "Dj", "scanningMode")}
        ec.codes_release(h)
    lat0, lon0 = g["centreLatitude"] * 1e-6, g["centreLongitude"] * 1e-6
    sphere = "+R=6371229"
    geo = CRS.from_proj4(f"+proj=longlat {sphere} +no_defs")
    rot = CRS.from_proj4(
        f"+proj=ob_tran +o_proj=longlat +o_lon_p=0 +o_lat_p={90 - lat0} +lon_0={lon0} {sphere} +no_defs"
    )
    fwd = Transformer.from_crs(geo, rot, always_xy=True)
    inv = Transformer.from_crs(rot, geo, always_xy=True)
    x0, y0 = fwd.transform(g["Lo1"] * 1e-6, g["La1"] * 1e-6)
    di, dj = g["Di"] * 1e-9, g["Dj"] * 1e-9
    if g["scanningMode"] & 0x80:
        di = -di
    if not g["scanningMode"] & 0x40:
        dj = -dj
    x = x0 + np.arange(g["Ni"]) * di
    y = y0 + np.arange(g["Nj"]) * dj
    xx, yy = np.meshgrid(x, y)
    lon, lat = inv.transform(xx, yy)
    np.save(out, np.stack([lat, lon]).astype(np.float64))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
