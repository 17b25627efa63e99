#!/usr/bin/env bash
# Past half of a tuple's pool, connect() scans ports it cannot use (issue 12, item 5). In a
# namespace of its own (unshare -n) with a 100-port range starting on an even port,
# cdtool-portfill holds 55 live connections to 127.0.0.1:8080. The kernel's side is asserted
# first: connect() took the 50 ports of the range start's parity before any of the other, so
# each of the last 5 connects walked 50 taken ports. Then `conndoctor check --json` must report
# it before the 70 % warning: one `ephemeral_ports.port_search` info finding for the tuple, with
# first_parity_ports = 50, no warning, and the verdict still ok.
set -uo pipefail
source "$(dirname "$0")/skip.sh"
: "${CONNDOCTOR:?path of the conndoctor binary}"
TOOLS_DIR=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
[[ -x "$CONNDOCTOR" ]] || skip_test "no conndoctor binary at $CONNDOCTOR"
[[ $(id -u) -eq 0 ]] || skip_test "needs root to create a network namespace"
[[ -x "$TOOLS_DIR/cdtool-portfill" ]] || skip_test "cdtool-portfill not built"
command -v python3 >/dev/null || skip_test "python3 is needed to read the JSON report"
command -v ss >/dev/null || skip_test "no ss (iproute2)"
unshare -n true 2>/dev/null || skip_test "cannot create a network namespace here"
if [[ "${PARITY_INSIDE:-}" != 1 ]]; then
  PARITY_INSIDE=1 exec timeout -k 5 60 unshare -n bash "$0" "$@"
fi

fail() {
  echo "FAIL: $*"
  exit 1
}
T=$(mktemp -d)
FILL=
cleanup() {
  [[ -n "$FILL" ]] && kill -TERM "$FILL" 2>/dev/null && wait "$FILL" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# This namespace's own settings (net.* sysctls are per namespace; the host's are untouched).
ip link set lo up || fail "cannot bring lo up"
echo "40000 40099" >/proc/sys/net/ipv4/ip_local_port_range
"$TOOLS_DIR/cdtool-portfill" --target 127.0.0.1:8080 --max 55 --hold 50 \
  --ready-file "$T/ready" >"$T/fill.out" 2>&1 &
FILL=$!
for _ in $(seq 100); do [[ -s "$T/ready" ]] && break; sleep 0.1; done
[[ -s "$T/ready" ]] || fail "portfill did not get ready: $(cat "$T/fill.out")"
echo "$(cat "$T/fill.out")"

# The kernel: the local ports of the 55 client sockets, in the order connect() handed them out
# (portfill connects one at a time; ss lists by port, so count parities instead).
ss -Htn state established dst 127.0.0.1:8080 | awk '{split($3, a, ":"); print a[2]}' >"$T/ports"
n=$(wc -l <"$T/ports")
even=$(awk '$1 % 2 == 0' "$T/ports" | wc -l)
((n == 55)) || fail "expected 55 client sockets, ss shows $n"
((even == 50)) ||
  fail "connect() did not fill the range start's parity first: $even even of $n ports"
echo "kernel: all 50 even ports of 40000-40099 taken before the 5 odd ones"

"$CONNDOCTOR" check --json >"$T/check.json" 2>"$T/check.err"
rc=$?
((rc == 0)) || fail "check exited $rc (the verdict must stay ok): $(cat "$T/check.err")"
python3 - "$T/check.json" <<'EOF' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
def fail(msg):
    print("FAIL:", msg)
    print(json.dumps([{k: f[k] for k in ("id", "severity", "title")} for f in r["findings"]], indent=1))
    sys.exit(1)
if r["status"] != "ok":
    fail("status %r, expected ok (55 %% is below the warning)" % r["status"])
search = [f for f in r["findings"] if f["id"] == "ephemeral_ports.port_search"]
if len(search) != 1:
    fail("%d port_search findings, expected 1" % len(search))
f = search[0]
ev = f["evidence"]
if f["severity"] != "info":
    fail("severity %r" % f["severity"])
if ev["destination"] != "127.0.0.1:8080" or ev["usable"] != 100 or ev["in_use"] != 55:
    fail("evidence %r" % {k: ev[k] for k in ("destination", "usable", "in_use")})
if ev["first_parity_ports"] != 50:
    fail("first_parity_ports %r" % ev["first_parity_ports"])
if "parity" not in ev["cause"]:
    fail("cause %r does not name the parity scan" % ev["cause"])
if any(g["id"] == "ephemeral_ports.tuple" for g in r["findings"]):
    fail("a tuple warning at 55 %")
print("ok:", f["title"])
EOF
