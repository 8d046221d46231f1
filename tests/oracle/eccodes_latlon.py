#!/usr/bin/env python3
"""Reference geolocation: latitudes and longitudes of every point of one GRIB field.

Usage: eccodes_latlon.py FILE INDEX OUT.npy

Writes float64 (2, Nj, Ni), or (2, N) for reduced and HEALPix grids: [latitudes,
longitudes] as ecCodes computes them (its geo iterator, which knows every grid template's
projection and scanning mode), and OUT.npy.json with the grid keys, for field INDEX
(0-based, multi-field messages counted field by field, as in eccodes_dump.py). Points are in
geographic order: with alternativeRowScanning the odd rows are already in the direction of
the even ones, matching the values eccodes_dump.py writes.
"""
import json
import sys

import eccodes as ec
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
        lat = ec.codes_get_array(h, "latitudes")
        lon = ec.codes_get_array(h, "longitudes")
        keys = {}
        for k in ("gridType", "Ni", "Nj", "latitudeOfFirstGridPointInDegrees",
                  "latitudeOfLastGridPointInDegrees", "jDirectionIncrementInDegrees"):
            try:
                keys[k] = None if ec.codes_is_missing(h, k) else ec.codes_get(h, k)
            except Exception:  # a key this grid does not have
                keys[k] = None
        ec.codes_release(h)
    ni, nj = keys["Ni"], keys["Nj"]
    if ni is not None and nj is not None and ni * nj == lat.size:
        lat, lon = lat.reshape(nj, ni), lon.reshape(nj, ni)
    np.save(out, np.stack([lat, lon]).astype(np.float64))
    with open(out + ".json", "w") as f:
        json.dump(keys, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
