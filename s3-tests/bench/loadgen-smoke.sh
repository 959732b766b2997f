#!/usr/bin/env bash
# A short run of the load generator (`ringvault bench`) against a fresh node: every workload
# once, then a 10-second mixed load. Fails when any request fails or a workload measures
# nothing; prints the generator's tables. No thresholds: speed is measured by standard.sh.
#
# Usage: bash s3-tests/bench/loadgen-smoke.sh   (RINGVAULT_BIN, RINGVAULT_CLUSTER_NODES=3)

set -euo pipefail
bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/node.sh
source "$bench_dir/../lib/node.sh"
RV_LOG_TAG=loadgen-smoke
RINGVAULT_BIN="$(rv_bin)"
trap rv_cleanup EXIT
rv_start_node "$RINGVAULT_BIN"

bench() {
    rv_log "ringvault bench $*"
    rv_bench "$@"
}

# Each workload must run and report operations (the generator exits 1 on any failed request).
check_ops() {
    python3 -c '
import json, sys
report = json.load(sys.stdin)
ops = {o["op"]: o["ops"] for o in report["operations"]}
want = sys.argv[1].split(",")
missing = [op for op in want if ops.get(op, 0) == 0]
if missing or report["total_errors"]:
    sys.exit(f"workload measured nothing for {missing} or failed: {report}")
for o in report["operations"]:
    lat = o["latency_ms"]
    print("{op} {ops} ops {rate:.0f}/s {mb:.1f} MB/s p99 {p99:.1f} ms".format(
        op=o["op"], ops=o["ops"], rate=o["ops_per_sec"], mb=o["mb_per_sec"], p99=lat["p99"]))
' "$1"
}

bench put --count 200 --size 1KiB..256KiB --json | check_ops put
bench get --count 200 --objects 50 --size 1MiB --json | check_ops get
bench head --count 200 --objects 50 --json | check_ops head
bench delete --count 100 --json | check_ops delete
bench list --count 20 --objects 300 --directories 30 --size 0 --json | check_ops list
bench list --count 20 --objects 300 --directories 30 --size 0 --delimiter --json | check_ops list
bench multipart --count 2 --size 12MiB --part-size 5MiB -c 2 --json | check_ops multipart
bench mixed --duration 10s --size 4KiB..64KiB
rv_log "passed"
