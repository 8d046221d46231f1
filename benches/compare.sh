#!/usr/bin/env bash
# Side-by-side comparison on this machine, in one run, on the same input files:
#   1. decode time per GRIB2 packing: tilecast (criterion, benches/pipeline.rs) vs ecCodes
#      (the Python eccodes wheel, decoding the same message repeatedly);
#   2. the z0-z5 Web Mercator pyramid of a 1440x721 field: `tilecast render` (colour tiles to
#      z5, data tiles to the field's native zoom) written to ext4 and to tmpfs, vs the usual
#      GDAL recipe (gdalwarp to EPSG:3857, gdaldem color-relief, gdal2tiles.py
#      --processes=2) written to ext4: wall clock (median of RUNS), peak memory
#      (/usr/bin/time -v), the total size of the colour tiles, and the load average;
#   3. a whole file: 50 fields of 0.25 degrees (benches/whole_file.py builds it with ecCodes
#      from the real samples) rendered z0-z4 by `tilecast render` and by the GDAL recipe in a
#      loop over its bands: fields per minute and bytes written.
# Usage: benches/compare.sh [decode] [pyramid] [whole-file]   (default: all three)
# Environment: RUNS (tilecast runs per file system, default 5), FIELDS (default 50),
# COMPARE_EXT4 (an ext4 directory, default target/compare), COMPARE_TMPFS (default /dev/shm).
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
sections=("$@"); [[ ${#sections[@]} -eq 0 ]] && sections=(decode pyramid whole-file)
wants() { [[ " ${sections[*]} " == *" $1 "* ]]; }
runs=${RUNS:-5}
ext4_root=${COMPARE_EXT4:-$PWD/target/compare}
tmpfs_root=${COMPARE_TMPFS:-/dev/shm}
mkdir -p "$ext4_root"
# Outputs stay until the end: deleting thousands of files just before the next run is timed
# makes ext4 skip the freed inodes and doubles the run (benches/README.md, "A trap").
tmp="$(mktemp -d -p "$ext4_root")"
shm="$(mktemp -d -p "$tmpfs_root")"
trap 'rm -rf "$tmp" "$shm"' EXIT
cargo build --release -q -p tilecast-workers
tc=target/release/tilecast
load() { cut -d' ' -f1-3 /proc/loadavg; }
fs() { stat -f -c %T "$1"; }
measure() { # label, command... -> prints "label seconds peakMB"
  local label=$1; shift
  /usr/bin/time -v -o "$tmp/time.txt" "$@" >/dev/null 2>&1
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$tmp/time.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$tmp/time.txt" | awk '{print $NF/1024}')
  echo "$label $wall $rss"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Colour tiles of a tilecast output: z/x/y.png outside data/.
colour_tiles() { find "$1" -name '*.png' -path '*/[0-9]*/[0-9]*/*' -not -path '*/data/*'; }
bytes_of() { xargs -r stat -c %s | awk '{s+=$1} END {print s+0}'; }
gdal_colours() {
  cat > "$1" <<'COL'
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
}
# The GDAL recipe for one single-band raster: warp to EPSG:3857, colour, tile (2 processes).
gdal_recipe() { # input, zooms, output directory, work directory
  gdalwarp -q --config GRIB_NORMALIZE_UNITS NO -t_srs EPSG:3857 -te -20037508.34 -20037508.34 20037508.34 20037508.34 \
    -r bilinear -dstnodata nan -of GTiff "$1" "$4/3857.tif" 2>/dev/null
  gdaldem color-relief -q -alpha "$4/3857.tif" "$4/colors.txt" "$4/rgba.tif"
  gdal2tiles.py -q --xyz --processes=2 -z "$2" -w none "$4/rgba.tif" "$3"
  rm -f "$4/3857.tif" "$4/rgba.tif"
}
export -f gdal_recipe
gdal_colours "$tmp/colors.txt"
echo "machine: $(nproc) cores, load average $(load); ext4 output in $ext4_root ($(fs "$ext4_root")), tmpfs output in $tmpfs_root ($(fs "$tmpfs_root"))"

if wants decode; then
echo
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
fi

if wants pyramid; then
echo
echo "== z0-z5 Web Mercator pyramid of a 1440x721 field (GFS 2 PVU temperature), 2 cores"
field="$shared/grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2"
render() { # output root -> prints "seconds peakMB"
  local out; out="$(mktemp -d -p "$1")"
  read -r _ w m < <(measure tc "$tc" render "$field" --zoom 0-5 --out "$out" --quiet --palette temperature)
  echo "$w $m $out"
}
echo "load average before: $(load)"
: > "$tmp/ext4.txt"; : > "$tmp/tmpfs.txt"
# Interleaved, so both file systems see the same machine.
for _ in $(seq "$runs"); do
  render "$tmp" >> "$tmp/ext4.txt"
  render "$shm" >> "$tmp/tmpfs.txt"
done
G=$(measure gdal bash -c "gdal_recipe '$field' 0-5 '$tmp/gdal' '$tmp'")
echo "load average after:  $(load)"
read -r _ gw gm <<<"$G"
ew=$(cut -d' ' -f1 "$tmp/ext4.txt" | median); sw=$(cut -d' ' -f1 "$tmp/tmpfs.txt" | median)
em=$(cut -d' ' -f2 "$tmp/ext4.txt" | median)
out=$(head -1 "$tmp/ext4.txt" | cut -d' ' -f3)
tcbytes=$(colour_tiles "$out" | bytes_of); tctiles=$(colour_tiles "$out" | wc -l)
dtiles=$(find "$out" -path '*/data/*' -name '*.png' | wc -l)
dbytes=$(find "$out" -path '*/data/*' -name '*.png' | bytes_of)
gbytes=$(find "$tmp/gdal" -name '*.png' | bytes_of); gtiles=$(find "$tmp/gdal" -name '*.png' | wc -l)
echo "tilecast runs (s), ext4: $(cut -d' ' -f1 "$tmp/ext4.txt" | xargs); tmpfs: $(cut -d' ' -f1 "$tmp/tmpfs.txt" | xargs)"
printf '%-16s %10s %10s %14s %8s\n' "" "wall s" "peak MB" "colour tiles" "KB/tile"
printf '%-16s %10.2f %10.0f %14d %8.1f\n' "tilecast ext4" "$ew" "$em" "$tctiles" "$(echo "$tcbytes/$tctiles/1024" | bc -l)"
printf '%-16s %10.2f\n' "tilecast tmpfs" "$sw"
printf '%-16s %10.2f %10.0f %14d %8.1f\n' "gdal ext4" "$gw" "$gm" "$gtiles" "$(echo "$gbytes/$gtiles/1024" | bc -l)"
printf 'tilecast also wrote %d data tiles (to the native zoom), %.1f MB\n' "$dtiles" "$(echo "$dbytes/1048576" | bc -l)"
printf 'tilecast is %.1fx faster than GDAL (ext4, medians); ext4 takes %.2fx the tmpfs time; colour tiles %.2fx the bytes of GDAL'"'"'s\n' \
  "$(echo "$gw/$ew" | bc -l)" "$(echo "$ew/$sw" | bc -l)" "$(echo "$tcbytes/$gbytes" | bc -l)"
fi

if wants whole-file; then
fields=${FIELDS:-50}
echo
echo "== a whole file: $fields fields of 1440x721 (0.25 degrees), z0-z4, 2 cores"
"$py" benches/whole_file.py "$shared" "$tmp/whole.grib2" "$fields" >/dev/null
echo "load average before: $(load)"
T=$(measure tilecast "$tc" render "$tmp/whole.grib2" --zoom 0-4 --out "$tmp/whole-tc" --quiet --palette temperature)
gdal_loop() {
  for b in $(seq "$2"); do
    gdal_translate -q -b "$b" -of VRT "$1" "$3/band.vrt"
    gdal_recipe "$3/band.vrt" 0-4 "$3/whole-gdal/$b" "$3"
  done
}
export -f gdal_loop
G=$(measure gdal bash -c "gdal_loop '$tmp/whole.grib2' $fields '$tmp'")
echo "load average after:  $(load)"
read -r _ tw tm <<<"$T"; read -r _ gw gm <<<"$G"
tcall=$(find "$tmp/whole-tc" -type f | bytes_of); tccol=$(colour_tiles "$tmp/whole-tc" | bytes_of)
gall=$(find "$tmp/whole-gdal" -name '*.png' | bytes_of)
printf '%-10s %10s %12s %10s %16s %14s\n' "" "wall s" "fields/min" "peak MB" "colour tiles MB" "all files MB"
printf '%-10s %10.1f %12.0f %10.0f %16.1f %14.1f\n' tilecast "$tw" "$(echo "$fields*60/$tw" | bc -l)" "$tm" "$(echo "$tccol/1048576" | bc -l)" "$(echo "$tcall/1048576" | bc -l)"
printf '%-10s %10.1f %12.1f %10.0f %16.1f %14.1f\n' gdal "$gw" "$(echo "$fields*60/$gw" | bc -l)" "$gm" "$(echo "$gall/1048576" | bc -l)" "$(echo "$gall/1048576" | bc -l)"
printf 'tilecast is %.1fx faster (tilecast also writes data tiles to z3, full images, legends, metadata)\n' "$(echo "$gw/$tw" | bc -l)"
fi
