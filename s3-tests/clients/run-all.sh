#!/usr/bin/env bash
# Runs every real-client scenario in s3-tests/clients/, each against its own fresh node, and
# prints one PASS/FAIL line per client and a closing "clients: N passed, M failed" line.
#
# Usage: bash s3-tests/clients/run-all.sh [client ...]   (default: all of them)
# The release binary is built once here (unless RINGVAULT_BIN is set) and passed to each
# scenario; each scenario's full output goes to the terminal, the summary comes last.

set -euo pipefail

clients_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/node.sh
source "$clients_dir/../lib/node.sh"
RV_LOG_TAG=clients

RINGVAULT_BIN="$(rv_bin)"
export RINGVAULT_BIN
rv_venv

all=(aws boto3_defaults rclone s3cmd restic deltalake browser console)
selected=("${@:-${all[@]}}")
passed=0
failed=0
summary=()
for client in "${selected[@]}"; do
    case "$client" in
        boto3_defaults) command=(python3 "$clients_dir/boto3_defaults.py") ;;
        *) command=(bash "$clients_dir/$client.sh") ;;
    esac
    printf '\n==> %s\n' "$client"
    if "${command[@]}"; then
        passed=$((passed + 1))
        summary+=("PASS  $client")
    else
        failed=$((failed + 1))
        summary+=("FAIL  $client")
    fi
done

printf '\n'
printf '%s\n' "${summary[@]}"
printf 'clients: %d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
