#!/usr/bin/env bash
# Peak memory of a node during a 2 GiB PUT and GET.
#
# Goal: prove that bodies stream: the server's peak resident set (VmHWM) stays under
# RSS_LIMIT_MIB (default 100) while a 2 GiB object is uploaded and downloaded, and the
# downloaded bytes are the uploaded ones (MD5 compared with the ETag).
#
# Method: start the release binary on a free loopback port with a throwaway data directory,
# PUT a file of SIZE_MIB (default 2048) random MiB with curl's SigV4 signing (a single
# UNSIGNED-PAYLOAD PUT, no multipart), GET it back through md5sum, then read VmHWM from
# /proc/<pid>/status. Prints "peak RSS: N MiB" and exits non-zero above the limit.

set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${RINGVAULT_BIN:-$repo_root/target/release/ringvault}"
[[ "$bin" == /* ]] || bin="$PWD/$bin"
size_mib="${SIZE_MIB:-2048}"
limit_mib="${RSS_LIMIT_MIB:-100}"
key_id="RVRSSTESTKEY00000001"
secret="ringvault-rss-test-secret"

if [[ ! -x "$bin" ]]; then
    (cd "$repo_root" && cargo build --release)
fi

work="$(mktemp -d)"
node_pid=""
cleanup() {
    if [[ -n "$node_pid" ]] && kill -0 "$node_pid" 2>/dev/null; then
        kill "$node_pid" 2>/dev/null || true
        wait "$node_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"
RINGVAULT_DATA_DIR="$work/data" RINGVAULT_S3_ADDR="127.0.0.1:$port" RINGVAULT_ADMIN_ADDR=127.0.0.1:0 \
    RINGVAULT_ACCESS_KEY_ID="$key_id" RINGVAULT_SECRET_ACCESS_KEY="$secret" \
    "$bin" >"$work/node.log" 2>&1 &
node_pid=$!

s3() {
    curl -sS --fail-with-body --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key_id:$secret" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

for _ in $(seq 1 100); do
    if s3 -o /dev/null "$endpoint/" 2>/dev/null; then break; fi
    sleep 0.1
done

echo "rss: writing $size_mib MiB of random data"
head -c "$((size_mib << 20))" /dev/urandom >"$work/body.bin"
expected_md5="$(md5sum "$work/body.bin" | cut -d' ' -f1)"

s3 -X PUT "$endpoint/rss" >/dev/null
start=$(date +%s)
etag="$(s3 -T "$work/body.bin" -D - -o /dev/null "$endpoint/rss/big" | tr -d '\r' | awk -F'"' 'tolower($1) ~ /^etag: /{print $2}')"
put_secs=$(( $(date +%s) - start ))
rm -f "$work/body.bin"
start=$(date +%s)
got_md5="$(s3 "$endpoint/rss/big" | md5sum | cut -d' ' -f1)"
get_secs=$(( $(date +%s) - start ))

peak_kib="$(awk '/^VmHWM:/{print $2}' "/proc/$node_pid/status")"
peak_mib=$((peak_kib / 1024))
echo "rss: PUT ${put_secs}s, GET ${get_secs}s, ETag $etag"
echo "peak RSS: $peak_mib MiB for a $size_mib MiB PUT and GET (limit $limit_mib MiB)"

if [[ "$etag" != "$expected_md5" || "$got_md5" != "$expected_md5" ]]; then
    echo "rss: FAIL: MD5 mismatch (sent $expected_md5, ETag $etag, received $got_md5)"
    exit 1
fi
if (( peak_mib >= limit_mib )); then
    echo "rss: FAIL: peak RSS $peak_mib MiB is not under $limit_mib MiB"
    tail -20 "$work/node.log"
    exit 1
fi
echo "rss: 1 passed, 0 failed"
