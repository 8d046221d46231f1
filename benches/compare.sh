#!/usr/bin/env bash
# Side-by-side comparison on this machine, in one run, on the same input files:
#   1. decode time per GRIB2 packing: tilecast (criterion, benches/pipeline.rs) vs ecCodes
#      (the Python eccodes wheel, decoding the same message repeatedly);
#   2. the z0-z5 Web Mercator pyramid of a 1440x721 field: `tilecast render` (colour and data
#      tiles) vs the usual GDAL recipe (gdalwarp to EPSG:3857, gdaldem color-relief,
#      gdal2tiles.py --processes=2), wall clock and peak memory (/usr/bin/time -v), and the
#      total size of the colour tiles.
# Prints ratios. Needs what scripts/setup --test installs, plus python3-gdal (gdal2tiles.py)
# and time; the script installs those when run as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${TILECAST_SHARED_SAMPLES:-../shared/sample-data}"
scripts/setup --test >/dev/null
for p in python3-gdal time; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    sudo=""; [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$p" >/dev/null
  fi
done
py=target/pyenv/bin/python
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cargo build --release -q -p tilecast-workers

echo "== decode: milliseconds per field (median), tilecast vs ecCodes"
cargo bench -q --bench pipeline -- 'decode/' --warm-up-time 1 --measurement-time 3 2>/dev/null > "$tmp/tilecast.txt"
"$py" - "$shared" "$tmp/tilecast.txt" <<'PY'
import sys, time, statistics
import eccodes as ec
shared, ours = sys.argv[1], sys.argv[2]
files = {
    "simple": "grib2/cfgrib__regular_ll_msl.grib",
    "complex_spatial_diff": "grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2",
    "complex": "grib2/cfgrib__ds.waveh.5.grib",
    "jpeg2000": "grib2/geocat__fh.0012_tl.press_gr.awp211.grb2",
    "png": "grib2/geocat__200711210135_NCV_FLIGHTCAT_A.grb2",
    "ccsds": "grib2/gribberish__aifs-single-t500.grib2",
}
unit = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
import re
tc, name = {}, None
for line in open(ours):
    m = re.match(r"^decode/(\S+)", line)
    if m:
        name = m.group(1)
    m = re.search(r"time:\s+\[[\d.]+ \S+ ([\d.]+) (\S+) ", line)
    if m and name and name not in tc:
        tc[name] = float(m.group(1)) * unit[m.group(2)]
        name = None
print(f"{'packing':<22}{'tilecast ms':>12}{'ecCodes ms':>12}{'ratio':>8}")
for name, rel in files.items():
    with open(f"{shared}/{rel}", "rb") as f:
        h = ec.codes_grib_new_from_file(f)
    times = []
    for _ in range(30):
        clone = ec.codes_clone(h)  # a fresh handle: ecCodes caches decoded values
        t = time.perf_counter()
        ec.codes_get_values(clone)
        times.append((time.perf_counter() - t) * 1e3)
        ec.codes_release(clone)
    e = statistics.median(times)
    t = tc.get(name, float("nan"))
    print(f"{name:<22}{t:>12.3f}{e:>12.3f}{e / t:>7.2f}x")
PY

echo
echo "== z0-z5 Web Mercator pyramid of a 1440x721 field (GFS 2 PVU temperature), 2 cores"
field="$shared/grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2"
measure() { # label, command... -> prints "label seconds peakMB"
  local label=$1; shift
  /usr/bin/time -v -o "$tmp/time.txt" "$@" >/dev/null 2>&1
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$tmp/time.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$tmp/time.txt" | awk '{print $NF/1024}')
  echo "$label $wall $rss"
}
T=$(measure tilecast target/release/tilecast render "$field" --zoom 0-5 --out "$tmp/tc" --quiet --palette temperature)
cat > "$tmp/colors.txt" <<'COL'
nv 0 0 0 0
180 48 18 59
200 70 107 227
220 40 187 236
235 50 241 153
250 164 252 60
265 237 208 58
280 251 128 34
300 209 49 5
320 122 4 3
COL
gdal_recipe() {
  gdalwarp -q --config GRIB_NORMALIZE_UNITS NO -t_srs EPSG:3857 -te -20037508.34 -20037508.34 20037508.34 20037508.34 \
    -r bilinear -dstnodata nan -of GTiff "$field" "$tmp/3857.tif"
  gdaldem color-relief -q -alpha "$tmp/3857.tif" "$tmp/colors.txt" "$tmp/rgba.tif"
  gdal2tiles.py -q --xyz --processes=2 -z 0-5 -w none "$tmp/rgba.tif" "$tmp/gdal"
}
export -f gdal_recipe; export field tmp
G=$(measure gdal bash -c gdal_recipe)
read -r _ tw tm <<<"$T"; read -r _ gw gm <<<"$G"
tcbytes=$(find "$tmp/tc" -name '*.png' -path '*/[0-9]*/*' -not -path '*/data/*' -not -name 'full.png' -not -name 'legend.png' -printf '%s\n' | awk '{s+=$1} END {print s}')
tctiles=$(find "$tmp/tc" -name '*.png' -path '*/[0-9]*/*' -not -path '*/data/*' -not -name 'full.png' -not -name 'legend.png' | wc -l)
gbytes=$(find "$tmp/gdal" -name '*.png' -printf '%s\n' | awk '{s+=$1} END {print s}')
gtiles=$(find "$tmp/gdal" -name '*.png' | wc -l)
printf '%-10s %10s %10s %14s %8s\n' "" "wall s" "peak MB" "colour tiles" "KB/tile"
printf '%-10s %10.2f %10.0f %14d %8.1f\n' tilecast "$tw" "$tm" "$tctiles" "$(echo "$tcbytes/$tctiles/1024" | bc -l)"
printf '%-10s %10.2f %10.0f %14d %8.1f\n' gdal "$gw" "$gm" "$gtiles" "$(echo "$gbytes/$gtiles/1024" | bc -l)"
printf 'tilecast is %.1fx faster; colour tiles %.2fx the bytes of GDAL'"'"'s (tilecast also writes data tiles)\n' \
  "$(echo "$gw/$tw" | bc -l)" "$(echo "$tcbytes/$gbytes" | bc -l)"
