#!/usr/bin/env bash
# Serving speed, side by side in one run: `tilecast serve` and nginx (a plain static server)
# on the same output tree, loaded by wrk with the same list of real tile requests (colour and
# data tiles of a z0-z5 render of a 0.25° global field, in random order), one server at a
# time. Prints requests per second and latency percentiles (p50, p99) for each, with the
# machine's load before each run. wrk runs on the same machine (2 threads, 32 connections,
# keep-alive), so both servers share the cores with it alike.
#
# Needs wrk and nginx-light (Debian); installs them when run as root or with sudo.
#   benches/serve.sh [SECONDS]   (default 15 s per server)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
shared="${TILECAST_SHARED_SAMPLES:-../shared/sample-data}"
for p in wrk nginx-light; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    sudo=""; [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$p" >/dev/null
  fi
done
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
cargo build --release -q -p tilecast-workers
tc="${CARGO_TARGET_DIR:-target}/release/tilecast"

field="$shared/grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2"
"$tc" render "$field" --zoom 0-5 --out "$tmp/out" --quiet >/dev/null
# Every tile, as request paths, shuffled with a fixed seed; wrk walks the list.
(cd "$tmp/out" && find . -path ./.tilecast -prune -o -name '*.png' -path '*/[0-9]*/[0-9]*/*' -print) \
  | sed 's|^\.||' | awk 'BEGIN{srand(7)} {print rand() "\t" $0}' | sort | cut -f2 > "$tmp/paths.txt"
n=$(wc -l < "$tmp/paths.txt")
bytes=$(cd "$tmp/out" && xargs -a "$tmp/paths.txt" -I{} stat -c %s ".{}" | awk '{s+=$1} END {print s}')
cat > "$tmp/paths.lua" <<LUA
local paths, i = {}, 0
for line in io.lines("$tmp/paths.txt") do paths[#paths + 1] = line end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status, summary.requests))
end
LUA

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

np=$(port)
cat > "$tmp/nginx.conf" <<NGINX
worker_processes 2;
user $(id -un) $(id -gn);
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  types { image/png png; application/json json; }
  client_body_temp_path $tmp/nginx-body;
  proxy_temp_path $tmp/nginx-proxy;
  fastcgi_temp_path $tmp/nginx-fastcgi;
  uwsgi_temp_path $tmp/nginx-uwsgi;
  scgi_temp_path $tmp/nginx-scgi;
  server { listen 127.0.0.1:$np; root $tmp/out; }
}
NGINX
sp=$(port)

load() { awk '{print $1}' /proc/loadavg; }
run() { # label url
  local l; l=$(load)
  wrk -t2 -c32 -d"${seconds}s" -s "$tmp/paths.lua" "$2" 2>&1 | awk -v label="$1" -v ld="$l" \
    '/^RESULT/ {printf "%-16s %10s %10s %10s %8s %10s %6s\n", label, $2, $3, $4, $5, $6, ld}'
}

echo "== serving tiles: $n tiles ($((bytes / 1024)) KiB) of a z0-z5 render, wrk -t2 -c32 -d${seconds}s, $(nproc) cores"
printf "%-16s %10s %10s %10s %8s %10s %6s\n" server "req/s" "p50 ms" "p99 ms" "non-2xx" requests load
nginx -c "$tmp/nginx.conf" -g 'daemon off;' 2>/dev/null &
pids+=($!)
wait_port "$np"
run nginx "http://127.0.0.1:$np"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
"$tc" serve "$tmp/out" --addr "127.0.0.1:$sp" --log-format json >/dev/null 2>"$tmp/serve.log" &
pids+=($!)
wait_port "$sp"
run "tilecast serve" "http://127.0.0.1:$sp"
