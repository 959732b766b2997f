#!/usr/bin/env bash
# Smoke test: one RingVault node on loopback, driven by the real aws-cli.
#
# Goal: prove that an unmodified S3 client can create a bucket, upload and
# download objects byte for byte, list, head and delete them, remove the
# bucket, and that the node stops cleanly on SIGTERM.
#
# Method: start target/release/ringvault (or $RINGVAULT_BIN) on a free
# 127.0.0.1 port with a throwaway data directory and a fixed root key, point
# an isolated aws-cli configuration at it, and run one aws command per step.
# Each step prints PASS or FAIL; the first failure prints the node's log and
# exits non-zero. The closing line is "smoke: N passed, 0 failed".
#
# aws-cli is installed from s3-tests/requirements.txt into s3-tests/.venv.
# Its botocore sends a CRC32 checksum with every PutObject by default (over
# plain http as an x-amz-checksum-crc32 header next to a signed payload, not
# as an aws-chunked trailer) and asks for checksums back on GetObject. This
# script leaves those defaults alone so the run covers what users get.
# The multipart threshold is set above the largest file used here, so the big
# file goes up as one streamed PUT (multipart is covered by s3-tests/clients).
#
# RINGVAULT_CLUSTER_NODES=N (N > 1) runs the same steps against a local N-node
# ring (`ringvault dev --nodes N`): the client talks to the second node, and
# every object is also read back and listed through every other node.
#
# RINGVAULT_ENDPOINTS="URL URL ..." runs the steps against servers already running (a compose
# cluster, say) with the root key from RINGVAULT_ACCESS_KEY_ID / RINGVAULT_SECRET_ACCESS_KEY:
# the client talks to the first URL and reads back through the others; no node is started,
# so the SIGTERM step is left to the caller.

set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"

readonly readiness_timeout_secs=60
readonly shutdown_timeout_secs=10
readonly step_timeout_secs=120
external_endpoints="${RINGVAULT_ENDPOINTS:-}"
if [[ -n "$external_endpoints" ]]; then
    access_key_id="${RINGVAULT_ACCESS_KEY_ID:?RINGVAULT_ENDPOINTS needs RINGVAULT_ACCESS_KEY_ID}"
    secret_access_key="${RINGVAULT_SECRET_ACCESS_KEY:?RINGVAULT_ENDPOINTS needs RINGVAULT_SECRET_ACCESS_KEY}"
else
    access_key_id="RVSMOKETESTKEY000001"
    secret_access_key="ringvault-smoke-test-secret-not-for-production"
fi
readonly access_key_id secret_access_key
readonly small_bytes=1024
readonly big_bytes=$((7 * 1024 * 1024))

log() { printf 'smoke: %s\n' "$*"; }

# shellcheck source=lib/node.sh
source "$script_dir/lib/node.sh"
readonly cluster_nodes="${RINGVAULT_CLUSTER_NODES:-1}"

# --- the binary -------------------------------------------------------------

if [[ -n "$external_endpoints" ]]; then
    bin=""
