#!/usr/bin/env bash
# Conditional PUT against plain PUT on a fresh local ring (3 nodes unless
# RINGVAULT_CLUSTER_NODES says otherwise; 1 for a single node). Prints ops/s, p50/p99 and
# the conditional/plain ratios (see conditional_put.py). Not part of CI: a measurement.
#
# Usage: bash s3-tests/bench/conditional_put.sh   (THREADS, PUTS_PER_THREAD tune the load)

set -euo pipefail
bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/node.sh
source "$bench_dir/../lib/node.sh"
RV_LOG_TAG=bench
export RINGVAULT_CLUSTER_NODES="${RINGVAULT_CLUSTER_NODES:-3}"
RINGVAULT_BIN="$(rv_bin)"
rv_venv
trap rv_cleanup EXIT
rv_start_node "$RINGVAULT_BIN"
RV_ACCESS_KEY_ID="$RV_ACCESS_KEY_ID" RV_SECRET_ACCESS_KEY="$RV_SECRET_ACCESS_KEY" \
    "$RV_VENV/bin/python3" "$bench_dir/conditional_put.py" "${RV_ENDPOINTS[@]}"
