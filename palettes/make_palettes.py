#!/usr/bin/env python3
"""Regenerate the built-in tilecast palettes (palettes/*.json).

    python3 palettes/make_palettes.py            # write all palettes
    python3 palettes/make_palettes.py --check    # verify files on disk are up to date

`viridis` and `turbo` are sampled from matplotlib's 256-entry tables and so
need matplotlib (`pip install matplotlib`); without it, `--no-generic` writes or
checks only the hand-designed palettes. The hand-designed palettes are literal
tables below, written in physical units and converted to 0..1 positions across
`default_range`. See README.md for the file format and the palette notes.
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERIC_STOPS = 33  # positions k/32
HEX_RE = re.compile(r"^#[0-9a-f]{6}([0-9a-f]{2})?$")
KEY_ORDER = ("name", "description", "units", "default_range", "variables",
             "under", "over", "stops")


# --------------------------------------------------------------------------
# Generic colormaps, sampled from matplotlib.
# --------------------------------------------------------------------------

GENERIC = {
    "viridis": "Viridis perceptually uniform sequential colormap (matplotlib; "
               "Smith, van der Walt, Firing; CC0).",
    "turbo": "Turbo improved rainbow colormap (Anton Mikhailov, "
             "Copyright 2019 Google LLC, Apache-2.0).",
}


def sample_table(table, n=GENERIC_STOPS):
    """Sample a 256-entry table (entry i at position i/255) at k/(n-1).

    The table is read as the piecewise-linear colormap it represents: each
    position falls between two entries and is linearly interpolated in the
    table's float sRGB values before rounding to 8 bits. Ends hit entries 0
    and 255 exactly.
    """
    last = len(table) - 1
    stops = []
    for k in range(n):
        pos = k / (n - 1)
        x = pos * last
        i = min(int(math.floor(x)), last - 1)
        f = x - i
        rgb = [table[i][c] * (1.0 - f) + table[i + 1][c] * f for c in range(3)]
        stops.append([pos, to_hex(rgb)])
    return stops


def generic_palette(name):
    import matplotlib

    cmap = matplotlib.colormaps[name]
    table = [list(c)[:3] for c in cmap.colors]
    if len(table) != 256:
        raise SystemExit(f"{name}: expected a 256-entry table, got {len(table)}")
    return {
        "name": name,
        "description": GENERIC[name],
        "units": None,
        "default_range": None,
        "variables": [],
        "under": None,
        "over": None,
        "stops": sample_table(table),
    }


def to_hex(rgb):
    return "#" + "".join(f"{max(0, min(255, int(round(v * 255)))):02x}" for v in rgb)


# --------------------------------------------------------------------------
# Hand-designed palettes. Each stop is (value, colour) with the value in
# `table_units` (converted with `to_range_units` into the units of
# default_range), or an exact 0..1 position if the palette has no range.
# Colours are "#rrggbb" or "#rrggbbaa" (alpha 00 = fully transparent).
# --------------------------------------------------------------------------

def c_to_k(v):
    return v + 273.15


def hpa_to_pa(v):
    return v * 100.0


HAND = [
    {
        "name": "temperature",
        "description": "Air temperature, -50..+50 degC: purple/blue cold, "
                       "near-white at 0 degC, yellow-orange-red-maroon hot.",
        "units": "K",
        "default_range": [223.15, 323.15],
        "variables": ["2t", "t", "tmp", "t2m", "tas", "skt", "air_temperature",
                      "temperature", "mx2t", "mn2t", "tmax", "tmin",
                      "tasmax", "tasmin", "2d", "d2m", "dpt",
                      "dew_point_temperature"],
        "table_units": "degC",
        "to_range_units": c_to_k,
        "table": [
            (-50, "#2d0a3e"),
            (-45, "#4a136b"),
            (-40, "#671d94"),
            (-35, "#6f3bb5"),
            (-30, "#4f56c8"),
            (-25, "#3b74d2"),
            (-20, "#3891dc"),
            (-15, "#55aae6"),
            (-10, "#82c3ee"),
            (-5, "#b6ddf5"),
            (0, "#f0f4f7"),   # freezing point, exactly position 0.5
            (5, "#fbefb6"),
            (10, "#fde086"),
            (15, "#fdcb50"),
            (20, "#fcb030"),
            (25, "#f88f24"),
            (30, "#ee681e"),
            (35, "#d93b1f"),
            (40, "#b51d24"),
            (45, "#871023"),
            (50, "#570a1f"),
        ],
    },
    {
        "name": "sst",
        "description": "Sea surface temperature, 271..305 K (about -2..32 degC): "
                       "purple/blue cold through cyan, green, yellow to red warm.",
        "units": "K",
        "default_range": [271.0, 305.0],
        "variables": ["sst", "wtmp", "sea_surface_temperature"],
        "table_units": "K",
        "to_range_units": None,
        "table": [
            (271, "#2a0f4a"),
            (273, "#3b1f7a"),
            (275, "#3a3aa6"),
            (277, "#2f5fc4"),
            (279, "#2b82d0"),
            (281, "#2aa0d2"),
            (283, "#33b9c5"),
            (285, "#4ccdaf"),
            (287, "#7cda8e"),
            (289, "#ade26f"),
            (291, "#d8e25a"),
            (293, "#f5d74a"),
            (295, "#fbbc3c"),
            (297, "#f99a32"),
            (299, "#f2722a"),
            (301, "#de4827"),
            (303, "#bb2527"),
            (305, "#8a0f26"),
        ],
    },
    {
        "name": "precipitation",
        "description": "Accumulated precipitation, 0..50 mm: transparent below "
                       "0.05 mm, blues, greens, yellow, orange, reds, magenta.",
        "units": "kg m-2",
        "default_range": [0.0, 50.0],
        "variables": ["tp", "apcp", "precipitation_amount", "pr"],
        "table_units": "mm",
        "to_range_units": None,
        "table": [
            (0.0, "#a6d3f500"),
            (0.05, "#a6d3f500"),
            (0.1, "#a6d3f5"),
            (0.5, "#6cb2ec"),
            (1, "#3a8ee0"),
            (2, "#2aa85a"),
            (5, "#9ad13a"),
            (10, "#fde23c"),
            (15, "#fdae2e"),
            (20, "#f6701f"),
            (30, "#e3262a"),
            (40, "#a8102e"),
            (50, "#e034d8"),
        ],
    },
    {
        "name": "wind_speed",
        "description": "Wind speed and gusts, 0..40 m/s, stops at Beaufort "
                       "boundaries: pale blue calm, teal, green, yellow, orange, "
                       "red storm, magenta/purple hurricane force.",
        "units": "m s-1",
        "default_range": [0.0, 40.0],
        "variables": ["ws", "wind", "wind_speed", "10si", "si", "wspd",
                      "sfcwind", "gust", "gust_speed", "fg10", "10fg", "i10fg",
                      "wind_speed_of_gust"],
        "table_units": "m s-1",
        "to_range_units": None,
        "table": [
            (0.0, "#d7e6f5"),   # calm
            (1.6, "#a9cdee"),   # Bft 2
            (3.4, "#6fb0e0"),   # Bft 3
            (5.5, "#41a6b7"),   # Bft 4
            (8.0, "#3cb371"),   # Bft 5
            (10.8, "#a6d13b"),  # Bft 6
            (13.9, "#f8e03b"),  # Bft 7
            (17.2, "#fba92f"),  # Bft 8 gale
            (20.8, "#f26a21"),  # Bft 9 strong gale
            (24.5, "#dc2f25"),  # Bft 10 storm
            (28.5, "#a7172f"),  # Bft 11 violent storm
            (32.7, "#c2188f"),  # Bft 12 hurricane force
            (40.0, "#6a1b9a"),
        ],
    },
    {
        "name": "wind_component",
        "description": "Eastward or northward wind component, -40..+40 m/s, "
                       "diverging around 0: blue westward/southward, near-white "
                       "calm, red eastward/northward.",
        "units": "m s-1",
        "default_range": [-40.0, 40.0],
        "variables": ["u", "v", "ugrd", "vgrd", "10u", "10v", "u10", "v10",
                      "100u", "100v", "u100", "v100", "uas", "vas", "ua", "va",
                      "eastward_wind", "northward_wind", "x_wind", "y_wind"],
        "table_units": "m s-1",
        "to_range_units": None,
        "table": [
            (-40, "#053061"),
            (-30, "#2166ac"),
            (-20, "#4393c3"),
            (-10, "#92c5de"),
            (-3, "#d1e5f0"),
            (0, "#f7f7f7"),
            (3, "#fddbc7"),
            (10, "#f4a582"),
            (20, "#d6604d"),
            (30, "#b2182b"),
            (40, "#67001f"),
        ],
    },
    {
        "name": "diverging",
        "description": "Signed quantities centred on zero (vertical velocity, "
                       "anomalies, differences): blue negative, near-white zero, "
                       "red positive; positions across a symmetric range.",
        "units": "1",
        "default_range": [-1.0, 1.0],
        "variables": [],
        "table_units": "1",
        "to_range_units": None,
        "table": [
            (-1.0, "#053061"),
            (-0.75, "#2166ac"),
            (-0.5, "#4393c3"),
            (-0.25, "#92c5de"),
            (-0.08, "#d1e5f0"),
            (0.0, "#f7f7f7"),
            (0.08, "#fddbc7"),
            (0.25, "#f4a582"),
            (0.5, "#d6604d"),
            (0.75, "#b2182b"),
            (1.0, "#67001f"),
        ],
    },
    {
        "name": "pressure",
        "description": "Mean sea level pressure, 960..1040 hPa, diverging "
                       "around 1013.25 hPa: purple/blue lows, near-white "
                       "standard, orange/red highs.",
        "units": "Pa",
        "default_range": [96000.0, 104000.0],
        "variables": ["msl", "prmsl", "mslet", "mslp", "psl", "pres", "sp", "ps",
                      "air_pressure_at_mean_sea_level",
                      "air_pressure_at_sea_level", "surface_air_pressure"],
        "table_units": "hPa",
        "to_range_units": hpa_to_pa,
        "table": [
            (960, "#3b0f6f"),
            (970, "#4a2a9c"),
            (980, "#3d5bc4"),
            (990, "#4b8fd6"),
            (1000, "#8cbfe6"),
            (1010, "#d4e8f3"),
            (1013.25, "#f5f5f2"),  # standard atmosphere, position 0.665625
            (1020, "#fbdca0"),
            (1025, "#f7bd72"),
            (1030, "#f29a4a"),
            (1040, "#b2302a"),
        ],
    },
    {
        "name": "relative_humidity",
        "description": "Relative humidity, 0..100 %: browns when dry, pale "
                       "near 50 %, greens to blues when humid.",
        "units": "%",
        "default_range": [0.0, 100.0],
        "variables": ["r", "rh", "2r", "hur", "hurs", "relative_humidity"],
        "table_units": "%",
        "to_range_units": None,
        "table": [
            (0, "#5a3412"),
            (10, "#7f4f1f"),
            (20, "#a66f33"),
            (30, "#c79452"),
            (40, "#e0bd83"),
            (50, "#efe0b8"),
            (60, "#cfe6c0"),
            (70, "#92cf9a"),
            (80, "#4fb29a"),
            (90, "#2a8aa8"),
            (100, "#1e5a9c"),
        ],
    },
    {
        "name": "cloud_cover",
        "description": "Cloud cover, 0..100 %: transparent when clear, "
                       "translucent grey to opaque white when overcast.",
        "units": "%",
        "default_range": [0.0, 100.0],
        "variables": ["tcc", "tcdc", "lcc", "lcdc", "mcc", "mcdc", "hcc", "hcdc",
                      "clt", "cloud_area_fraction", "cloud_cover"],
        "table_units": "%",
        "to_range_units": None,
        "table": [
            (0, "#aab1ba00"),
            (5, "#aab1ba00"),
            (25, "#bcc2c980"),
            (50, "#d0d4d9b8"),
            (75, "#e5e7eae0"),
            (100, "#fafafb"),
        ],
    },
    {
        "name": "reflectivity",
        "description": "Radar reflectivity, -10..75 dBZ, NWS-like: transparent "
                       "below 5 dBZ, light blues, greens, yellow, orange, reds, "
                       "magenta, purple, white.",
        "units": "dBZ",
        "default_range": [-10.0, 75.0],
        "variables": ["refc", "refd", "refl", "maxref", "dbz", "reflectivity",
                      "equivalent_reflectivity_factor"],
        "table_units": "dBZ",
        "to_range_units": None,
        "table": [
            (-10, "#9ce0ee00"),
            (4, "#9ce0ee00"),
            (5, "#9ce0ee"),
            (10, "#4fb8e8"),
            (15, "#2f78d4"),
            (20, "#30c853"),
            (25, "#1fa33a"),
            (30, "#11772a"),
            (35, "#f5ec2a"),
            (40, "#e9b514"),
            (45, "#fb8c1a"),
            (50, "#f01d1d"),
            (55, "#c40f0f"),
            (60, "#8f0a0a"),
            (65, "#f22df2"),
            (70, "#9b4fd0"),
            (75, "#ffffff"),
        ],
    },
]


def hand_palette(spec):
    lo, hi = spec["default_range"]
    conv = spec["to_range_units"] or (lambda v: float(v))
    stops = []
    for value, colour in spec["table"]:
        pos = round((conv(value) - lo) / (hi - lo), 6)
        stops.append([pos, colour.lower()])
    p = {k: spec.get(k) for k in KEY_ORDER[:-1]}  # under/over default to null
    p["stops"] = stops
    return p


# --------------------------------------------------------------------------
# Serialisation and validation.
# --------------------------------------------------------------------------

def fmt_num(x):
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x)}.0"
    return repr(x)


def dumps(p):
    """2-space indented JSON, fixed key order, one stop per line."""
    def val(v):
        if v is None or isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):  # default_range / variables: single line
            return "[" + ", ".join(fmt_num(x) if isinstance(x, (int, float))
                                   else json.dumps(x) for x in v) + "]"
        raise TypeError(v)

    lines = ["{"]
    for key in KEY_ORDER[:-1]:
        lines.append(f'  "{key}": {val(p[key])},')
    lines.append('  "stops": [')
    body = [f"    [{fmt_num(pos)}, {json.dumps(col)}]" for pos, col in p["stops"]]
    lines.append(",\n".join(body))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def validate(p):
    """Return a list of problems with palette `p` (a parsed JSON object)."""
    errs = []
    if list(p.keys()) != list(KEY_ORDER):
        errs.append(f"keys {list(p.keys())} != {list(KEY_ORDER)}")
    if not isinstance(p.get("name"), str) or not re.fullmatch(r"[a-z0-9_]+", p["name"]):
        errs.append("name must be [a-z0-9_]+")
    if not isinstance(p.get("description"), str) or "\n" in p["description"]:
        errs.append("description must be one line")
    rng = p.get("default_range")
    if rng is not None:
        if not (isinstance(rng, list) and len(rng) == 2
                and all(isinstance(x, (int, float)) for x in rng) and rng[0] < rng[1]):
            errs.append("default_range must be [lo, hi] with lo < hi, or null")
        if not isinstance(p.get("units"), str):
            errs.append("units must be a string when default_range is set")
    elif p.get("units") is not None:
        errs.append("units must be null when default_range is null")
    vs = p.get("variables")
    if not (isinstance(vs, list) and all(isinstance(v, str) and v == v.lower() for v in vs)):
        errs.append("variables must be a list of lower-case strings")
    elif len(set(vs)) != len(vs):
        errs.append("duplicate variables")
    for key in ("under", "over"):
        if p.get(key) is not None and not HEX_RE.match(str(p[key])):
            errs.append(f"{key} must be null or #rrggbb[aa]")
    stops = p.get("stops")
    if not isinstance(stops, list) or len(stops) < 2:
        return errs + ["need at least two stops"]
    prev = None
    for i, s in enumerate(stops):
        if not (isinstance(s, list) and len(s) == 2 and isinstance(s[0], (int, float))
                and isinstance(s[1], str)):
            errs.append(f"stop {i} malformed: {s!r}")
            continue
        pos, col = s
        if not 0.0 <= pos <= 1.0:
            errs.append(f"stop {i} position {pos} outside 0..1")
        if prev is not None and pos <= prev:
            errs.append(f"stop {i} position {pos} not > {prev}")
        if not HEX_RE.match(col):
            errs.append(f"stop {i} colour {col!r} not #rrggbb[aa] lower-case")
        prev = pos
    if stops[0][0] != 0.0 or stops[-1][0] != 1.0:
        errs.append("first stop must be at 0.0 and last at 1.0")
    return errs


def build(generic=True):
    palettes = [hand_palette(s) for s in HAND]
    if generic:
        palettes = [generic_palette(n) for n in GENERIC] + palettes
    return palettes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if any file differs or is invalid")
    ap.add_argument("--no-generic", action="store_true",
                    help="skip viridis/turbo (no matplotlib needed)")
    args = ap.parse_args()

    palettes = build(generic=not args.no_generic)
    failed = False
    owner = {}
    for p in palettes:
        text = dumps(p)
        errs = validate(json.loads(text))
        for v in p["variables"]:
            if v in owner:
                errs.append(f"variable {v!r} also claimed by {owner[v]}")
            owner[v] = p["name"]
        path = HERE / f"{p['name']}.json"
        if errs:
            failed = True
            print(f"{path.name}: INVALID: " + "; ".join(errs), file=sys.stderr)
            continue
        if args.check:
            if not path.exists() or path.read_text() != text:
                failed = True
                print(f"{path.name}: out of date", file=sys.stderr)
        else:
            path.write_text(text)
            print(f"wrote {path.name} ({len(p['stops'])} stops)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
