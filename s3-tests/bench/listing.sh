#!/usr/bin/env bash
# Listing at scale: loads KEYS empty objects spread over DIRS "directories" into a fresh node
# (or a RINGVAULT_CLUSTER_NODES ring), then measures with `ringvault bench`, one request in
# flight: ListObjectsV2 pages of the whole bucket (keys/s) and pages with delimiter "/"
# (1,000 common prefixes a page when DIRS >= 1000; ms per page). A measurement, not CI.
#
# Usage: KEYS=100000 DIRS=1000 [RINGVAULT_CLUSTER_NODES=3] bash s3-tests/bench/listing.sh

set -euo pipefail
bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/node.sh
source "$bench_dir/../lib/node.sh"
RV_LOG_TAG=listing
keys="${KEYS:-100000}"
dirs="${DIRS:-1000}"
RINGVAULT_BIN="$(rv_bin)"
RV_BENCH_BIN="${BENCH_BIN:-$RINGVAULT_BIN}"
trap rv_cleanup EXIT
rv_start_node "$RINGVAULT_BIN"
bench() {
    rv_bench --prefix listing "$@"
}
summary() {
    python3 -c '
import json, sys
o = json.load(sys.stdin)["operations"][0]
lat = o["latency_ms"]
print("{}: {:.0f} entries/s, {} pages, p50 {:.1f} ms, p99 {:.1f} ms per page".format(
    sys.argv[1], o["entries_per_sec"], o["ops"], lat["p50"], lat["p99"]))
' "$1"
}
started=$SECONDS
rv_log "loading $keys keys in $dirs directories"
bench list --objects "$keys" --directories "$dirs" --size 0 --count 1 --keep -c 32 --json >/dev/null
rv_log "loaded in $((SECONDS - started)) s; data dir $(du -sh "$RV_WORK/data" | cut -f1)"
bench list --reuse --keep -c 1 --duration 10s --json | summary "flat"
bench list --reuse --keep -c 1 --delimiter --duration 10s --json | summary "delimiter"
