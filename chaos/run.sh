#!/usr/bin/env bash
# The chaos suite: real `ringvault server` processes, each in its own network namespace, under
# a workload and a sequence of faults (kill -9 and restart, SIGSTOP/SIGCONT, a two-way
# partition, a full disk, kill -9 of every node); then every acknowledged write is checked
# through the ring and on each owner alone. Exits non-zero on any violation.
#
#   sudo chaos/run.sh            # the short run CI does (3 nodes, about 4 minutes)
#   sudo chaos/run.sh --long     # the long run: 3 and 5 nodes, every fault twice, longer faults
#   CHAOS_NODES=5 sudo chaos/run.sh   # the short run on 5 nodes (with --long: only that size)
#
# Needs root (network namespaces, iptables inside them, a tmpfs), `ip` and `iptables`.
# Everything it creates (namespaces, a bridge inside its own hub namespace, the tmpfs, the
# processes) is removed on exit, however it exits. Nothing outside its namespaces is touched.
# Work files (node logs, the operation log, the report) stay in $CHAOS_WORK (default
# target/chaos).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=short
[[ "${1:-}" == "--long" ]] && mode=long

if [[ "$(id -u)" != 0 ]]; then
    echo "chaos/run.sh needs root (network namespaces, iptables, tmpfs)" >&2
    exit 2
fi
for tool in ip iptables mount; do
    command -v "$tool" >/dev/null || { echo "chaos/run.sh needs $tool" >&2; exit 2; }
done

work="${CHAOS_WORK:-$PWD/target/chaos}"
bin="${RINGVAULT_BIN:-target/release/ringvault}"
prefix="rvc$$"
hub="$prefix-hub"

cleanup() {
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-" || true); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    done
    sleep 0.2
    for dir in "$work"/*/n*-data; do
        mountpoint -q "$dir" 2>/dev/null && umount -l "$dir" || true
    done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-" || true); do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM

if [[ -z "${RINGVAULT_BIN:-}" ]]; then
    cargo build --release --bin ringvault
fi
cargo build --example chaos
driver=target/debug/examples/chaos

# One run: namespaces for $1 nodes, then the driver in the hub namespace, at most $3 seconds.
run() {
    local nodes="$1" name="$2" limit="$3"; shift 3
    local dir="$work/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    ip netns add "$hub"
    ip -n "$hub" link set lo up
    ip -n "$hub" link add br0 type bridge
    ip -n "$hub" addr add 10.77.0.1/24 dev br0
    ip -n "$hub" link set br0 up
    local i
    for ((i = 0; i < nodes; i++)); do
        local ns="$prefix-n$i"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n "$hub" link add "h$i" type veth peer name eth0 netns "$ns"
        ip -n "$hub" link set "h$i" master br0 up
        ip -n "$ns" addr add "10.77.0.$((10 + i))/24" dev eth0
        ip -n "$ns" link set eth0 up
    done
    # The last node's data lives on a small tmpfs: the full-disk fault fills it. It must hold
    # the workload's data and its garbage in between (the long run leaves about 1 GiB of live
    # objects and a store of about 2 GiB on every node), so that only the fault fills it.
    local disk_node=$((nodes - 1))
    mkdir -p "$dir/n$disk_node-data"
    mount -t tmpfs -o "size=$disk_size" tmpfs "$dir/n$disk_node-data"
    local status=0
    timeout --kill-after=10 "$limit" ip netns exec "$hub" "$driver" --prefix "$prefix" \
        --nodes "$nodes" --bin "$bin" --work-dir "$dir" --disk-node "$disk_node" "$@" || status=$?
    if ((status != 0)); then
        # The tmpfs goes with the run: keep the full-disk node's store for the post-mortem.
        cp "$dir/n$disk_node-data/ringvault.redb" "$dir/n$disk_node-kept.redb" 2>/dev/null || true
    fi
    cleanup
    return "$status"
}

status=0
if [[ "$mode" == short ]]; then
    disk_size=2g
    nodes="${CHAOS_NODES:-3}"
    run "$nodes" "short-$nodes" 600 --fault-secs 12 --calm-secs 8 --enforce-targets || status=$?
else
    disk_size=4g
    faults=kill,stop,partition,disk,kill-all,stop,partition,kill
    for nodes in ${CHAOS_NODES:-3 5}; do
        run "$nodes" "long-$nodes" 3600 --faults "$faults" --fault-secs 30 --calm-secs 20 \
            --workers-per-endpoint 3 --enforce-targets || status=$?
    done
fi
exit "$status"
