#!/usr/bin/env python3
"""Reference oracle for NetCDF decoding: dump every 2-D field of FILE as netCDF4-python sees it.

Usage: netcdf_dump.py FILE OUTDIR

Writes OUTDIR/fields.json =
  {"file": FILE, "format": ds.data_model, "fields": [...], "error": null|str}
and OUTDIR/field_<i>.npy (float64, shape (ny, nx), NaN where masked).

Values are read with netCDF4-python's default auto mask-and-scale, so the Rust
side must reproduce exactly that: unpack with scale_factor/add_offset, and mask
points equal to _FillValue or missing_value (scalar or list), points outside
valid_min/valid_max/valid_range, and -- when there is no _FillValue attribute
-- points equal to the netCDF default fill value of the on-disk type (not for
byte types). NaN stored in float data stays NaN.

FIELD ENUMERATION RULE (the Rust side implements the same rule):
  Only variables of the root group are considered, in file definition order
  (`ds.variables` order). A variable V is a data variable unless:
    1. V is a coordinate variable: 1-D and named like its only dimension;
    2. V's name is a token of another variable's `bounds`, `grid_mapping`,
       `coordinates`, `climatology` or `ancillary_variables` attribute
       (whitespace-separated; a trailing ':' is stripped, which covers the
       extended `grid_mapping` form "crs: x y crs2: lat lon"): coordinates,
       bounds and ancillary data such as GOES's quality flags (DQF) are not
       fields;
    3. V has fewer than 2 dimensions;
    4. V is not numeric (char, string, vlen, compound);
    5. V's last two dimensions are not BOTH of length > 1 and horizontal.
  A dimension D (of variable V) is horizontal if any of:
    a. D's name, lower-cased, is one of x, y, lat, lon, latitude, longitude,
       rlat, rlon;
    b. a variable named D with dimensions exactly (D,) (coordinate variable) is
       "horizontal-looking";
    c. a variable named in V's own `coordinates` attribute has D among its
       dimensions and is "horizontal-looking" (e.g. 2-D lat(y, x)).
  A variable is "horizontal-looking" if any of:
    - standard_name is latitude, longitude, grid_latitude, grid_longitude,
      projection_x_coordinate or projection_y_coordinate;
    - units (lower-cased, stripped) is one of the CF latitude/longitude units:
      degrees_north, degree_north, degree_n, degrees_n, degreen, degreesn, and
      the same with east/e;
    - axis (upper-cased) is X or Y.
  Each data variable yields one field per 2-D slice over its leading
  dimensions, slices in C order (last leading dimension fastest). Field order =
  variable order, then slice order. `indices` are the leading indices. The
  array is the raw (ny, nx) = (dims[-2], dims[-1]) slice: no flipping.

WRF OUTPUT (wrfout) follows its own rule instead. A file is WRF when it has the
global attributes MAP_PROJ, DX and DY and variables XLAT and XLONG whose last two
dimensions are (south_north, west_east). Its data variables are the numeric
root-group variables, in definition order, whose last two dimensions are
south_north or south_north_stag, then west_east or west_east_stag, except
latitude/longitude coordinates (units one of the CF latitude/longitude units
above: XLAT, XLONG, XLAT_U, ...), and whose mass grid (a staggered dimension
less one) is longer than 1 each way. Slices as above. A horizontally staggered
slice is destaggered here, in numpy, after masking: the mean of the two
neighbours along west_east_stag and/or south_north_stag (NaN if either is NaN),
so `shape` is the mass grid's. Vertically staggered variables (bottom_top_stag)
are not touched. Per-field keys `destaggered`: the staggered dimensions averaged,
and `valid_time`: the slice's entry of `Times` as ISO 8601 (null for a variable
without a Time dimension). The top-level key `wrf` says which rule was used.

Per-field keys: index, variable, indices, dims, shape [ny, nx], units,
standard_name, long_name, dtype (on-disk, numpy name), scale_factor,
add_offset, fill_value, missing_value, npy, error (extra: a slice that fails
to read gets an error string and npy null). Absent attributes are null;
array-valued attributes are lists; non-finite floats are written as the
strings "NaN", "Infinity", "-Infinity" so the JSON stays strict.
"""
import json
import math
import os
import sys

import netCDF4
import numpy as np

HORIZONTAL_DIM_NAMES = {"x", "y", "lat", "lon", "latitude", "longitude", "rlat", "rlon"}
HORIZONTAL_STANDARD_NAMES = {
    "latitude", "longitude", "grid_latitude", "grid_longitude",
    "projection_x_coordinate", "projection_y_coordinate",
}
LATLON_UNITS = {
    "degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn",
    "degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese",
}


def attr(var, name):
    return var.getncattr(name) if name in var.ncattrs() else None


def tokens(var, name):
    """Variable names referenced by an attribute (see rule 2)."""
    value = attr(var, name)
    if not isinstance(value, str):
        return []
    return [t.rstrip(":") for t in value.split() if t.rstrip(":")]


def looks_horizontal(var):
    sn, units, axis = attr(var, "standard_name"), attr(var, "units"), attr(var, "axis")
    return (
        (isinstance(sn, str) and sn.strip() in HORIZONTAL_STANDARD_NAMES)
        or (isinstance(units, str) and units.strip().lower() in LATLON_UNITS)
        or (isinstance(axis, str) and axis.strip().upper() in ("X", "Y"))
    )


