#!/usr/bin/env bash
# `record` then `check` on the recording, elsewhere: in a namespace of its own with conntrack
# on (an nftables `ct state` rule) and 20 live loopback connections, `conndoctor record`
# writes /proc copies, the sock_diag transcript and the conntrack transcript; `check` on the
# recording, outside the namespace, must give the live report's sockets, tuples and conntrack
# table. Also `check --record-dump/--record-conntrack-dump` then replay.
set -uo pipefail
: "${CONNDOCTOR:?path of the conndoctor binary}"

source "$(dirname "$0")/skip.sh"
skip() { skip_test "$@"; }
[[ $(id -u) -eq 0 ]] || skip "needs root to create a network namespace"
command -v ip >/dev/null || skip "needs ip (iproute2)"
command -v nft >/dev/null || skip "needs nft (nftables)"
command -v python3 >/dev/null || skip "needs python3"

ns=cdtest-rec-$$
tmp=$(mktemp -d)
holder=""
cleanup() {
  [[ -n $holder ]] && kill -TERM "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace (ip netns add)"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up || { echo "FAIL: lo up"; exit 1; }
in_ns nft -f - <<'NFT' || skip "cannot load an nftables ruleset with a conntrack match"
table inet cdtest {
  chain out { type filter hook output priority 0; ct state new counter; }
}
NFT

# 20 connections to 127.0.0.1:7000, held until told (bounded: 60 s).
ip netns exec "$ns" python3 - "$tmp/ready" <<'PY' &
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 7000)); srv.listen(64)
conns = [socket.create_connection(("127.0.0.1", 7000)) for _ in range(20)]
peers = [srv.accept()[0] for _ in range(20)]
open(sys.argv[1], "w").close()
time.sleep(60)
PY
holder=$!
for _ in $(seq 50); do [[ -e $tmp/ready ]] && break; sleep 0.1; done
[[ -e $tmp/ready ]] || { echo "FAIL: the connections were not set up"; exit 1; }

in_ns "$CONNDOCTOR" record --out "$tmp/rec" >"$tmp/record.out" 2>&1 ||
  { echo "FAIL: record: $(cat "$tmp/record.out")"; exit 1; }
grep -q -- "--conntrack-dump $tmp/rec/conntrack.bin" "$tmp/record.out" ||
  { echo "FAIL: record did not name the conntrack transcript: $(cat "$tmp/record.out")"; exit 1; }
in_ns "$CONNDOCTOR" check --json --interval 0 --record-dump "$tmp/sd.bin" \
  --record-conntrack-dump "$tmp/ct.bin" >"$tmp/live.json" 2>"$tmp/err"
(($? <= 2)) || { echo "FAIL: live check: $(cat "$tmp/err")"; exit 1; }

# Replays run outside the namespace: they must not need it.
"$CONNDOCTOR" check --json --interval 0 --proc-root "$tmp/rec/proc" \
  --sock-diag-dump "$tmp/rec/sock_diag.bin" --conntrack-dump "$tmp/rec/conntrack.bin" \
  >"$tmp/replay.json" 2>"$tmp/err"
(($? <= 2)) || { echo "FAIL: replay of record: $(cat "$tmp/err")"; exit 1; }
"$CONNDOCTOR" check --json --interval 0 --proc-root "$tmp/rec/proc" \
  --sock-diag-dump "$tmp/sd.bin" --conntrack-dump "$tmp/ct.bin" >"$tmp/replay2.json" 2>"$tmp/err"
(($? <= 2)) || { echo "FAIL: replay of check's recordings: $(cat "$tmp/err")"; exit 1; }

python3 - "$tmp/live.json" "$tmp/replay.json" "$tmp/replay2.json" <<'PY'
import json, sys
live, *replays = (json.load(open(p)) for p in sys.argv[1:])
def view(r):
    res = r["resources"]
    t = res["conntrack"]["table"]
    return {
        "status": r["status"],
        "findings": sorted(f["id"] for f in r["findings"]),
        "sockets": res["sockets"],
        "tuples": [(x["src"], x["destination"], x["in_use"])
                   for x in res["ephemeral_ports"]["tuples"]],
        "ct_entries": t and t["entries"],
        "ct_dest": t and t["top_destinations"],
    }
want = view(live)
t = live["resources"]["conntrack"]["table"]
assert t is not None, "the live check dumped no conntrack table"
assert t["entries"] >= 20, "live conntrack entries %r, want >= 20" % t["entries"]
assert any(d["destination"] == "127.0.0.1:7000" and d["entries"] >= 20
           for d in t["top_destinations"]), t["top_destinations"]
for name, r in zip(("record", "check --record-*"), replays):
    got = view(r)
    for k in want:
        assert got[k] == want[k], "%s replay differs in %s: %r != live %r" % (name, k, got[k], want[k])
print("ok: %d conntrack entries, %d sockets replayed from both recordings" % (
    t["entries"], live["resources"]["sockets"]["total"]))
PY
[[ $? -eq 0 ]] || exit 1

# Memory cgroups (collect/cgroup_memory.h): the cgroup mounts go to DIR/proc/self/mountinfo and
# the files to DIR/<mount point>/<path>/..., where a replay of DIR/proc reads them.
# `ip netns exec` mounts a fresh /sys: the recorder saw no cgroup hierarchy, and the replay must
# say so rather than stay silent.
if ! in_ns grep -q ' - cgroup' /proc/self/mountinfo; then
  python3 - "$tmp/replay.json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
assert any("no cgroup v1 memory or cgroup2 hierarchy is mounted" in m for m in r["missing"]), r["missing"]
print("ok: the replay names the cgroups it could not see")
PY
fi
# Recorded outside `ip netns exec`, on the host: the memory cgroup of this test's own shell (a
# recorded process) must be in the recording, where a replay of DIR/proc reads it.
"$CONNDOCTOR" record --out "$tmp/rec-host" >/dev/null 2>&1 || { echo "FAIL: record on the host"; exit 1; }
grep -q ' - cgroup' /proc/self/mountinfo || exit 0
grep -q ' - cgroup' "$tmp/rec-host/proc/self/mountinfo" ||
  { echo "FAIL: no cgroup mounts recorded in proc/self/mountinfo"; exit 1; }
python3 - "$$" "$tmp/rec-host" <<'PY' || exit 1
import os, sys
pid, rec = sys.argv[1], sys.argv[2]
mounts = []
for line in open("/proc/self/mountinfo"):
    head, tail = line.split(" - ", 1)
    f, t = head.split(), tail.split()
    if t[0] == "cgroup" and "memory" in t[2].split(","):
        mounts.append((1, f[3], f[4]))
    elif t[0] == "cgroup2":
        mounts.append((2, f[3], f[4]))
v1 = v2 = None
for line in open("/proc/%s/cgroup" % pid):
    hid, ctl, path = line.rstrip("\n").split(":", 2)
    if "memory" in ctl.split(","):
        v1 = path
    elif hid == "0" and ctl == "":
        v2 = path
for version, path, leaf in ((1, v1, "memory.kmem.tcp.usage_in_bytes"), (2, v2, "memory.current")):
    m = [x for x in mounts if x[0] == version and x[1] == "/"]
    if not path or path == "/" or not m:
        continue
    live = m[0][2] + path + "/" + leaf
    if not os.path.exists(live):
        continue
    got = rec + live
    assert os.path.exists(got), "not recorded: " + got
    assert open(got).read() != "", "empty: " + got
    print("ok: recorded", live)
    break
else:
    print("(the holder's memory cgroup is the root or has no memory files here: nothing recorded to check)")
PY
