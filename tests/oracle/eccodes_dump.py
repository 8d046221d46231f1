#!/usr/bin/env python3
"""Reference oracle for GRIB decoding: dump every field of FILE as ecCodes sees it.

Usage: eccodes_dump.py FILE OUTDIR

Writes OUTDIR/fields.json = {"file": FILE, "fields": [...], "error": null|str}
and OUTDIR/field_<i>.npy for each field i (0-based, file order) that could be
decoded onto a regular (Nj, Ni) array.

Conventions the Rust tests rely on:
  * multi-field support is on, so a message with sections 4-7 repeated yields
    one field per repetition; GRIB1 messages are listed too (edition 1).
  * npy arrays are float64, shape (Nj, Ni), in the order the values are stored
    in the file: NO flipping for iScansNegatively / jScansPositively (the JSON
    carries those flags). Two storage quirks ARE undone so that axis 0 is
    always j and every row runs in the same i direction:
      - alternativeRowScanning=1 (boustrophedonic, e.g. NDFD scanningMode 80):
        ecCodes' `values` key is in raw file order, only its geo iterator
        re-reverses odd rows; we reverse every odd stored row the same way
        (checked equal to codes_grib_iterator values on cfgrib__ds.waveh.5);
      - jPointsAreConsecutive=1: stored column-major, so transpose.
  * NaN exactly where ecCodes considers the point missing, whatever the
    mechanism (bitmap, or complex-packing missingValueManagementUsed without a
    bitmap). See missing_mask().
  * A key ecCodes cannot provide (absent, or coded as "missing") is null.
  * "error" (per field) = the field failed to decode; "npy_skipped" = values
    decoded but no regular (Nj, Ni) array exists (reduced grid, HEALPix, ...);
    the npy is then 1-D, the values in file order.
  * Extra keys beyond the brief: offset (byte offset of the message, shows
    junk skipped before 'GRIB'), bitmapPresent, missingValueManagementUsed,
    alternativeRowScanning, nanCount, npy_skipped.
"""
import json
import math
import os
import sys

import eccodes as ec
import numpy as np

KEYS = [
    "edition", "shortName", "name", "units", "typeOfLevel", "level", "gridType",
    "packingType", "Ni", "Nj", "numberOfDataPoints", "numberOfMissing",
    "bitsPerValue", "binaryScaleFactor", "decimalScaleFactor", "referenceValue",
    "gridDefinitionTemplateNumber", "dataRepresentationTemplateNumber",
    "productDefinitionTemplateNumber", "discipline", "parameterCategory",
    "parameterNumber", "dataDate", "dataTime", "validityDate", "validityTime",
    "iScansNegatively", "jScansPositively", "jPointsAreConsecutive",
    "latitudeOfFirstGridPointInDegrees", "longitudeOfFirstGridPointInDegrees",
    "latitudeOfLastGridPointInDegrees", "longitudeOfLastGridPointInDegrees",
    # extras (see docstring)
    "offset", "bitmapPresent", "missingValueManagementUsed",
    "alternativeRowScanning",
]

# Packings whose decoded values are (R + X * 2^E) * 10^-D, so the quantisation
# error is bounded by half a step. IEEE, spectral etc. have no such bound.
# Constant fields (bitsPerValue 0) still get the formula: a loose but valid bound.
QUANTISED_PACKINGS = {
    "grid_simple", "grid_simple_matrix", "grid_complex",
    "grid_complex_spatial_differencing", "grid_jpeg", "grid_png", "grid_ccsds",
}

# Two sentinels far outside any physical range: a point is missing only if it
# decodes to the current missingValue under both, which rules out a genuine
# data value that happens to equal ecCodes' default missingValue (9999): e.g.
# pygrib__eta.grb field 79 (gh, 250 hPa) has two real points equal to 9999.
SENTINELS = (-1.2345e37, 9.8765e36)


def get(h, key):
    """Native-typed key value, or None if absent/missing/not JSON-representable."""
    try:
        if not ec.codes_is_defined(h, key):
            return None
        try:
            if ec.codes_is_missing(h, key):
                return None
        except ec.GribInternalError:
            pass  # some computed keys cannot be tested for "missing"; read anyway
        v = ec.codes_get(h, key)
    except ec.GribInternalError:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def missing_mask(h):
    """Boolean mask of points ecCodes decodes as missing.

    ecCodes substitutes the `missingValue` key at missing points both for a
    bitmap and for complex packing with missingValueManagementUsed>0 (primary
    and secondary substitutes). Rather than special-casing each mechanism we
    decode twice with different missingValue settings and keep the points
    that follow the setting.
    """
    mask = None
    for s in SENTINELS:
        ec.codes_set_double(h, "missingValue", s)
        m = ec.codes_get_values(h) == s
        mask = m if mask is None else mask & m
    return mask


def grid_shape(rec, n):
    """(Nj, Ni) for a regular grid, else (None, reason)."""
    ni, nj = rec["Ni"], rec["Nj"]
    if ni is None or nj is None:
        return None, f"no regular grid: Ni/Nj missing (gridType={rec['gridType']})"
    if ni * nj != n:
        return None, f"Ni*Nj={ni * nj} != number of values {n}"
    return (nj, ni), None


def dump_field(h, i, outdir):
    rec = {"index": i}
    rec.update({k: get(h, k) for k in KEYS})
    if rec["offset"] is not None:  # ecCodes reports this byte offset as a double
        rec["offset"] = int(rec["offset"])
    E, D = rec["binaryScaleFactor"], rec["decimalScaleFactor"]
    rec["precision"] = (
        0.5 * 2.0 ** E * 10.0 ** (-D)
        if rec["packingType"] in QUANTISED_PACKINGS and E is not None and D is not None
        else None
    )
    rec.update(npy=None, npy_skipped=None, nanCount=None, error=None)
    try:
        values = ec.codes_get_values(h).astype(np.float64)
        values[missing_mask(h)] = np.nan
    except Exception as e:  # keep going: one bad field must not hide the rest
        rec["error"] = f"{type(e).__name__}: {e}"
        return rec
    rec["nanCount"] = int(np.isnan(values).sum())
    shape, why = grid_shape(rec, values.size)
    if shape is None:
        # Reduced and HEALPix grids: the values in file order, 1-D.
        rec["npy_skipped"] = why
        name = f"field_{i}.npy"
        np.save(os.path.join(outdir, name), values)
        rec["npy"] = name
        return rec
    nj, ni = shape
    jcons = rec["jPointsAreConsecutive"] == 1
    arr = values.reshape((ni, nj) if jcons else (nj, ni))  # stored rows
    if rec["alternativeRowScanning"] == 1:
        arr[1::2] = arr[1::2, ::-1].copy()
    if jcons:
        arr = arr.T
    name = f"field_{i}.npy"
    np.save(os.path.join(outdir, name), np.ascontiguousarray(arr))
    rec["npy"] = name
    return rec


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    ec.codes_grib_multi_support_on()
    out = {"file": path, "fields": [], "error": None}
    try:
        with open(path, "rb") as f:
            while True:
                # A corrupt message raises here; we cannot resynchronise
                # reliably, so stop and report what was read so far.
                h = ec.codes_grib_new_from_file(f)
                if h is None:
                    break
                try:
                    out["fields"].append(dump_field(h, len(out["fields"]), outdir))
                finally:
                    ec.codes_release(h)
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    with open(os.path.join(outdir, "fields.json"), "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
