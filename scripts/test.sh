#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests on fixtures, fuzz replays of
# every parser, and end-to-end tests that reproduce real failures in network namespaces they
# create; then the unit and fuzz tiers again in a second build under ASan and UBSan.
# A test that cannot run here reports itself skipped; with CONNDOCTOR_NO_SKIP=1 (.ci/run sets
# it) a skip is a failure. Arguments go to the first ctest run (e.g. -L unit).
# CONNDOCTOR_SANITIZER_TIER=0 leaves the sanitizer tier out (a quicker local run).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)"
# Unit and fuzz tests run in parallel; the end-to-end tests hold the "netns" resource lock
# so that they run one at a time.
echo "== tier: unit, fuzz replays, end-to-end (build: $build)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 300 --no-tests=error "$@"

if [[ ${CONNDOCTOR_SANITIZER_TIER:-1} != 0 ]]; then
  san=${SANITIZE_BUILD_DIR:-build-asan}
  echo "== tier: unit and fuzz replays under ASan+UBSan (build: $san)"
  cmake -S . -B "$san" -DCMAKE_BUILD_TYPE=Sanitize -DCONNDOCTOR_SANITIZE=ON >/dev/null
  cmake --build "$san" -j"$(nproc)" --target unit-fuzz-targets
  ctest --test-dir "$san" --output-on-failure -j"$(nproc)" --timeout 600 --no-tests=error \
    -L 'unit|fuzz'
fi
