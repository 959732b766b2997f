# Shared shell pieces for the s3-tests runners (run.sh, clients/*.sh): the node binary, the
# project venv, a throwaway node on a free loopback port, an isolated aws-cli configuration,
# and extra access keys through the admin CLI.
#
# Source it from bash with `set -euo pipefail`; every name it defines starts with `rv_` or
# `RV_`. It never touches the caller's AWS or RingVault configuration: every variable that
# could change what is tested is unset before the node or a client starts.
#
# With RINGVAULT_CLUSTER_NODES=N (N > 1), rv_start_node starts a local N-node ring instead
# (`ringvault dev --nodes N`, N=3 replicas, majority quorums) and RV_ENDPOINT is its second
# node, so every request is coordinated by a node that is not the seed; RV_ENDPOINTS lists all.
#
# After rv_start_node the caller has:
#   RV_ENDPOINT       http://127.0.0.1:<port>
#   RV_REGION         us-east-1
#   RV_ACCESS_KEY_ID / RV_SECRET_ACCESS_KEY   the root key the node was started with
#   RV_ADMIN_ADDR / RV_ADMIN_TOKEN            the admin API the node was told to serve
#   RV_NODE_LOG, RV_NODE_PID, RV_WORK (scratch directory removed by rv_cleanup)

RV_S3_TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RV_REPO_ROOT="$(cd "$RV_S3_TESTS_DIR/.." && pwd)"
RV_VENV="$RV_S3_TESTS_DIR/.venv"
RV_REGION="us-east-1"
RV_ACCESS_KEY_ID="${RV_ACCESS_KEY_ID:-RVSUITEMAINKEY000001}"
RV_SECRET_ACCESS_KEY="${RV_SECRET_ACCESS_KEY:-ringvault-suite-main-secret-not-for-production}"
RV_NODE_PID=""
RV_WORK=""
readonly RV_READY_TIMEOUT_SECS=60
readonly RV_STOP_TIMEOUT_SECS=10

rv_log() { printf '%s: %s\n' "${RV_LOG_TAG:-s3-tests}" "$*" >&2; }

