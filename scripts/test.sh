#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests on fixtures, fuzz
# replays of every parser, and end-to-end tests that reproduce real failures in network
# namespaces they create (those report themselves skipped where namespaces are not allowed).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)"
# Unit and fuzz tests run in parallel; the end-to-end tests hold the "netns" resource lock
# so that they run one at a time.
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 300 "$@"
