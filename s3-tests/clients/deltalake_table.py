"""delta-rs (the `deltalake` package) against RingVault: one writer, or the final check.

  deltalake_table.py write ENDPOINT TABLE_URI WRITER COMMITS  appends COMMITS commits of 10 rows
  deltalake_table.py check ENDPOINT TABLE_URI W:N[,W:N...]    writer W's N commits, each once

delta-rs commits by writing the next `_delta_log/<version>.json` with If-None-Match: * (its
default on S3 since 1.0, no locking provider configured): two writers racing for one version
get one 200 and one 412, and the loser retries at the next version.
"""
import os
import sys

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

ROWS_PER_COMMIT = 10


def options(endpoint):
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": os.environ["RV_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["RV_SECRET_ACCESS_KEY"],
        "AWS_REGION": os.environ.get("RV_REGION", "us-east-1"),
        "AWS_ALLOW_HTTP": "true",
    }


def write(endpoint, uri, writer, commits):
    for i in range(commits):
        rows = pa.table(
            {
                "writer": pa.array([writer] * ROWS_PER_COMMIT, pa.int64()),
                "commit": pa.array([i] * ROWS_PER_COMMIT, pa.int64()),
                "row": pa.array(range(ROWS_PER_COMMIT), pa.int64()),
            }
        )
        write_deltalake(uri, rows, mode="append", storage_options=options(endpoint))


def check(endpoint, uri, spec):
    commits = {int(w): int(n) for w, n in (pair.split(":") for pair in spec.split(","))}
    table = DeltaTable(uri, storage_options=options(endpoint))
    data = table.to_pyarrow_table().to_pydict()
    seen = {}
    for w, c in zip(data["writer"], data["commit"]):
        seen[(w, c)] = seen.get((w, c), 0) + 1
    want = {(w, c): ROWS_PER_COMMIT for w, n in commits.items() for c in range(n)}
    if seen != want:
        missing = sorted(set(want) - set(seen))
        doubled = sorted(k for k, n in seen.items() if n != ROWS_PER_COMMIT)
        sys.exit(f"commits lost {missing} or not whole/duplicated {doubled}")
    total = sum(commits.values())
    if table.version() != total - 1:
        sys.exit(f"version {table.version()}, expected {total - 1}")
    print(f"version {table.version()}: {total} commits, {len(data['writer'])} rows")


if __name__ == "__main__":
    action, endpoint, uri = sys.argv[1:4]
    if action == "write":
        write(endpoint, uri, int(sys.argv[4]), int(sys.argv[5]))
    else:
        check(endpoint, uri, sys.argv[4])
    # deltalake's native threads can abort the interpreter's teardown ("terminate called
    # without an active exception") after everything succeeded: leave without it.
    sys.stdout.flush()
    os._exit(0)
