# Shared frame of the real-client scenarios in s3-tests/clients/: sourced by each script.
#
# It prepares the venv (aws-cli, boto3, s3cmd), starts a fresh node on loopback with an
# isolated aws-cli configuration (lib/node.sh), and gives the scenario `step NAME CMD...`,
# which runs CMD quietly and prints PASS or FAIL with CMD's output. `scenario_finish` prints
# "<client>: N passed, M failed" and returns non-zero if any step failed. The node is stopped
# and the scratch directory removed on exit.
#
# Set SCENARIO before sourcing (the client's name, used in messages and bucket names).

set -euo pipefail

# shellcheck source=../lib/node.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib/node.sh"
RV_LOG_TAG="$SCENARIO"
readonly SCENARIO_STEP_TIMEOUT_SECS="${SCENARIO_STEP_TIMEOUT_SECS:-300}"

scenario_passed=0
scenario_failed=0

# scenario_start: binary, venv, node. Afterwards: RV_ENDPOINT, RV_WORK, AWS_* config, PATH with
# the venv's bin first, and BUCKET, a fresh bucket name for the scenario (not yet created).
scenario_start() {
    local bin
    bin="$(rv_bin)"
    rv_venv
    RV_WORK="$(mktemp -d "${TMPDIR:-/tmp}/ringvault-$SCENARIO.XXXXXX")"
    trap scenario_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    rv_isolate_aws
    export PATH="$RV_VENV/bin:$PATH"
    rv_start_node "$bin"
    BUCKET="$SCENARIO-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
}

scenario_cleanup() {
    local status=$?
    if ((status != 0 && scenario_failed == 0)); then
        rv_log "aborted (exit $status); node log:"
        tail -n 30 "$RV_NODE_LOG" >&2 2>/dev/null || true
    fi
    rv_cleanup
    exit "$status"
}

step() {
    local name="$1"
    shift
    # Steps may be shell functions, so `timeout` cannot run them: a watchdog ends a step (and
    # its direct children) that outlives the limit.
    local pid watchdog rc=0
    ("$@") >"$RV_WORK/step.out" 2>&1 </dev/null &
    pid=$!
    (
        sleep "$SCENARIO_STEP_TIMEOUT_SECS"
        echo "step timed out after ${SCENARIO_STEP_TIMEOUT_SECS}s" >>"$RV_WORK/step.out"
        pkill -TERM -P "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    ) &
    watchdog=$!
    wait "$pid" || rc=$?
    kill "$watchdog" 2>/dev/null || true
    wait "$watchdog" 2>/dev/null || true
    if ((rc == 0)); then
        scenario_passed=$((scenario_passed + 1))
        printf 'PASS  %s: %s\n' "$SCENARIO" "$name"
    else
        scenario_failed=$((scenario_failed + 1))
        printf 'FAIL  %s: %s\n' "$SCENARIO" "$name"
        sed 's/^/      | /' "$RV_WORK/step.out" | tail -n 40
    fi
}

# expect_output_has TEXT CMD...: CMD succeeds and prints TEXT.
expect_output_has() {
    local want="$1" out
    shift
    out="$("$@" 2>&1)" || { printf '%s\n' "$out"; return 1; }
    grep -qF -- "$want" <<<"$out" || { printf 'expected %q in:\n%s\n' "$want" "$out"; return 1; }
}

# expect_output_lacks TEXT CMD...: CMD succeeds and does not print TEXT.
expect_output_lacks() {
    local unwanted="$1" out
    shift
    out="$("$@" 2>&1)" || { printf '%s\n' "$out"; return 1; }
    if grep -qF -- "$unwanted" <<<"$out"; then
        printf 'did not expect %q in:\n%s\n' "$unwanted" "$out"
        return 1
    fi
}

# expect_fails CMD...: CMD exits non-zero.
expect_fails() {
    if "$@"; then
        echo "expected failure, but the command succeeded"
        return 1
    fi
}

# make_tree DIR: a small deterministic tree of files (nested dirs, empty file, odd names,
# one file of a few MiB), the same on every run.
make_tree() {
    local dir="$1"
    mkdir -p "$dir/docs/nested deeper" "$dir/data" "$dir/empty-dir-sibling"
    printf 'hello from RingVault\n' >"$dir/readme.txt"
    : >"$dir/empty.txt"
    for i in $(seq 1 20); do
        printf 'document %d\n%s\n' "$i" "$(seq 1 "$i")" >"$dir/docs/doc-$i.txt"
    done
    printf 'spaces and unicode\n' >"$dir/docs/nested deeper/ünïcode file.txt"
    head -c $((3 * 1024 * 1024 + 11)) /dev/zero | tr '\0' 'r' >"$dir/data/big.bin"
    python3 -c 'import sys, hashlib; b=b"";
h=b"seed"
while len(b) < 200000:
    h=hashlib.sha256(h).digest(); b+=h
sys.stdout.buffer.write(b)' >"$dir/data/random.bin"
    printf 'x' >"$dir/empty-dir-sibling/one-byte"
}

scenario_finish() {
    printf '%s: %d passed, %d failed\n' "$SCENARIO" "$scenario_passed" "$scenario_failed"
    if ((scenario_failed > 0)); then
        rv_log "node log (last lines):"
        tail -n 20 "$RV_NODE_LOG" >&2 || true
        return 1
    fi
}
