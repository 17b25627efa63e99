# Shared setup of the end-to-end tests that churn connections in a namespace of their own
# (sourced, not run). churn_ns NAME RANGE creates namespace NAME with lo up, the ephemeral port
# range RANGE ("40000 40063") and tcp_tw_reuse 0 inside it only (its loopback default 2 would let
# connect() take TIME_WAIT ports over and the pool would never run out); it sets $ns and $tmp,
# and on exit stops every pid in $pids and removes the namespace and $tmp.
# churn_sink PORT...: starts cdtool-churn's sink on 127.0.0.1:PORT... (path in $churn) and
# waits (bounded, 30 s) until the last port listens; it fails the test if it never does.
# shellcheck shell=bash

pids=()
churn_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [[ -n ${ns:-} ]] && ip netns del "$ns" 2>/dev/null
  [[ -n ${tmp:-} ]] && rm -rf "$tmp"
}

churn_ns() {
  ns=$1
  tmp=$(mktemp -d)
  trap churn_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  ip netns add "$ns" 2>/dev/null || skip_test "cannot create a network namespace (ip netns add)"
  ip -n "$ns" link set lo up || { echo "FAIL: cannot bring lo up in $ns"; exit 1; }
  ip netns exec "$ns" sh -c "echo '$2' >/proc/sys/net/ipv4/ip_local_port_range &&
    echo 0 >/proc/sys/net/ipv4/tcp_tw_reuse" || { echo "FAIL: cannot set namespace sysctls"; exit 1; }
}

churn_sink() {
  local args=() port
  for port in "$@"; do args+=(--listen "127.0.0.1:$port"); done
  ip netns exec "$ns" "$churn" sink "${args[@]}" --max-seconds 90 &
  pids+=($!)
  # Bounded at 30 s: a loaded CI machine can take seconds to start a process in a namespace.
  for _ in $(seq 300); do
    [[ $(ip netns exec "$ns" ss -Htln "sport = :${*: -1}" 2>/dev/null) ]] && return 0
    sleep 0.1
  done
  echo "FAIL: the sink never listened on 127.0.0.1:${*: -1} (30 s)"
  exit 1
}
