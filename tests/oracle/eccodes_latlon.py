#!/usr/bin/env python3
"""Reference geolocation: latitudes and longitudes of every point of one GRIB field.

Usage: eccodes_latlon.py FILE INDEX OUT.npy

Writes float64 (2, Nj, Ni): [latitudes, longitudes] as ecCodes computes them (its geo
iterator, which knows every grid template's projection and scanning mode), for field INDEX
(0-based, multi-field messages counted field by field, as in eccodes_dump.py). Points are in
geographic order: with alternativeRowScanning the odd rows are already in the direction of
the even ones, matching the values eccodes_dump.py writes.
"""
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
        ni, nj = ec.codes_get(h, "Ni"), ec.codes_get(h, "Nj")
        lat = ec.codes_get_array(h, "latitudes").reshape(nj, ni)
        lon = ec.codes_get_array(h, "longitudes").reshape(nj, ni)
        ec.codes_release(h)
    np.save(out, np.stack([lat, lon]).astype(np.float64))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
