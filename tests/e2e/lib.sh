# Shared helpers of the end-to-end lab tests (sourced, not run): skip checks, running one
# `conndoctor lab run`, leftover checks, and JSON assertions in a few lines of python3.
# shellcheck shell=bash

# Host sysctls a lab run could touch if it went wrong; every test compares them before/after.
LAB_HOST_SYSCTLS=(net/ipv4/ip_local_port_range net/ipv4/ip_local_reserved_ports
  net/ipv4/tcp_tw_reuse net/ipv4/tcp_timestamps net/ipv4/tcp_max_tw_buckets net/core/somaxconn)

source "$(dirname "${BASH_SOURCE[0]}")/skip.sh"
lab_skip() { skip_test "$@"; }

# Exits 77 with a one-line reason when this machine cannot run the lab.
lab_require() {
  : "${CONNDOCTOR:?path of the conndoctor binary}"
  [[ -x "$CONNDOCTOR" ]] || lab_skip "no conndoctor binary at $CONNDOCTOR"
  [[ $(id -u) -eq 0 ]] || lab_skip "the lab needs root (it creates network namespaces)"
  command -v python3 >/dev/null || lab_skip "python3 is needed to read the JSON report"
  unshare -n true 2>/dev/null || lab_skip "cannot create a network namespace here (unshare -n failed)"
  LAB_TMP=$(mktemp -d)
  trap 'rm -rf "$LAB_TMP"' EXIT
  lab_host_sysctls >"$LAB_TMP/sysctls.before"
}

lab_host_sysctls() {
  local k
  for k in "${LAB_HOST_SYSCTLS[@]}"; do
    printf '%s=%s\n' "$k" "$(tr '\t' ' ' </proc/sys/$k)"
  done
}

# lab_run NAME [args...]: runs the scenario with --json into $LAB_TMP/NAME.json; sets LAB_RC.
lab_run() {
  local name=$1
  shift
  LAB_JSON="$LAB_TMP/$name.json"
  "$CONNDOCTOR" lab run "$name" --json "$@" >"$LAB_JSON" 2>"$LAB_TMP/$name.err"
  LAB_RC=$?
  if [[ $LAB_RC -gt 2 ]]; then
    echo "FAIL: lab run $name exited $LAB_RC: $(head -c 500 "$LAB_TMP/$name.err")"
    exit 1
  fi
}

# True when pid runs (a zombie waiting for init to reap it holds nothing: not running).
lab_pid_running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# Fails unless the host sysctls are as they were before the test.
lab_assert_host_untouched() {
  lab_host_sysctls >"$LAB_TMP/sysctls.after"
  if ! diff -u "$LAB_TMP/sysctls.before" "$LAB_TMP/sysctls.after"; then
    echo "FAIL: host sysctls changed"
    exit 1
  fi
}

# Fails when the run's namespace or any pid named in its report is still around.
lab_assert_no_leftovers() {
  local netns pids p
  netns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lab"]["netns"])' "$LAB_JSON")
  if [[ -e "/run/netns/$netns" ]]; then
    echo "FAIL: namespace $netns left behind"
    exit 1
  fi
  pids=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join(str(f["evidence"]["pid"]) for f in r["findings"] if isinstance(f["evidence"].get("pid"), int)))
' "$LAB_JSON")
  for p in $pids; do
    if lab_pid_running "$p"; then
      echo "FAIL: process $p ($(cat /proc/$p/comm 2>/dev/null)) left behind"
      exit 1
    fi
  done
  lab_assert_host_untouched
}

# lab_check 'python statements': runs them with the report as `r` and helpers:
#   findings(resource=, severity=, layer=) -> list, expect(cond, msg), observed -> list of str,
#   observed_pid(comm) -> int from "comm (pid N)" in the generator's observations, rc = exit.
lab_check() {
  python3 - "$LAB_JSON" "$LAB_RC" <<PY
import json, re, sys
r = json.load(open(sys.argv[1]))
rc = int(sys.argv[2])
observed = r["lab"]["observed"]
def show():
    print("status:", r["status"], "|", r["summary"])
    for f in r["findings"]:
        print("  finding:", f["severity"], f["resource"], f["layer"], "|", f["title"])
    for o in observed:
        print("  observed:", o)
def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        show()
        sys.exit(1)
def findings(resource=None, severity=None, layer=None):
    sev = [severity] if isinstance(severity, str) else severity
    return [f for f in r["findings"]
            if (resource is None or f["resource"] == resource)
            and (sev is None or f["severity"] in sev)
            and (layer is None or f["layer"] == layer)]
def observed_pid(comm):
    for o in observed:
        m = re.search(re.escape(comm) + r" \(pid (\d+)\)", o)
        if m:
            return int(m.group(1))
    expect(False, "no pid of %s in the observations" % comm)
expect(r["schema"] == "conndoctor/report/v1", "schema")
expect(rc == {"ok": 0, "warning": 1, "critical": 2}.get(r["status"], 3),
       "exit status %d does not match status %s" % (rc, r["status"]))
$1
show()
PY
  [[ $? -eq 0 ]] || exit 1
}