elif [[ -n "${RINGVAULT_BIN:-}" ]]; then
    bin="$RINGVAULT_BIN"
    [[ "$bin" == /* ]] || bin="$PWD/$bin"
else
    log "building the release binary (set RINGVAULT_BIN to skip)"
    (cd "$repo_root" && cargo build --release)
    bin="$repo_root/target/release/ringvault"
fi
if [[ -z "$external_endpoints" && ! -x "$bin" ]]; then
    log "FAIL: no executable node binary at $bin"
    exit 1
fi

# --- aws-cli in a project venv ----------------------------------------------

venv="$script_dir/.venv"
requirements="$script_dir/requirements.txt"
stamp="$venv/.requirements.installed"
if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv"
    python3 -m venv "$venv"
fi
# Reinstall only when requirements.txt changed since the last install.
if [[ ! -f "$stamp" ]] || ! cmp -s "$requirements" "$stamp"; then
    log "installing $requirements"
    PIP_NO_INPUT=1 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$requirements"
    cp "$requirements" "$stamp"
fi
aws_bin="$venv/bin/aws"

# --- scratch space, cleaned up on any exit ----------------------------------

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ringvault-smoke.XXXXXX")"
node_pid=""

stop_node() {
    [[ -n "$node_pid" ]] || return 0
    if kill -0 "$node_pid" 2>/dev/null; then
        kill "$node_pid" 2>/dev/null || true
        local waited=0
        while kill -0 "$node_pid" 2>/dev/null && ((waited < shutdown_timeout_secs * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$node_pid" 2>/dev/null; then
            log "node did not stop within ${shutdown_timeout_secs}s; sending SIGKILL"
            kill -9 "$node_pid" 2>/dev/null || true
        fi
    fi
    wait "$node_pid" 2>/dev/null || true
    node_pid=""
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_node
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- isolated aws-cli configuration -----------------------------------------

# Nothing from the caller's AWS setup may leak into the run.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
    AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 \
    AWS_CA_BUNDLE AWS_REQUEST_CHECKSUM_CALCULATION AWS_RESPONSE_CHECKSUM_VALIDATION \
    AWS_DEFAULT_REGION AWS_REGION
export AWS_CONFIG_FILE="$tmp/aws-config"
export AWS_SHARED_CREDENTIALS_FILE="$tmp/aws-credentials"
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=""
cat >"$AWS_CONFIG_FILE" <<EOF
[default]
region = us-east-1
output = json
s3 =
    multipart_threshold = 64MB
    addressing_style = path
EOF
cat >"$AWS_SHARED_CREDENTIALS_FILE" <<EOF
[default]
aws_access_key_id = $access_key_id
aws_secret_access_key = $secret_access_key
EOF

log "client: $("$aws_bin" --version 2>&1)"
# awscli 1.46+ vendors botocore as awscli.botocore; older releases use the package.
checksum_default="$("$venv/bin/python" -c '
try:
    from awscli.botocore import session
except ImportError:
    from botocore import session
print(session.get_session().get_config_variable("request_checksum_calculation"))
')"
log "aws-cli request_checksum_calculation: $checksum_default"

# --- start the node -----------------------------------------------------------

node_log="$tmp/node.log"
# Settings the caller may have exported must not change what is tested.
unset RINGVAULT_CONFIG RINGVAULT_ROOT_DOMAIN RINGVAULT_ADMIN_TOKEN
if [[ -n "$external_endpoints" ]]; then
    read -r -a endpoints <<<"$external_endpoints"
    endpoint="${endpoints[0]}"
    echo "(servers started by the caller; see its logs)" >"$node_log"
    log "servers already running at ${endpoints[*]}"
elif ((cluster_nodes > 1)); then
    rv_launch_dev_ring "$bin" "$cluster_nodes" "$tmp/data" "$node_log" \
        "$access_key_id" "$secret_access_key"
    endpoints=("${RV_ENDPOINTS[@]}")
    endpoint="${endpoints[1]}"
    ready_line="Try it:"
    node_pid="$RV_NODE_PID"
    log "$cluster_nodes-node ring pid $node_pid on ${endpoints[*]}, data in $tmp/data"
else
    port="$(rv_free_port)"
    endpoint="http://127.0.0.1:$port"
    endpoints=("$endpoint")
    ready_line="RingVault S3 endpoint:"
    RINGVAULT_ACCESS_KEY_ID="$access_key_id" RINGVAULT_SECRET_ACCESS_KEY="$secret_access_key" \
        "$bin" server --data-dir "$tmp/data" --s3-addr "127.0.0.1:$port" --region us-east-1 \
        --admin-addr 127.0.0.1:0 \
        >"$node_log" 2>&1 </dev/null &
    node_pid=$!
    log "node pid $node_pid on $endpoint, data in $tmp/data"
fi

passed=0
failed=0

fail() {
    local name="$1" detail="$2"
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$name"
    if [[ -n "$detail" ]]; then
        printf '%s\n' "$detail" | sed 's/^/      | /'
    fi
    printf -- '----- node log (%s) -----\n' "$node_log"
    cat "$node_log" || true
    printf -- '----- end of node log -----\n'
    printf 'smoke: %d passed, %d failed\n' "$passed" "$failed"
    exit 1
}

pass() {
    passed=$((passed + 1))
    printf 'PASS  %s\n' "$1"
}

# step NAME COMMAND...: run COMMAND; its combined output is shown only on failure.
# Assertion helpers below signal failure with a non-zero return and a message.
# COMMAND runs in this shell (not a subshell) so that it may reap the node.
step() {
    local name="$1"
    shift
    if "$@" >"$tmp/step.out" 2>&1; then
        pass "$name"
    else
        fail "$name" "$(cat "$tmp/step.out")"
    fi
}

aws_s3() {
    timeout "$step_timeout_secs" "$aws_bin" --endpoint-url "$endpoint" "$@"
}

wait_ready() {
    local deadline=$((SECONDS + readiness_timeout_secs)) code
    while ((SECONDS < deadline)); do
        if [[ -z "$external_endpoints" ]] && ! kill -0 "$node_pid" 2>/dev/null; then
            echo "node exited before becoming ready"
            return 1
        fi
        # Any HTTP answer (an anonymous request gets 403) means the listener is up.
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$endpoint/" || true)"
        if [[ "$code" != "000" ]] && { [[ -n "$external_endpoints" ]] || grep -q "$ready_line" "$node_log"; }; then
            return 0
        fi
        sleep 0.2
    done
    echo "no HTTP answer from $endpoint within ${readiness_timeout_secs}s"
    return 1
}

# expect_output_has TEXT COMMAND...: COMMAND succeeds and prints TEXT.
expect_output_has() {
    local want="$1"
    shift
    local out
    out="$("$@" 2>&1)" || { printf '%s\n' "$out"; return 1; }
    if ! grep -qF -- "$want" <<<"$out"; then
        printf 'expected output to contain %q, got:\n%s\n' "$want" "$out"
        return 1
    fi
}

# expect_output_lacks TEXT COMMAND...: COMMAND succeeds and does not print TEXT.
expect_output_lacks() {
    local unwanted="$1"
    shift
    local out
    out="$("$@" 2>&1)" || { printf '%s\n' "$out"; return 1; }
    if grep -qF -- "$unwanted" <<<"$out"; then
        printf 'expected output without %q, got:\n%s\n' "$unwanted" "$out"
        return 1
    fi
}

# expect_listing KEY SIZE...: `s3 ls` of the bucket shows exactly these keys and sizes.
expect_listing() {
    local out want got
    out="$(aws_s3 s3 ls "s3://$bucket/" 2>&1)" || { printf '%s\n' "$out"; return 1; }
    got="$(awk '{print $4, $3}' <<<"$out" | sort)"
    want="$(printf '%s %s\n' "$@" | sort)"
    if [[ "$got" != "$want" ]]; then
        printf 'expected (key size):\n%s\ngot:\n%s\nraw listing:\n%s\n' "$want" "$got" "$out"
        return 1
    fi
}

# expect_empty_listing: `s3 ls` of the bucket prints nothing. aws-cli exits 1
# when a listing matches nothing, so 0 and 1 are both fine if nothing is printed.
expect_empty_listing() {
    local out err rc=0
    out="$(aws_s3 s3 ls "s3://$bucket/" 2>"$tmp/ls.err")" || rc=$?
    err="$(cat "$tmp/ls.err")"
    if ((rc > 1)) || [[ -n "$out" || -n "$err" ]]; then
        printf 'expected an empty listing, got exit %d, stdout:\n%s\nstderr:\n%s\n' \
            "$rc" "$out" "$err"
        return 1
    fi
}

# expect_content_length KEY BYTES: HeadObject reports BYTES.
expect_content_length() {
    local key="$1" want="$2" got
    got="$(aws_s3 s3api head-object --bucket "$bucket" --key "$key" \
        --query ContentLength --output text 2>&1)" || { printf '%s\n' "$got"; return 1; }
    if [[ "$got" != "$want" ]]; then
        printf 'expected ContentLength %s for %s, got %s\n' "$want" "$key" "$got"
        return 1
    fi
}

# download_and_compare KEY ORIGINAL [ENDPOINT]: GET the object (through ENDPOINT, by default
# the one the client uses) and compare it byte for byte.
download_and_compare() {
    local key="$1" original="$2" at="${3:-$endpoint}" copy="$tmp/download-$1"
    rm -f "$copy"
    timeout "$step_timeout_secs" "$aws_bin" --endpoint-url "$at" \
        s3 cp --no-progress "s3://$bucket/$key" "$copy" || return 1
    cmp "$original" "$copy"
}

# stop_gracefully: SIGTERM makes the node exit with status 0 in time.
stop_gracefully() {
    local waited=0 status=0
    kill -TERM "$node_pid"
    while kill -0 "$node_pid" 2>/dev/null && ((waited < shutdown_timeout_secs * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$node_pid" 2>/dev/null; then
        echo "node still running ${shutdown_timeout_secs}s after SIGTERM"
        return 1
    fi
    wait "$node_pid" || status=$?
    node_pid=""
    if ((status != 0)); then
        echo "node exited with status $status after SIGTERM"
        return 1
    fi
}

# --- the steps ----------------------------------------------------------------

bucket="smoke-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
head -c "$small_bytes" /dev/urandom >"$tmp/small.bin"
head -c "$big_bytes" /dev/urandom >"$tmp/big.bin"

step "node answers on $endpoint" wait_ready
step "mb s3://$bucket" aws_s3 s3 mb "s3://$bucket"
step "ls lists the new bucket" expect_output_has "$bucket" aws_s3 s3 ls
step "cp up small.bin (1 KiB)" aws_s3 s3 cp --no-progress "$tmp/small.bin" "s3://$bucket/small.bin"
step "cp up big.bin (7 MiB)" aws_s3 s3 cp --no-progress "$tmp/big.bin" "s3://$bucket/big.bin"
step "cp down small.bin matches" download_and_compare small.bin "$tmp/small.bin"
step "cp down big.bin matches" download_and_compare big.bin "$tmp/big.bin"
step "ls lists both keys with sizes" expect_listing small.bin "$small_bytes" big.bin "$big_bytes"
for other in "${endpoints[@]}"; do
    [[ "$other" != "$endpoint" ]] || continue
    step "cp down big.bin through $other matches" download_and_compare big.bin "$tmp/big.bin" "$other"
    step "cp down small.bin through $other matches" download_and_compare small.bin "$tmp/small.bin" "$other"
    step "ls through $other lists both keys" expect_output_has big.bin \
        timeout "$step_timeout_secs" "$aws_bin" --endpoint-url "$other" s3 ls "s3://$bucket/"
done
step "head-object small.bin ContentLength" expect_content_length small.bin "$small_bytes"
step "head-object big.bin ContentLength" expect_content_length big.bin "$big_bytes"
step "rm small.bin" aws_s3 s3 rm "s3://$bucket/small.bin"
step "rm big.bin" aws_s3 s3 rm "s3://$bucket/big.bin"
step "ls of the bucket is empty" expect_empty_listing
step "rb s3://$bucket" aws_s3 s3 rb "s3://$bucket"
step "ls no longer lists the bucket" expect_output_lacks "$bucket" aws_s3 s3 ls
[[ -n "$external_endpoints" ]] || step "node exits 0 on SIGTERM" stop_gracefully

printf 'smoke: %d passed, %d failed\n' "$passed" "$failed"
