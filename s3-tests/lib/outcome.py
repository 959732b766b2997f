"""Test outcomes for run.sh: a pytest plugin that records them, and a comparison with a list.

As a plugin (`-p outcome` with this directory on PYTHONPATH and RV_OUTCOME_FILE set), it
writes one line per test, `<outcome> <node id>`, where outcome is passed, failed or skipped
(an error in setup or teardown counts as failed).

As a script it compares such a file with a reviewed list and prints what changed:

  outcome.py expected-failures RESULTS LIST LABEL
      LIST names tests known to fail. A failure not on it is unexpected; a listed test that
      passes is reported so the line can be removed, without failing the run.
  outcome.py expected-pass RESULTS LIST LABEL
      LIST names tests known to pass. A listed test that fails (or is missing) is unexpected;
      passes not on the list are reported as new.

List files hold one node id per line; text after " #" is a comment (the reason). It prints
`LABEL: N passed, M failed` with M the unexpected failures, and the last line
`counts <passed> <unexpected>` for run.sh; it exits 0 whether or not M is 0.
"""

from __future__ import annotations

import os
import sys

_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report) -> None:
    current = _outcomes.get(report.nodeid)
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.skipped and current != "failed":
        _outcomes[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and current is None:
        _outcomes[report.nodeid] = "passed"


def pytest_sessionfinish(session, exitstatus) -> None:
    path = os.environ.get("RV_OUTCOME_FILE")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as out:
        for nodeid, outcome in sorted(_outcomes.items()):
            out.write(f"{outcome} {nodeid}\n")


def read_results(path: str) -> dict[str, str]:
    results = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                outcome, _, nodeid = line.partition(" ")
                results[nodeid] = outcome
    return results


def read_list(path: str) -> dict[str, str]:
    """node id -> reason."""
    entries = {}
    if not os.path.exists(path):
        return entries
    with open(path, encoding="utf-8") as f:
        for line in f:
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            nodeid, _, reason = stripped.partition(" #")
            entries[nodeid.strip()] = reason.strip()
    return entries


def main(argv: list[str]) -> int:
    mode, results_path, list_path, label = argv[1:5]
    results = read_results(results_path)
    listed = read_list(list_path)
    passed = sorted(n for n, o in results.items() if o == "passed")
    failed = sorted(n for n, o in results.items() if o == "failed")
    skipped = sorted(n for n, o in results.items() if o == "skipped")
    unexpected: list[str] = []
    if mode == "expected-failures":
        unexpected = [n for n in failed if n not in listed]
        for n in failed:
            if n in listed:
                print(f"{label}: expected failure  {n}  ({listed[n]})")
        for n in passed:
            if n in listed:
                print(f"{label}: now passing, remove from {os.path.basename(list_path)}: {n}")
        for n in sorted(set(listed) - set(results)):
            print(f"{label}: listed but not run (stale entry?): {n}")
    elif mode == "expected-pass":
        unexpected = [n for n in sorted(listed) if results.get(n) != "passed"]
        new = [n for n in passed if n not in listed]
        for n in new:
            print(f"{label}: new pass, add to {os.path.basename(list_path)}: {n}")
        if new:
            print(f"{label}: {len(new)} new passes")
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    for n in unexpected:
        print(f"{label}: UNEXPECTED FAILURE  {n}  ({results.get(n, 'not run')})")
    print(f"{label}: {len(passed)} passed, {len(unexpected)} failed, "
          f"{len(failed) - len([n for n in failed if n in unexpected])} expected failures, "
          f"{len(skipped)} skipped")
    print(f"counts {len(passed)} {len(unexpected)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
