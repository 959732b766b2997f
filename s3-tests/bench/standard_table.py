"""Prints standard.sh's table from the files it wrote: each figure, the limit it is measured
against (the machine's, or the single node's for the 3-node ring) and the fraction reached.

Usage: python3 standard_table.py RESULTS_DIR LIST_KEYS LIST_DIRS
"""

import json
import os
import sys

MIB = 1 << 20
REPLICAS = 3


def load(path):
    with open(path) as f:
        return json.load(f)


def text(path):
    with open(path) as f:
        return f.read().strip()


def op(results, nodes, name):
    report = load(os.path.join(results, str(nodes), name + ".json"))
    return report["operations"][0]


def figures(results, nodes, list_keys):
    d = os.path.join(results, str(nodes))
    held = 500 * MIB * min(nodes, REPLICAS)
    flat = op(results, nodes, "list-flat")
    folded = op(results, nodes, "list-delimiter")
    return {
        "4 KiB PUT ops/s (c16)": op(results, nodes, "put-4k")["ops_per_sec"],
        "4 KiB PUT p99 ms": op(results, nodes, "put-4k")["latency_ms"]["p99"],
        "4 KiB GET ops/s (c16)": op(results, nodes, "get-4k")["ops_per_sec"],
        "4 KiB GET p99 ms": op(results, nodes, "get-4k")["latency_ms"]["p99"],
        "4 KiB GET ops/s (wrk, presigned)": float(text(os.path.join(d, "wrk-get-4k.txt"))),
        "1 MiB PUT MB/s (c16)": op(results, nodes, "put-1m")["mb_per_sec"],
        "1 MiB GET MB/s (c16)": op(results, nodes, "get-1m")["mb_per_sec"],
        "256 MiB PUT MB/s (1 stream)": op(results, nodes, "put-256m")["mb_per_sec"],
        "256 MiB GET MB/s (1 stream)": op(results, nodes, "get-256m")["mb_per_sec"],
        f"LIST flat keys/s ({list_keys:,} keys)": flat["entries_per_sec"],
        "LIST delimiter: ms per 1,000-prefix page (p50)": folded["latency_ms"]["p50"],
        "peak RSS MiB": int(text(os.path.join(d, "rss-kib.txt"))) / 1024,
        "data dir / bytes held (500 MiB write-only)":
            int(text(os.path.join(d, "disk-bytes.txt"))) / held,
        "databases alone / bytes held (no reserve)":
            int(text(os.path.join(d, "db-bytes.txt"))) / held,
        "data dir after delete, GC, rewrite / before":
            int(text(os.path.join(d, "disk-bytes-again.txt")))
            / int(text(os.path.join(d, "disk-bytes.txt"))),
    }


def main():
    results, list_keys, list_dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    limits = load(os.path.join(results, "limits.json"))
    static = float(text(os.path.join(results, "static.txt")))
    write_limit = min(limits["md5_mb_per_sec"], limits["seq_write_fdatasync_mb_per_sec"])
    # The limit each figure is read against, where one applies.
    machine = {
        "4 KiB PUT ops/s (c16)": ("fdatasyncs/s", limits["fdatasyncs_per_sec"]),
        "4 KiB GET ops/s (wrk, presigned)": ("nginx 4 KiB (wrk)", static),
        "1 MiB PUT MB/s (c16)": ("min(MD5, seq write)", write_limit),
        "256 MiB PUT MB/s (1 stream)": ("min(MD5, seq write)", write_limit),
        "1 MiB GET MB/s (c16)": ("loopback", limits["loopback_mb_per_sec"]),
        "256 MiB GET MB/s (1 stream)": ("loopback", limits["loopback_mb_per_sec"]),
    }
    rings = sorted(int(n) for n in os.listdir(results) if n.isdigit())
    per_ring = {n: figures(results, n, list_keys) for n in rings}
    print()
    print("Machine: MD5 {md5:.0f} MB/s, SHA-256 {sha:.0f} MB/s per core; sequential write with "
          "fdatasync {seq:.0f} MB/s; {syncs:.0f} fdatasyncs/s; loopback {lo:.0f} MB/s; nginx "
          "4 KiB {static:.0f} req/s".format(
              md5=limits["md5_mb_per_sec"], sha=limits["sha256_mb_per_sec"],
              seq=limits["seq_write_fdatasync_mb_per_sec"], syncs=limits["fdatasyncs_per_sec"],
              lo=limits["loopback_mb_per_sec"], static=static))
    print(f"LIST over {list_keys:,} keys in {list_dirs:,} directories")
    header = ["figure"] + [f"{n} node{'s' if n > 1 else ''}" for n in rings]
    header += ["limit", "1 node / limit"]
    if len(rings) > 1:
        header.append(f"{rings[-1]} nodes / 1 node")
    rows = [header]
    for name in per_ring[rings[0]]:
        row = [name] + [f"{per_ring[n][name]:,.2f}" if per_ring[n][name] < 100
                        else f"{per_ring[n][name]:,.0f}" for n in rings]
        limit = machine.get(name)
        row.append(f"{limit[0]} {limit[1]:,.0f}" if limit else "")
        row.append(f"{per_ring[rings[0]][name] / limit[1]:.2f}" if limit else "")
        if len(rings) > 1:
            base = per_ring[rings[0]][name]
            row.append(f"{per_ring[rings[-1]][name] / base:.2f}" if base else "")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
