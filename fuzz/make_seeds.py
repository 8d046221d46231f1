"""Makes the committed seed corpus of the fuzz targets (fuzz/corpus/<target>/).

Seeds are small on purpose (libFuzzer mutates small inputs far more productively) and come
from real files:

- grib2: single messages cut from ../shared/sample-data (one of each packing and grid kind
  the samples have, a bitmap, a constant field, a multi-field message, a WMO bulletin
  header, GRIB1 messages of several grids and both editions in one file, unsupported grids
  for the error paths) and from sample-data/; the one
  real 5.2 field and the 5.3/5.42 fields are hundreds of kB, so the 5 kB iris__uk_t field is
  also re-encoded by ecCodes in every packing;
- ccsds: the `ccsds` target's own layout (7 parameter bytes, then the code stream) from every
  message of tests/fixtures/ccsds/ccsds_cases.grib2 and the re-encoded uk_t field;
- netcdf: each real NetCDF file cut down to at most 6 points per dimension with every
  variable and attribute kept, in netCDF classic format (the target skips NetCDF4/HDF5);
- palette: palettes/*.json.

job and event seeds are hand-made JSON and are not written by this script.

Usage (from the repository root; needs the PyPI packages eccodes, netCDF4 and numpy):
    python3 fuzz/make_seeds.py [SHARED_SAMPLES]    # default ../shared/sample-data
"""

import sys
from pathlib import Path

import eccodes
import netCDF4
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
SHARED = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "sample-data"


def messages(data):
    """(offset, bytes) of each GRIB message (edition 1 or 2) in a file."""
    i = 0
    while True:
        j = data.find(b"GRIB", i)
        if j < 0 or j + 16 > len(data):
            return
        if data[j + 7] == 2:
            n = int.from_bytes(data[j + 8 : j + 16], "big")
        else:
            n = int.from_bytes(data[j + 4 : j + 7], "big")
        if n < 16 or j + n > len(data):
            i = j + 4
            continue
        yield j, data[j : j + n]
        i = j + n


def sections(msg):
    """{section number: bytes} of a single-field GRIB2 message (first of each)."""
    out, p = {}, 16
    while p + 5 <= len(msg) and msg[p : p + 4] != b"7777":
        length = int.from_bytes(msg[p : p + 4], "big")
        if length == 0:
            break
        out.setdefault(msg[p + 4], msg[p : p + length])
        p += length
    return out


def message(rel, k=0, root=None):
    data = ((root or SHARED) / rel).read_bytes()
    return list(messages(data))[k][1]


