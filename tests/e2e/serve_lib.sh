# Shared helpers of the `conndoctor serve` end-to-end tests (sourced, not run): skip checks,
# re-running the test inside a network namespace of its own, a dependency-free HTTP GET, and
# cleanup of every process the test started.
# shellcheck shell=bash

source "$(dirname "${BASH_SOURCE[0]}")/skip.sh"
serve_skip() { skip_test "$@"; }

serve_fail() {
  echo "FAIL: $*"
  exit 1
}

# Re-runs the calling script inside a new network namespace (lo up), bounded in time. The
# namespace disappears with the last process in it; the inner script's trap ends those.
serve_in_netns() {
  : "${CONNDOCTOR:?path of the conndoctor binary}"
  [[ -x "$CONNDOCTOR" ]] || serve_skip "no conndoctor binary at $CONNDOCTOR"
  [[ $(id -u) -eq 0 ]] || serve_skip "needs root to create a network namespace"
  unshare -n true 2>/dev/null || serve_skip "cannot create a network namespace here (unshare -n failed)"
  if [[ "${SERVE_INSIDE:-}" != 1 ]]; then
    SERVE_INSIDE=1 exec timeout -k 10 "${SERVE_TEST_TIMEOUT:-150}" unshare -n bash "$0" "$@"
  fi
  ip link set lo up 2>/dev/null || serve_skip "cannot bring lo up in the test namespace"
  SERVE_TMP=$(mktemp -d)
  SERVE_PIDS=()
  trap serve_cleanup EXIT
  trap 'exit 143' TERM INT
}

# Ends what the test started (by pid), then removes its files.
serve_cleanup() {
  local pid
  for pid in "${SERVE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${SERVE_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$SERVE_TMP"
}

# http_get PATH [HEADER] -> sets HTTP_STATUS and HTTP_BODY. Plain bash (/dev/tcp): no curl.
http_get() {
  local path=$1 header=${2:-} port=${SERVE_PORT:-9877} raw
  HTTP_STATUS=000
  HTTP_BODY=
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n' "$path" \
    "${header:+$header$'\r\n'}" >&3
  raw=$(timeout 20 cat <&3)
  exec 3<&- 3>&-
  HTTP_STATUS=$(head -n1 <<<"$raw" | awk '{print $2}')
  HTTP_BODY=$(awk 'body {print} /^\r?$/ && !body {body=1}' <<<"$raw")
}

# wait_for_http PATH SECONDS: until the server answers.
wait_for_http() {
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    http_get "$1" && [[ "$HTTP_STATUS" == 200 ]] && return 0
    sleep 0.2
  done
  return 1
}
