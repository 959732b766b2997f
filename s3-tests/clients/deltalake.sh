#!/usr/bin/env bash
# delta-rs scenario: two processes commit to one Delta table through two nodes of a 3-node ring.
#
# Goal: conditional writes decided by consensus are what delta-rs needs to commit safely on S3:
# with its default mode (If-None-Match: * on `_delta_log/<version>.json`, no lock provider), two
# writers going through different nodes never both win a version, and no commit is lost.
# Method: a fresh 3-node ring (`ringvault dev --nodes 3`); writer 0 creates the table, then
# writers 1 and 2 append COMMITS commits each at the same time, through nodes 1 and 2; the
# table is then read through node 3 and must hold every commit's rows exactly once, at version
# 2 * COMMITS (deltalake_table.py check). The 412s the losers got are counted from the metrics.

SCENARIO=deltalake
export RINGVAULT_CLUSTER_NODES=3
source "$(dirname "${BASH_SOURCE[0]}")/scenario.sh"
scenario_start
export RV_ACCESS_KEY_ID RV_SECRET_ACCESS_KEY RV_REGION
readonly COMMITS=12
table="$(dirname "${BASH_SOURCE[0]}")/deltalake_table.py"
uri="s3://$BUCKET/events"

racing_writers() {
    python3 "$table" write "${RV_ENDPOINTS[0]}" "$uri" 1 "$COMMITS" &
    local first=$!
    python3 "$table" write "${RV_ENDPOINTS[1]}" "$uri" 2 "$COMMITS" &
    local second=$!
    wait "$first" && wait "$second"
}

# The 412s nodes 1 and 2 answered to PutObject: the commits that lost a race and retried.
count_conflicts() {
    local i lost=0 n
    for i in 0 1; do
        n="$(curl -s -H "Authorization: Bearer $(cat "$RV_WORK/data/node$i/admin_token")" \
            "http://127.0.0.1:$((RV_DEV_BASE + 100 + i))/metrics" |
            sed -n 's/^ringvault_s3_requests_total{operation="PutObject",status="412"} //p')"
        lost=$((lost + ${n:-0}))
    done
    echo "deltalake: $lost commit attempts lost a race (412) and were retried at the next version"
}

step "create the bucket" aws --endpoint-url "$RV_ENDPOINT" s3api create-bucket --bucket "$BUCKET"
step "writer 0 creates the table through node 1" python3 "$table" write "${RV_ENDPOINTS[0]}" "$uri" 0 1
step "writers 1 and 2 commit at once through nodes 1 and 2" racing_writers
step "every commit is in the table once (read through node 3)" \
    python3 "$table" check "${RV_ENDPOINTS[2]}" "$uri" "0:1,1:$COMMITS,2:$COMMITS"
count_conflicts
scenario_finish
