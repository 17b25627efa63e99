#!/usr/bin/env bash
# A short run of bench/serve_load.sh (docs/benchmarks.md, "serve"): 50 concurrent clients on
# loopback, in a namespace of its own, 4 s per phase (keep-alive, a connection per request, and
# slow clients). It fails on a lost response, a thread that appears under load, fds that do
# not come back, or RSS growing by 32 MiB or more.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/serve_lib.sh"
: "${CONNDOCTOR:?path of the conndoctor binary}"
build=$(dirname "$CONNDOCTOR")
[[ -x "$build/tools/cdtool-httpload" ]] || serve_skip "cdtool-httpload not built"
[[ $(id -u) -eq 0 ]] || serve_skip "needs root to create a network namespace"
unshare -n true 2>/dev/null || serve_skip "cannot create a network namespace here"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bash "$here/../../bench/serve_load.sh" --build "$build" --seconds 4 --clients 50 --slow 10 --out "$out"
rc=$?
((rc == 0)) || serve_fail "load test: responses lost, or threads, fds or memory not flat (rc $rc)"
echo "ok: 50 concurrent clients, nothing lost, threads/fds/RSS flat"
