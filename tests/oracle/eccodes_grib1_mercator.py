#!/usr/bin/env python3
"""Writes a GRIB edition 1 Mercator message with ecCodes (no sample file is GRIB1 Mercator).

Usage: eccodes_grib1_mercator.py FLAGS OUT

A 61x41 grid from (10N, 30W), 50 x 45 km, true at 20N, rows northwards, values 0..2500;
FLAGS is the resolution and component flags octet (0x40: earth oblate). The test then reads
it with tilecast and compares with ecCodes' values and geo iterator, as for a sample.
"""
import sys

import eccodes as ec
import numpy as np


def main(flags, out):
    h = ec.codes_grib_new_from_samples("GRIB1")
    try:
        ec.codes_set(h, "dataRepresentationType", 1)
        for k, v in [("Ni", 61), ("Nj", 41), ("latitudeOfFirstGridPoint", 10000),
                     ("longitudeOfFirstGridPoint", -30000), ("Latin", 20000),
                     ("DiInMetres", 50000), ("DjInMetres", 45000), ("jScansPositively", 1),
                     ("latitudeOfLastGridPoint", 27000), ("longitudeOfLastGridPoint", -3000),
                     ("resolutionAndComponentFlags", flags)]:
            ec.codes_set(h, k, v)
        ec.codes_set_values(h, np.arange(61 * 41, dtype=float))
        with open(out, "wb") as f:
            f.write(ec.codes_get_message(h))
    finally:
        ec.codes_release(h)


if __name__ == "__main__":
    main(int(sys.argv[1], 0), sys.argv[2])
