#!/usr/bin/env bash
# What server-side encryption costs: single-stream PUT and GET of one large object, plain,
# SSE-S3 and SSE-C, on a fresh single node (see encryption.py). Prints MB/s and the
# encrypted/plain ratios. Not part of CI: a measurement.
#
# Usage: bash s3-tests/bench/encryption.sh   (SIZE_MIB, REPEATS tune it; default 256 and 3)

set -euo pipefail
bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/node.sh
source "$bench_dir/../lib/node.sh"
RV_LOG_TAG=bench
export RINGVAULT_CLUSTER_NODES=1
RINGVAULT_BIN="$(rv_bin)"
rv_venv
trap rv_cleanup EXIT
rv_start_node "$RINGVAULT_BIN"
RV_ACCESS_KEY_ID="$RV_ACCESS_KEY_ID" RV_SECRET_ACCESS_KEY="$RV_SECRET_ACCESS_KEY" \
    "$RV_VENV/bin/python3" "$bench_dir/encryption.py" "$RV_ENDPOINT"
