#!/usr/bin/env bash
# Builds a statically linked release binary and wraps it in a FROM-scratch image.
# Usage: docker/build.sh [image-tag]   (default tag: ringvault:dev)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${1:-ringvault:dev}"
target="x86_64-unknown-linux-gnu"
cd "$repo_root"
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target "$target"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "target/$target/release/ringvault" "$context/ringvault"
cp docker/Dockerfile "$context/Dockerfile"
mkdir "$context/data"
docker build -t "$tag" "$context"
echo "built $tag"
