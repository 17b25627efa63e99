#!/bin/bash
# Regenerates tests/fixtures/dumps/*.nldump (real sock_diag transcripts recorded in throwaway
# network namespaces; needs root or CAP_NET_ADMIN + unshare). Usage, from the repo root:
#   tests/tools/make-dump-fixtures.sh [BUILD_DIR]   (BUILD_DIR holds libconndoctor_core.a; default build)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
cmake --build "$build" --target conndoctor_core >/dev/null
g++ -std=c++23 -O1 -Wall -Wextra -Isrc tests/tools/make_dump_fixtures.cpp \
  "$build/libconndoctor_core.a" $(pkg-config --libs libmnl libnetfilter_conntrack) -lfmt \
  -o "$build/make_dump_fixtures"
mkdir -p tests/fixtures/dumps
"$build/make_dump_fixtures" tests/fixtures/dumps
