#!/usr/bin/env python3
"""Reference oracle for NetCDF geometry: where each field's points are, by the file's own
coordinates and by pyproj on its grid mapping.

Usage: netcdf_lonlat.py FILE OUTDIR

Fields are listed as netcdf_dump.py lists them (same rules, same order). For each field
it gives every geolocation it can find, each an array of shape (2, ny, nx): longitude,
then latitude, in degrees, float64, NaN where a point has none (off a geostationary
satellite's disk):

  - "xlat": WRF's XLAT/XLONG, at the field's Time index when they have one (a moving nest),
    else at time 0;
  - "file": 2-D latitude/longitude named in the variable's `coordinates` (or 1-D ones on
    its dimensions, spread over the grid);
  - "pyproj": the variable's CF grid mapping (pyproj.CRS.from_cf) applied to its 1-D x/y
    coordinate values (unpacked by netCDF4); geostationary scan angles in radians are
    multiplied by perspective_point_height, the metres PROJ's geos expects.

Writes OUTDIR/lonlat.json = {"file": FILE, "fields": [{"index", "variable", "<kind>":
"<npy name>", ...}], "error": null|str} and the arrays, each written once and shared by
the fields that have the same one.
"""
import json
import os
import sys

import netCDF4
import numpy as np
import pyproj

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netcdf_dump import LATLON_UNITS, attr, data_variables, is_wrf, tokens, wrf_variables  # noqa: E402


def units(var):
    u = attr(var, "units")
    return u.strip().lower() if isinstance(u, str) else ""


LAT_UNITS = {"degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn"}
LON_UNITS = LATLON_UNITS - LAT_UNITS


def is_lat(var):
    return attr(var, "standard_name") == "latitude" or units(var) in LAT_UNITS


def is_lon(var):
    return attr(var, "standard_name") == "longitude" or units(var) in LON_UNITS


def values(var):
    return np.ma.filled(np.ma.masked_array(var[:]).astype(np.float64), np.nan)


def from_file(ds, v):
    """2-D lat/lon named in `coordinates`, or 1-D lat/lon coordinate variables."""
    ydim, xdim = v.dimensions[-2:]
    aux = [ds.variables[n] for n in tokens(v, "coordinates") if n in ds.variables]
    lat = [a for a in aux if a.dimensions == (ydim, xdim) and is_lat(a)]
    lon = [a for a in aux if a.dimensions == (ydim, xdim) and is_lon(a)]
    if lat and lon:
        return values(lon[0]), values(lat[0])
    cy, cx = ds.variables.get(ydim), ds.variables.get(xdim)
    if cy is not None and cx is not None and is_lat(cy) and is_lon(cx):
        lon2, lat2 = np.meshgrid(values(cx), values(cy))
        return lon2, lat2
    return None


def from_mapping(ds, v):
    """pyproj on the CF grid mapping and the 1-D x/y coordinates."""
    name = attr(v, "grid_mapping")
    if not isinstance(name, str) or name.split(":")[0].strip() not in ds.variables:
        return None
    gm = ds.variables[name.split(":")[0].strip()]
    cf = {k: (gm.getncattr(k).item() if hasattr(gm.getncattr(k), "item") else gm.getncattr(k))
          for k in gm.ncattrs()}
    ydim, xdim = v.dimensions[-2:]
    if xdim not in ds.variables or ydim not in ds.variables:
        return None
    x, y = values(ds.variables[xdim]), values(ds.variables[ydim])
    if cf.get("grid_mapping_name") == "geostationary":
        if units(ds.variables[xdim]) in ("rad", "radian", "radians"):
            x = x * cf["perspective_point_height"]
            y = y * cf["perspective_point_height"]
    crs = pyproj.CRS.from_cf(cf)
    to_lonlat = pyproj.Transformer.from_crs(crs, "+proj=longlat +datum=WGS84", always_xy=True)
    xx, yy = np.meshgrid(x, y)
    lon, lat = to_lonlat.transform(xx, yy)
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    off = ~np.isfinite(lon) | ~np.isfinite(lat)
    lon[off] = np.nan
    lat[off] = np.nan
    return lon, lat


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    out = {"file": path, "fields": [], "error": None}
    written = {}

    def save(key, lon, lat):
        if key not in written:
            written[key] = f"lonlat_{len(written)}.npy"
            arr = np.ascontiguousarray(np.stack([lon, lat]).astype(np.float64))
            np.save(os.path.join(outdir, written[key]), arr)
        return written[key]

    xlat_at = {}

    def xlat(ds, t):
        """WRF's XLONG/XLAT at time t (or their only slice)."""
        if t not in xlat_at:
            lat, lon = values(ds.variables["XLAT"]), values(ds.variables["XLONG"])
            xlat_at[t] = (lon[t], lat[t]) if lat.ndim == 3 else (lon, lat)
        return xlat_at[t]

    try:
        ds = netCDF4.Dataset(path)
        wrf = is_wrf(ds)
        listed = [v for v, _ in wrf_variables(ds)] if wrf else data_variables(ds)
        for v in listed:
            found = {}
            if not wrf:
                found["file"] = from_file(ds, v)
                found["pyproj"] = from_mapping(ds, v)
            for idx in np.ndindex(*v.shape[:-2]):
                rec = {"index": len(out["fields"]), "variable": v.name}
                if wrf:
                    moving = ds.variables["XLAT"].ndim == 3 and v.dimensions[0] == "Time"
                    t = idx[0] if moving else 0
                    rec["xlat"] = save(("xlat", t), *xlat(ds, t))
                for kind, ll in found.items():
                    if ll is not None:
                        rec[kind] = save((kind, v.name), *ll)
                out["fields"].append(rec)
        ds.close()
    except Exception as e:  # report, never a traceback
        out["error"] = f"{type(e).__name__}: {e}"
    with open(os.path.join(outdir, "lonlat.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
