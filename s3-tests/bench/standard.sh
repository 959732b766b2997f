#!/usr/bin/env bash
# The standard performance suite: measures the machine's limits, then a fresh single node and a
# fresh 3-node ring (`ringvault dev`, N=3, majority quorums) with `ringvault bench`, and prints
# one table with every figure beside its limit. A measurement, not CI (it takes minutes).
#
#   4 KiB PUT and GET ops/s, 16 in flight (and GET through wrk on a presigned URL, beside a
#   static file server's rate: nginx serving the same 4 KiB from a file)
#   1 MiB PUT and GET MB/s, 16 in flight; 256 MiB single-stream PUT and GET MB/s
#   LIST keys/s over LIST_KEYS keys flat, and a page of 1,000 common prefixes over LIST_DIRS
#   the data dir's size after a write-only load of 500 MiB, against the bytes it holds (and the
#   databases' alone, without the fixed 64 MiB full-disk reserve of each node); and
#   after those objects are deleted, reclaimed (a 2 s grace here) and 500 MiB written again
#   under other names, against its size before (1.0: the freed space was reused)
#   each server's peak RSS (VmHWM; the 3-node ring is one process)
#
# Usage: bash s3-tests/bench/standard.sh
#   LIST_KEYS=1000000 LIST_DIRS=10000 DURATION=10s RINGS="1 3" (defaults); wrk and nginx come
#   from Debian's packages and are installed when missing.

set -euo pipefail
bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/node.sh
source "$bench_dir/../lib/node.sh"
RV_LOG_TAG=standard
list_keys="${LIST_KEYS:-1000000}"
list_dirs="${LIST_DIRS:-10000}"
duration="${DURATION:-10s}"
rings="${RINGS:-1 3}"
RINGVAULT_BIN="$(rv_bin)"
rv_venv
rv_apt_install wrk wrk
rv_apt_install nginx nginx-light

results="$(mktemp -d "${TMPDIR:-/tmp}/ringvault-standard.XXXXXX")"
nginx_pid=""
finish() {
    [[ -z "$nginx_pid" ]] || kill "$nginx_pid" 2>/dev/null || true
    rv_cleanup
    rm -rf "$results"
}
trap finish EXIT

# wrk_rate URL: requests per second of wrk, 2 threads x 16 connections, for DURATION.
wrk_rate() {
    wrk -t2 -c16 -d"$duration" --latency "$1" | awk '/Requests\/sec:/ {print $2}'
}

rv_log "machine limits (hashing, disk, loopback)"
python3 "$bench_dir/limits.py" "$results" >"$results/limits.json"

rv_log "static file server: nginx, 4 KiB file"
mkdir -p "$results/www"
head -c 4096 /dev/urandom >"$results/www/4k"
nginx_port="$(rv_free_port)"
cat >"$results/nginx.conf" <<EOF
worker_processes auto;
pid $results/nginx.pid;
error_log $results/nginx-error.log;
events {}
http {
    access_log off;
    server { listen 127.0.0.1:$nginx_port; root $results/www; }
}
EOF
nginx -c "$results/nginx.conf" -p "$results" -g 'daemon off;' &
nginx_pid=$!
sleep 0.5
wrk_rate "http://127.0.0.1:$nginx_port/4k" >"$results/static.txt"
kill "$nginx_pid"
wait "$nginx_pid" 2>/dev/null || true
nginx_pid=""

# Deleted bodies are reclaimed 2 s after their delete instead of 10 minutes.
export RINGVAULT_RECLAIM_GRACE_MS=2000
for nodes in $rings; do
    export RINGVAULT_CLUSTER_NODES="$nodes"
    RV_WORK=""
    rv_start_node "$RINGVAULT_BIN"
    out="$results/$nodes"
    mkdir -p "$out"
    bench() {
        local name="$1"
        shift
        rv_log "$nodes node(s): $name: ringvault bench $*"
        rv_bench --json "$@" >"$out/$name.json"
    }
    # A write-only load on the fresh node: what the data directory costs per byte held.
    bench disk put --size 1MiB -c 8 --count 500 --keep --prefix disk
    sleep 2
    du -sb "$RV_WORK/data" | cut -f1 >"$out/disk-bytes.txt"
    # The databases alone: the data dir less each node's full-disk reserve (a fixed 64 MiB).
    find "$RV_WORK/data" -name '*.redb' -print0 | du -cb --files0-from=- | tail -1 | cut -f1 \
        >"$out/db-bytes.txt"
    # The same load deleted, reclaimed, and written again under other names: freed pages are
    # reused, so the data directory should not grow.
    bench disk-delete delete --reuse --keep --prefix disk --objects 500 --count 500 -c 8
    sleep 15
    bench disk-again put --size 1MiB -c 8 --count 500 --keep --prefix disk-again
    sleep 2
    du -sb "$RV_WORK/data" | cut -f1 >"$out/disk-bytes-again.txt"
    bench put-4k put --size 4KiB -c 16 --duration "$duration"
    bench get-4k get --size 4KiB -c 16 --duration "$duration" --objects 1000
    bench put-1m put --size 1MiB -c 16 --duration "$duration"
    bench get-1m get --size 1MiB -c 16 --duration "$duration" --objects 200
    bench put-256m put --size 256MiB -c 1 --count 3
    bench get-256m get --size 256MiB -c 1 --count 3 --objects 1

    rv_log "$nodes node(s): 4 KiB GET through wrk on a presigned URL"
    url="$("$RV_VENV/bin/python3" - "$RV_ENDPOINT" "$RV_ACCESS_KEY_ID" "$RV_SECRET_ACCESS_KEY" <<'PY'
import sys, boto3
from botocore.config import Config
endpoint, key_id, secret = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key_id,
                  aws_secret_access_key=secret, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
s3.put_object(Bucket="ringvault-bench", Key="wrk/4k", Body=b"x" * 4096)
print(s3.generate_presigned_url("get_object", Params={"Bucket": "ringvault-bench",
                                                      "Key": "wrk/4k"}, ExpiresIn=3600))
PY
)"
    wrk_rate "$url" >"$out/wrk-get-4k.txt"

    bench list-load list --size 0 -c 32 --objects "$list_keys" --directories "$list_dirs" \
        --count 1 --keep --prefix listing
    bench list-flat list --reuse --keep --prefix listing -c 1 --duration "$duration"
    bench list-delimiter list --reuse --keep --prefix listing --delimiter -c 1 \
        --duration "$duration"
    awk '/VmHWM/ {print $2}' "/proc/$RV_NODE_PID/status" >"$out/rss-kib.txt"
    rv_cleanup
done

python3 "$bench_dir/standard_table.py" "$results" "$list_keys" "$list_dirs"