def reencode(msg, packing):
    h = eccodes.codes_new_from_message(msg)
    try:
        eccodes.codes_set(h, "packingType", packing)
        return eccodes.codes_get_message(h)
    finally:
        eccodes.codes_release(h)


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def grib_seeds():
    g = "grib2/"
    eta = (SHARED / g / "pygrib__eta.grb").read_bytes()
    # The smallest message of eta.grb holding two fields (sections 4-7 repeated).
    multi = min((m for _, m in messages(eta) if _repeats(m)), key=len)
    awp = (SHARED / g / "geocat__fh.0012_tl.press_gr.awp211.grb2").read_bytes()
    awp = sorted((m for _, m in messages(awp)), key=len)
    seeds = {
        "simple-regional-s2n.grib2": message(g + "iris__uk_t.grib2"),
        "simple-global-ll.grib2": message(g + "pygrib__regular_latlon_surface.grib2"),
        "simple-constant-lambert.grib2": message(g + "gribberish__hrrr.t06z.wrfsfcf01-CFRZR.grib2"),
        "simple-bitmap-3x3.grib2": message(g + "cfgrib__step_60m.grib"),
        "simple-polar.grib2": message(g + "pygrib__ngm.grb"),
        "simple-multi-field.grib2": multi,
        "simple-bitmap-sst.grib2": message("sst_missing.grib2", root=ROOT / "sample-data"),
        "jpeg-bulletin-header.grib2": (SHARED / g / "iris__bulletin_40bytes.grib").read_bytes(),
        "jpeg-lambert-smallest.grib2": awp[0],
        "jpeg-lambert.grib2": awp[len(awp) // 2],
        "jpeg-bitmap.grib2": message(g + "wgrib2__gdaswave.t00z.wcoast.0p16.f000.grib2"),
        "png-lambert.grib2": message(g + "geocat__200711210135_NCV_FLIGHTCAT_A.grb2"),
        "complex-sd-order2.grib2": message("global_uv10.grib2", 0, root=ROOT / "sample-data"),
        "complex-sd-order1.grib2": message("global_uv10.grib2", 1, root=ROOT / "sample-data"),
        "unsupported-healpix.grib2": message("unsupported/earthkit__healpix_H8.grib2"),
        "grib1-rotated.grib": message("grids/earthkit__rotated_wind_20x20.grib"),
        "grib1-reduced-ll-bitmap.grib": message("grids/iristd__reduced_ll_missing.grib1"),
        "grib1-regular-ll.grib": message("grids/cfgrib__regular_ll_sfc.grib"),
        "grib1-polar.grib": message("grib1/pygrib__CMC_reg_WIND_ISBL_300_ps60km_2010052400_P012.grib"),
        # Both editions in one file.
        "mixed-editions.grib": message("grids/earthkit__rotated_wind_20x20.grib", 1)
        + message(g + "cfgrib__step_60m.grib", 2),
        # Two messages with junk before, between and after them.
        "two-messages-junk.grib2": b"junk" + message(g + "cfgrib__step_60m.grib", 0)
        + b"\0GRI" + message(g + "cfgrib__step_60m.grib", 1) + b"GRIB\0\0",
    }
    uk = message(g + "iris__uk_t.grib2")
    for packing, name in [
        ("grid_complex", "complex"),
        ("grid_complex_spatial_differencing", "complex-sd"),
        ("grid_jpeg", "jpeg"),
        ("grid_png", "png"),
        ("grid_ccsds", "ccsds"),
    ]:
        seeds[f"{name}-reencoded.grib2"] = reencode(uk, packing)
    cases = list(messages((ROOT / "tests/fixtures/ccsds/ccsds_cases.grib2").read_bytes()))
    for k in (0, 51, 60, 65, 75, 83):
        seeds[f"ccsds-case{k}.grib2"] = cases[k][1]
    for name, data in seeds.items():
        write("grib2", name, data)
    return [m for _, m in cases] + [seeds["ccsds-reencoded.grib2"]]


def _repeats(msg):
    """Whether a GRIB2 message has more than one section 4."""
    p, n4 = 16, 0
    while p + 5 <= len(msg) and msg[p : p + 4] != b"7777":
        length = int.from_bytes(msg[p : p + 4], "big")
        if length == 0:
            break
        n4 += msg[p + 4] == 4
        p += length
    return n4 > 1


def ccsds_seeds(ccsds_messages):
    """The ccsds target's input: bits, flags, block selector, RSI (2), n (2), stream."""
    blocks = {8: 0, 16: 1, 32: 2, 64: 3}
    for k, msg in enumerate(ccsds_messages):
        s = sections(msg)
        s5, s7 = s[5], s[7]
        n = int.from_bytes(s5[5:9], "big")
        bits, flags, block = s5[19], s5[21], s5[22]
        rsi = int.from_bytes(s5[23:25], "big")
        if bits == 0 or n >= 1 << 14 or rsi > 4096:
            continue
        sel = blocks.get(block, 0x80 | block)
        head = bytes([bits, flags, sel]) + rsi.to_bytes(2, "big") + n.to_bytes(2, "big")
        write("ccsds", f"case{k:02}-{bits}bit-flags{flags}-J{block}-rsi{rsi}", head + s7[5:])


def shrink_netcdf(src, dst, keep=6):
    """A classic-format copy of `src` with every dimension cut to `keep` entries."""
    with netCDF4.Dataset(src) as a, netCDF4.Dataset(dst, "w", format="NETCDF3_CLASSIC") as b:
        b.setncatts({k: a.getncattr(k) for k in a.ncattrs()})
        for name, d in a.dimensions.items():
            b.createDimension(name, None if d.isunlimited() else min(len(d), keep))
        for name, v in a.variables.items():
            dtype = v.dtype
            if dtype == str or dtype.kind not in "iufS" or dtype.itemsize > 8:
                continue
            if dtype.kind == "i" and dtype.itemsize == 8:
                dtype = np.dtype("i4")
            if dtype.kind == "u":
                dtype = np.dtype(f"i{dtype.itemsize}")
            fill = v.getncattr("_FillValue") if "_FillValue" in v.ncattrs() else None
            w = b.createVariable(name, dtype, v.dimensions, fill_value=fill)
            w.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
            v.set_auto_maskandscale(False)
            w.set_auto_maskandscale(False)
            if v.ndim:
                data = v[tuple(slice(0, keep) for _ in v.shape)]
                w[tuple(slice(0, n) for n in data.shape)] = data
            else:
                w.assignValue(v.getValue())


def netcdf_seeds():
    tmp = CORPUS / "netcdf"
    tmp.mkdir(parents=True, exist_ok=True)
    for rel in [
        "netcdf/earthkit__test4.nc",
        "netcdf/geocat__hgt.nc",
        "netcdf/iris__polar_toa_brightness_temperature.nc",
        "netcdf/iris__test_lcc.nc",
        "netcdf/opendrift__AROME_MetCoOp_00_DEF_20160114_subset.nc",
        "grids/geocat__tas_rotated_grid_EUR11.nc",
        "grids/salem__wrf_mercator.nc",
        "grids/fieldglass__goes16_abi_cmip.nc",
    ]:
        shrink_netcdf(SHARED / rel, tmp / (Path(rel).stem + "-cut.nc"))


def palette_seeds():
    for p in sorted((ROOT / "palettes").glob("*.json")):
        write("palette", p.name, p.read_bytes())


if __name__ == "__main__":
    eccodes.codes_grib_multi_support_off()
    ccsds_seeds(grib_seeds())
    netcdf_seeds()
    palette_seeds()
    for d in sorted(CORPUS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")