# rv_bin: prints the node binary, building the release binary unless RINGVAULT_BIN is set.
rv_bin() {
    local bin
    if [[ -n "${RINGVAULT_BIN:-}" ]]; then
        bin="$RINGVAULT_BIN"
        [[ "$bin" == /* ]] || bin="$PWD/$bin"
    else
        rv_log "building the release binary (set RINGVAULT_BIN to skip)"
        (cd "$RV_REPO_ROOT" && cargo build --release -j2 >&2)
        bin="$RV_REPO_ROOT/target/release/ringvault"
    fi
    if [[ ! -x "$bin" ]]; then
        rv_log "no executable node binary at $bin"
        return 1
    fi
    printf '%s\n' "$bin"
}

# rv_venv: s3-tests/.venv with requirements.txt installed; reinstalls only when the file changed.
rv_venv() {
    local requirements="$RV_S3_TESTS_DIR/requirements.txt" stamp="$RV_VENV/.requirements.installed"
    if [[ ! -x "$RV_VENV/bin/python" ]]; then
        rv_log "creating $RV_VENV"
        python3 -m venv "$RV_VENV"
    fi
    if [[ ! -f "$stamp" ]] || ! cmp -s "$requirements" "$stamp"; then
        rv_log "installing $requirements"
        PIP_NO_INPUT=1 "$RV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$requirements" >&2
        cp "$requirements" "$stamp"
    fi
}

# rv_apt_install CMD PACKAGE: installs a Debian package unless CMD is already on PATH.
rv_apt_updated=""
rv_apt_install() {
    local cmd="$1" package="$2" sudo=""
    command -v "$cmd" >/dev/null 2>&1 && return 0
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    if [[ -z "$rv_apt_updated" ]]; then
        rv_log "apt-get update"
        $sudo apt-get update -qq >&2
        rv_apt_updated=1
    fi
    rv_log "apt-get install $package"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "$package" >&2
    command -v "$cmd" >/dev/null 2>&1
}

rv_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# rv_free_dev_base N: a base port P for `ringvault dev --nodes N` such that P+i, P+100+i and
# P+200+i are free for every node i; drawn below the ephemeral port range.
rv_free_dev_base() {
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(10000, 19000)
    ports = [base + off + i for off in (0, 100, 200) for i in range(n)]
    socks = []
    try:
        for p in ports:
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("no free port range found")
PY
}

# rv_isolate_aws: nothing from the caller's AWS setup leaks in; a private config under RV_WORK.
rv_isolate_aws() {
    unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
        AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 \
        AWS_CA_BUNDLE AWS_REQUEST_CHECKSUM_CALCULATION AWS_RESPONSE_CHECKSUM_VALIDATION \
        AWS_DEFAULT_REGION AWS_REGION AWS_S3_ADDRESSING_STYLE
    export AWS_CONFIG_FILE="$RV_WORK/aws-config"
    export AWS_SHARED_CREDENTIALS_FILE="$RV_WORK/aws-credentials"
    export AWS_EC2_METADATA_DISABLED=true
    export AWS_PAGER=""
    cat >"$AWS_CONFIG_FILE" <<EOF
[default]
region = $RV_REGION
output = json
s3 =
    addressing_style = path
EOF
    cat >"$AWS_SHARED_CREDENTIALS_FILE" <<EOF
[default]
aws_access_key_id = $RV_ACCESS_KEY_ID
aws_secret_access_key = $RV_SECRET_ACCESS_KEY
EOF
}

# rv_launch_dev_ring BIN NODES DATA_DIR LOG KEY_ID SECRET: starts `ringvault dev --nodes NODES`
# in the background on free loopback ports with that root key; sets RV_DEV_BASE (S3 port of
# node 0; admin ports are +100, RPC +200), RV_ENDPOINTS (one per node) and RV_NODE_PID. The
# caller waits for readiness (the log's "Try it:" line).
rv_launch_dev_ring() {
    local bin="$1" nodes="$2" data="$3" log="$4" key_id="$5" secret="$6" i
    RV_DEV_BASE="$(rv_free_dev_base "$nodes")"
    RV_ENDPOINTS=()
    for ((i = 0; i < nodes; i++)); do
        RV_ENDPOINTS+=("http://127.0.0.1:$((RV_DEV_BASE + i))")
    done
    RINGVAULT_ACCESS_KEY_ID="$key_id" RINGVAULT_SECRET_ACCESS_KEY="$secret" \
        "$bin" dev --nodes "$nodes" --data-dir "$data" --base-port "$RV_DEV_BASE" \
        >"$log" 2>&1 </dev/null &
    RV_NODE_PID=$!
}

# rv_start_node BIN: a fresh node (or ring, see RINGVAULT_CLUSTER_NODES) with its own data
# dir, S3 and admin ports; waits until ready.
rv_start_node() {
    local bin="$1" port admin_port nodes="${RINGVAULT_CLUSTER_NODES:-1}"
    [[ -n "$RV_WORK" ]] || RV_WORK="$(mktemp -d "${TMPDIR:-/tmp}/ringvault-s3tests.XXXXXX")"
    RV_NODE_LOG="$RV_WORK/node.log"
    RV_NODE_BIN="$bin"
    # Settings the caller may have exported must not change what is tested.
    unset RINGVAULT_CONFIG RINGVAULT_ROOT_DOMAIN RINGVAULT_DATA_DIR RINGVAULT_S3_ADDR
    # SSE-KMS needs named keys: a local keyring with the two the Ceph suite's config names.
    RV_KMS_KEYRING="$RV_WORK/kms_keyring.toml"
    printf 'testkey-1 = "%s"\ntestkey-2 = "%s"\n' "$(head -c32 /dev/urandom | base64)" \
        "$(head -c32 /dev/urandom | base64)" >"$RV_KMS_KEYRING"
    export RINGVAULT_KMS_KEYRING_FILE="$RV_KMS_KEYRING"
    if ((nodes > 1)); then
        local ready_line="Try it:"
        rv_launch_dev_ring "$bin" "$nodes" "$RV_WORK/data" "$RV_NODE_LOG" \
            "$RV_ACCESS_KEY_ID" "$RV_SECRET_ACCESS_KEY"
        RV_ENDPOINT="${RV_ENDPOINTS[1]}"
        RV_ADMIN_ADDR="127.0.0.1:$((RV_DEV_BASE + 100))"
        rv_log "$nodes-node ring pid $RV_NODE_PID on ${RV_ENDPOINTS[*]} (admin $RV_ADMIN_ADDR), data in $RV_WORK/data"
    else
        local ready_line="RingVault S3 endpoint:"
        port="$(rv_free_port)"
        admin_port="$(rv_free_port)"
        RV_ENDPOINT="http://127.0.0.1:$port"
        RV_ENDPOINTS=("$RV_ENDPOINT")
        RV_ADMIN_ADDR="127.0.0.1:$admin_port"
        RV_ADMIN_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
        RINGVAULT_ACCESS_KEY_ID="$RV_ACCESS_KEY_ID" RINGVAULT_SECRET_ACCESS_KEY="$RV_SECRET_ACCESS_KEY" \
            RINGVAULT_ADMIN_ADDR="$RV_ADMIN_ADDR" RINGVAULT_ADMIN_TOKEN="$RV_ADMIN_TOKEN" \
            "$bin" server --data-dir "$RV_WORK/data" --s3-addr "127.0.0.1:$port" --region "$RV_REGION" \
            >"$RV_NODE_LOG" 2>&1 </dev/null &
        RV_NODE_PID=$!
        rv_log "node pid $RV_NODE_PID on $RV_ENDPOINT (admin $RV_ADMIN_ADDR), data in $RV_WORK/data"
    fi
    local deadline=$((SECONDS + RV_READY_TIMEOUT_SECS)) code
    while ((SECONDS < deadline)); do
        if ! kill -0 "$RV_NODE_PID" 2>/dev/null; then
            rv_log "node exited before becoming ready; its log:"
            cat "$RV_NODE_LOG" >&2
            return 1
        fi
        # Any HTTP answer (an anonymous request gets 403) means the listener is up.
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$RV_ENDPOINT/" || true)"
        if [[ "$code" != "000" ]] && grep -q "$ready_line" "$RV_NODE_LOG"; then
            # The dev ring writes its admin token into the first node's data directory.
            if ((nodes > 1)); then
                RV_ADMIN_TOKEN="$(cat "$RV_WORK/data/node0/admin_token")"
            fi
            return 0
        fi
        sleep 0.2
    done
    rv_log "no HTTP answer from $RV_ENDPOINT within ${RV_READY_TIMEOUT_SECS}s"
    return 1
}

rv_stop_node() {
    [[ -n "$RV_NODE_PID" ]] || return 0
    if kill -0 "$RV_NODE_PID" 2>/dev/null; then
        kill "$RV_NODE_PID" 2>/dev/null || true
        local waited=0
        while kill -0 "$RV_NODE_PID" 2>/dev/null && ((waited < RV_STOP_TIMEOUT_SECS * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$RV_NODE_PID" 2>/dev/null; then
            rv_log "node did not stop within ${RV_STOP_TIMEOUT_SECS}s; sending SIGKILL"
            kill -9 "$RV_NODE_PID" 2>/dev/null || true
        fi
    fi
    wait "$RV_NODE_PID" 2>/dev/null || true
    RV_NODE_PID=""
}

# rv_cleanup: stop the node and remove the scratch directory (set RV_KEEP_WORK=1 to keep it).
rv_cleanup() {
    rv_stop_node
    if [[ -n "$RV_WORK" && -z "${RV_KEEP_WORK:-}" ]]; then
        rm -rf "$RV_WORK"
    fi
}

# rv_bench ARGS...: `ringvault bench` against the running node or ring (all its endpoints, the
# root key). The generator is RV_BENCH_BIN when set, else the node's own binary.
rv_bench() {
    local endpoints
    endpoints="$(IFS=,; echo "${RV_ENDPOINTS[*]}")"
    AWS_ACCESS_KEY_ID="$RV_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$RV_SECRET_ACCESS_KEY" \
        AWS_REGION="$RV_REGION" "${RV_BENCH_BIN:-$RV_NODE_BIN}" bench --endpoint "$endpoints" "$@"
}

# rv_has_key_cli: whether the binary has the admin `key import` command.
rv_has_key_cli() {
    "$RV_NODE_BIN" key import --help >/dev/null 2>&1
}

# rv_import_key ID SECRET: adds an access key to the running node through its admin API.
rv_import_key() {
    local id="$1" secret="$2" extra=()
    # Keys that may create buckets behave like the users of other S3 services in tests.
    if "$RV_NODE_BIN" key import --help 2>/dev/null | grep -q -- '--allow-create-bucket'; then
        extra+=(--allow-create-bucket)
    fi
    RINGVAULT_ADMIN_ADDR="$RV_ADMIN_ADDR" RINGVAULT_ADMIN_TOKEN="$RV_ADMIN_TOKEN" \
        "$RV_NODE_BIN" key import --access-key-id "$id" --secret-access-key "$secret" \
        "${extra[@]}" >"$RV_WORK/key-import.log" 2>&1 || {
        rv_log "key import of $id failed:"
        cat "$RV_WORK/key-import.log" >&2
        return 1
    }
}