def is_horizontal(ds, var, dim):
    if dim.lower() in HORIZONTAL_DIM_NAMES:
        return True
    coord = ds.variables.get(dim)
    if coord is not None and coord.dimensions == (dim,) and looks_horizontal(coord):
        return True
    for name in tokens(var, "coordinates"):
        aux = ds.variables.get(name)
        if aux is not None and dim in aux.dimensions and looks_horizontal(aux):
            return True
    return False


def data_variables(ds):
    referenced = set()
    for v in ds.variables.values():
        for a in ("bounds", "grid_mapping", "coordinates", "climatology", "ancillary_variables"):
            referenced.update(t for t in tokens(v, a) if t != v.name)
    out = []
    for name, v in ds.variables.items():
        dims = v.dimensions
        if len(dims) == 1 and dims[0] == name:
            continue
        if name in referenced or len(dims) < 2:
            continue
        if not (isinstance(v.dtype, np.dtype) and v.dtype.kind in "iufb"):
            continue  # str/vlen/compound types are not gridded numbers
        if not all(len(ds.dimensions[d]) > 1 and is_horizontal(ds, v, d) for d in dims[-2:]):
            continue
        out.append(v)
    return out


WRF_Y = {"south_north": False, "south_north_stag": True}
WRF_X = {"west_east": False, "west_east_stag": True}


def is_wrf(ds):
    if not all(a in ds.ncattrs() for a in ("MAP_PROJ", "DX", "DY")):
        return False
    return all(
        n in ds.variables and ds.variables[n].dimensions[-2:] == ("south_north", "west_east")
        for n in ("XLAT", "XLONG")
    )


def wrf_variables(ds):
    """(variable, staggered dimensions) of WRF output, by the WRF rule above."""
    out = []
    for v in ds.variables.values():
        dims = v.dimensions
        if len(dims) < 2 or not (isinstance(v.dtype, np.dtype) and v.dtype.kind in "iufb"):
            continue
        units = attr(v, "units")
        if isinstance(units, str) and units.strip().lower() in LATLON_UNITS:
            continue
        if dims[-2] not in WRF_Y or dims[-1] not in WRF_X:
            continue
        sy, sx = WRF_Y[dims[-2]], WRF_X[dims[-1]]
        if v.shape[-2] - sy < 2 or v.shape[-1] - sx < 2:
            continue
        out.append((v, [d for d, s in ((dims[-1], sx), (dims[-2], sy)) if s]))
    return out


def wrf_time(ds, v, idx):
    """The slice's time from WRF's Times ("2005-08-28_00:00:00"), ISO 8601; None without."""
    if v.dimensions[0] != "Time" or "Times" not in ds.variables:
        return None
    text = netCDF4.chartostring(ds.variables["Times"][idx[0]])
    return str(text).strip().replace("_", "T") + "Z"


def destagger(arr, staggered):
    if "west_east_stag" in staggered:
        arr = 0.5 * (arr[:, :-1] + arr[:, 1:])
    if "south_north_stag" in staggered:
        arr = 0.5 * (arr[:-1, :] + arr[1:, :])
    return arr


def jsonable(x):
    """Attribute value -> strict-JSON value."""
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return [jsonable(e) for e in x.tolist()] if x.ndim else jsonable(x.item())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bytes):
        x = x.decode("utf-8", "replace")
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x


def dump(path, outdir):
    out = {"file": path, "format": None, "fields": [], "error": None}
    try:
        ds = netCDF4.Dataset(path)
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
        return out
    try:
        out["format"] = ds.data_model
        wrf = is_wrf(ds)
        out["wrf"] = wrf
        listed = wrf_variables(ds) if wrf else [(v, []) for v in data_variables(ds)]
        for v, staggered in listed:
            ny, nx = v.shape[-2:]
            ny, nx = ny - ("south_north_stag" in staggered), nx - ("west_east_stag" in staggered)
            meta = {
                "variable": v.name,
                "dims": list(v.dimensions),
                "shape": [ny, nx],
                "dtype": str(v.dtype),
                **{k: jsonable(attr(v, k)) for k in ("units", "standard_name", "long_name",
                                                     "scale_factor", "add_offset")},
                "fill_value": jsonable(attr(v, "_FillValue")),
                "missing_value": jsonable(attr(v, "missing_value")),
                "destaggered": staggered,
            }
            for idx in np.ndindex(*v.shape[:-2]):
                i = len(out["fields"])
                rec = {"index": i, "indices": list(idx), **meta, "npy": None, "error": None}
                if wrf:
                    rec["valid_time"] = wrf_time(ds, v, idx)
                try:
                    data = np.ma.masked_array(v[idx + (slice(None), slice(None))])
                    arr = destagger(data.astype(np.float64).filled(np.nan), staggered)
                    name = f"field_{i}.npy"
                    np.save(os.path.join(outdir, name), np.ascontiguousarray(arr))
                    rec["npy"] = name
                except Exception as e:  # one unreadable slice must not hide the rest
                    rec["error"] = f"{type(e).__name__}: {e}"
                out["fields"].append(rec)
    except Exception as e:  # keep the fields read so far, report the failure
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        ds.close()
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    out = dump(path, outdir)
    with open(os.path.join(outdir, "fields.json"), "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
