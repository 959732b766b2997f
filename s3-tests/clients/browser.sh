#!/usr/bin/env bash
# A real browser: headless Chromium (Debian package `chromium`) loads a page from the website
# endpoint and uploads with fetch() + CORS and with an HTML form POST (browser.py says how).
# The node serves websites under web.localhost, which Chromium resolves to loopback.
set -euo pipefail
clients_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export RINGVAULT_WEBSITE_DOMAIN=web.localhost
exec bash "$clients_dir/with-node.sh" browser python3 "$clients_dir/browser.py"
