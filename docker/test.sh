#!/usr/bin/env bash
# The compose cluster as users run it: builds the image, brings docker/compose.yaml up with
# nothing else (the first node applies the layout itself), and checks that
#   1. all three containers turn healthy, and an `aws s3 cp` round trip through node1's published
#      S3 port works (the times from `up` are printed);
#   2. the smoke test passes against the three published endpoints;
#   3. the chaos suite's short run passes on the containers: `docker kill` and `docker start`,
#      `docker pause`, `docker network disconnect`, `docker kill` of all three, each under a
#      workload, then every acknowledged write is read back through every node;
#   4. every container exits 0 on `docker stop`.
# The project and its volumes are removed on exit, however it exits; nothing else is touched.
#
#   bash docker/test.sh        # RINGVAULT_BIN=<static binary> skips the cargo build
#
# Needs docker with compose (`docker compose` or `docker-compose`). The containers publish their
# ports on free ports of 127.0.0.1 (compose.yaml's RINGVAULT_NODE<N>_*_PORT), not on 9000-9021, so
# the test runs beside a node, or anything else, that holds those.

set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
RV_LOG_TAG=docker-test
# shellcheck source=../s3-tests/lib/node.sh
source s3-tests/lib/node.sh

if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose_cmd=(docker-compose)
else
    rv_log "FAIL: neither 'docker compose' nor docker-compose is installed"
    exit 1
fi
# Six ports of 127.0.0.1 that nothing listens on, each bound once to prove it.
read -r -a ports < <(python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 30000)
    wanted = [base + d for d in (0, 1, 10, 11, 20, 21)]
    try:
        for port in wanted:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(*wanted)
    break
PY
)
if ((${#ports[@]} != 6)); then
    rv_log "FAIL: found no six free ports on 127.0.0.1 to publish the cluster on"
    exit 1
fi
export RINGVAULT_NODE1_S3_PORT="${ports[0]}" RINGVAULT_NODE1_ADMIN_PORT="${ports[1]}"
export RINGVAULT_NODE2_S3_PORT="${ports[2]}" RINGVAULT_NODE2_ADMIN_PORT="${ports[3]}"
export RINGVAULT_NODE3_S3_PORT="${ports[4]}" RINGVAULT_NODE3_ADMIN_PORT="${ports[5]}"
endpoint() { echo "http://127.0.0.1:${ports[$((2 * ($1 - 1)))]}"; }

project="rvtest$$"
image="ringvault:test-$$"
RV_WORK="$(mktemp -d "${TMPDIR:-/tmp}/ringvault-docker.XXXXXX")"
compose() { "${compose_cmd[@]}" -p "$project" -f docker/compose.yaml "$@"; }

# The same credentials the chaos driver uses (examples/chaos/nodes.rs); a fresh cluster secret.
export RINGVAULT_IMAGE="$image"
export RINGVAULT_ACCESS_KEY_ID="RVCHAOSROOTKEY000001"
export RINGVAULT_SECRET_ACCESS_KEY="chaos-suite-root-secret-access-key"
export RINGVAULT_ADMIN_TOKEN="chaos-suite-admin-token-0123456789"
RINGVAULT_CLUSTER_SECRET="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
export RINGVAULT_CLUSTER_SECRET
RV_ACCESS_KEY_ID="$RINGVAULT_ACCESS_KEY_ID"
RV_SECRET_ACCESS_KEY="$RINGVAULT_SECRET_ACCESS_KEY"

status=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if ((rc != 0)); then
        rv_log "FAILED; the containers' logs follow"
        compose logs --no-color --tail 200 >&2 || true
    fi
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    docker image rm "$image" >/dev/null 2>&1 || true
    rm -rf "$RV_WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

seconds_since() { python3 -c "import time,sys; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }

rv_log "building the image $image"
bash docker/build.sh "$image" >&2

rv_venv
rv_isolate_aws
aws=("$RV_VENV/bin/aws" --endpoint-url "$(endpoint 1)")

# --- 1. up, healthy, a round trip ------------------------------------------------------------
started="$(date +%s.%N)"
compose up -d >&2
containers=()
for service in node1 node2 node3; do
    containers+=("$(compose ps -q "$service")")
done
deadline=$((SECONDS + 120))
while :; do
    healthy=0
    for c in "${containers[@]}"; do
        [[ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" == healthy ]] && healthy=$((healthy + 1))
    done
    ((healthy == ${#containers[@]})) && break
    if ((SECONDS > deadline)); then
        rv_log "FAIL: $healthy of ${#containers[@]} containers healthy after 120 s"
        exit 1
    fi
    sleep 0.5
done
healthy_after="$(seconds_since "$started")"
head -c $((1024 * 1024)) /dev/urandom >"$RV_WORK/object.bin"
"${aws[@]}" s3 mb s3://compose-round-trip >/dev/null
"${aws[@]}" s3 cp --no-progress "$RV_WORK/object.bin" s3://compose-round-trip/object.bin >/dev/null
"${aws[@]}" s3 cp --no-progress s3://compose-round-trip/object.bin "$RV_WORK/back.bin" >/dev/null
cmp "$RV_WORK/object.bin" "$RV_WORK/back.bin"
round_trip_after="$(seconds_since "$started")"
rv_log "PASS: compose up -> 3 containers healthy in $healthy_after s; first aws s3 cp round trip (1 MiB up and down, byte-identical) done $round_trip_after s after up"
health="$(docker exec "${containers[0]}" /ringvault health)"
rv_log "node1: $health"

# --- 2. the smoke test through the published ports -------------------------------------------
RINGVAULT_ENDPOINTS="$(endpoint 1) $(endpoint 2) $(endpoint 3)" \
    bash s3-tests/smoke.sh

# --- 3. the chaos suite's short run on the containers -----------------------------------------
cargo build --example chaos >&2
network="$(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}' "${containers[0]}")"
names="$(IFS=,; echo "${containers[*]}")"
timeout --kill-after=10 600 target/debug/examples/chaos --containers "$names" --network "$network" \
    --nodes 3 --work-dir "$RV_WORK/chaos" --faults kill,stop,partition,kill-all \
    --fault-secs 12 --calm-secs 8 --enforce-targets || status=$?
if ((status != 0)); then
    rv_log "FAIL: the chaos run on the containers found violations (report above)"
    exit "$status"
fi
# The driver stopped every container with `docker stop` and required exit status 0.
rv_log "PASS: docker/test.sh (healthy in $healthy_after s, round trip at $round_trip_after s, smoke, chaos)"
