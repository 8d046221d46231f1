#!/usr/bin/env bash
# The distributed path against the local one, in one run: `tilecast render` of a 75-field
# GRIB2 file (made with ecCodes from a real NAM sample, one job per field) against the same
# file dropped into the ingest directory of a chunker, a `tilecast ledger` and a `tilecast
# pool` of 2 one-shot workers on the local RabbitMQ (file written → manifest present).
# Prints both wall times, their ratio and load average per repetition, and a breakdown of the
# distributed time from the processes' own logs (see benches/distributed.py).
#
# Needs the broker at TILECAST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/%2f) and
# the test pyenv with ecCodes (scripts/setup --test; TILECAST_PYTHON to override).
#   benches/distributed.sh [REPS] [--chunker-flag=--stable-for=2 ...] [--debug-logs]
#   (default 5 repetitions; --debug-logs: pool and ledger at debug level, finer breakdown)
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${1:-5}"
shift || true
shared="${TILECAST_SHARED_SAMPLES:-../shared/sample-data}"
py="${TILECAST_PYTHON:-target/pyenv/bin/python}"
cargo build --release -q -p tilecast-workers
tc="${TILECAST_BIN:-${CARGO_TARGET_DIR:-target}/release/tilecast}"
exec "$py" benches/distributed.py --tilecast "$tc" --samples "$shared" --reps "$reps" "$@"
