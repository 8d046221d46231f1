"""Builds the whole-file benchmark input: a 50-field 0.25-degree GRIB2 file made with ecCodes
from the two real global 0.25-degree samples (GFS 2 PVU temperature, complex packing with
spatial differencing and missing values; ECMWF AIFS 500 hPa temperature, CCSDS).

Field k is sample k % 2 moved east by 7k columns (a front drifting through a time series),
with forecast step k hours, so every field is a distinct layer with distinct pixels. Every
field is packed as GFS packs it (complex packing with spatial differencing): GDAL 3.6, the
reference, cannot read CCSDS. Usage: whole_file.py SHARED_SAMPLES OUT.grib2 [FIELDS]
"""
import sys

import eccodes as ec
import numpy as np

shared, out = sys.argv[1], sys.argv[2]
fields = int(sys.argv[3]) if len(sys.argv) > 3 else 50
sources = [
    "grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2",
    "grib2/gribberish__aifs-single-t500.grib2",
]
handles = []
for rel in sources:
    with open(f"{shared}/{rel}", "rb") as f:
        h = ec.codes_grib_new_from_file(f)
    if (ec.codes_get(h, "Ni"), ec.codes_get(h, "Nj")) != (1440, 721):
        sys.exit(f"{rel}: not a 1440x721 grid")
    handles.append(h)
with open(out, "wb") as f:
    for k in range(fields):
        src = handles[k % len(handles)]
        h = ec.codes_clone(src)
        missing = ec.codes_get_double(src, "missingValue")
        values = ec.codes_get_values(src).reshape(721, 1440)
        values = np.roll(values, 7 * k, axis=1)
        ec.codes_set(h, "forecastTime", k)
        ec.codes_set(h, "packingType", "grid_complex_spatial_differencing")
        ec.codes_set_double(h, "missingValue", missing)
        ec.codes_set_values(h, values.ravel())
        ec.codes_write(h, f)
        ec.codes_release(h)
print(f"{out}: {fields} fields")
