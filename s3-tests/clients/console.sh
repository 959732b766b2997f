#!/usr/bin/env bash
# The web console: headless Chromium (Debian package `chromium`) opens GET /console on node 0's
# admin listener of a 3-node ring, signs in with the admin token, reads the nodes, buckets and
# a folder listing, and uploads and downloads an object through the page (console.py says how).
set -euo pipefail
clients_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export RINGVAULT_CLUSTER_NODES=3
exec bash "$clients_dir/with-node.sh" console python3 "$clients_dir/console.py"
