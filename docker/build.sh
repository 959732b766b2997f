#!/usr/bin/env bash
# Builds a statically linked release binary and wraps it in a FROM-scratch image.
# Usage: docker/build.sh [image-tag]   (default tag: ringvault:dev)
# RINGVAULT_BIN=<path> uses that binary instead of building one; it must be statically linked
# (the image has no C library to load).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${1:-ringvault:dev}"
target="x86_64-unknown-linux-gnu"
cd "$repo_root"
if [[ -n "${RINGVAULT_BIN:-}" ]]; then
    bin="$RINGVAULT_BIN"
else
    RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target "$target"
    bin="target/$target/release/ringvault"
fi
# A dynamically linked binary names the libraries it loads ("libc.so.6 => ...").
if ldd "$bin" 2>&1 | grep -q '=>'; then
    echo "docker/build.sh: $bin is dynamically linked; the scratch image cannot run it" >&2
    exit 1
fi
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$bin" "$context/ringvault"
# The release profile keeps line tables for profiling; the image keeps only the symbols (a
# backtrace still names functions): 108 MB -> 19 MB.
strip --strip-debug "$context/ringvault"
cp docker/Dockerfile "$context/Dockerfile"
mkdir "$context/data"
docker build -t "$tag" "$context"
echo "built $tag"
