#!/usr/bin/env bash
# `check --all-netns` reads every namespace's established-hash and bind-hash sockets in one BPF
# walk each (--netns-scan one-pass) instead of one sock_diag dump per namespace
# (per-namespace). Both must report the same thing, and the truth: in namespaces this test
# creates, each holding a known population (ESTABLISHED pairs, client-side TIME_WAIT, a
# listener, a bound-inactive socket), one namespace with its own TCP hash table
# (net.ipv4.tcp_child_ehash_entries, set inside the namespace that creates it: the walk cannot
# see that table, so that namespace must still be dumped), the socket counts per state, the
# TIME_WAIT split, the bound-inactive count, the tuple and the listener's owner are the
# population's own, in both modes.
set -u
source "$(dirname "$0")/lib.sh"
lab_require
command -v ip >/dev/null || lab_skip "ip (iproute2) is needed"
command -v nsenter >/dev/null || lab_skip "nsenter (util-linux) is needed"

prefix="cdh-onepass-$$"
pids=()
cleanup() {
  local p n
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-" || true); do
    ip netns del "$n" 2>/dev/null
  done
  rm -rf "$LAB_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A population: PAIRS established connections to its listener on loopback, then TW of them
# closed client first (client-side TIME_WAIT), and one socket bound but never connected (the
# bind hash). Holds the rest open.
population='
import socket, signal, sys
pairs, tw, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(1024)
cs, ss = [], []
for _ in range(pairs):
    c = socket.create_connection(("127.0.0.1", port)); s, _ = srv.accept(); cs.append(c); ss.append(s)
for i in range(tw):
    cs[i].close()          # the client closes first: its side ends in TIME_WAIT
    ss[i].recv(1); ss[i].close()
bound = socket.socket(); bound.bind(("127.0.0.1", 0))  # bound, never connected: bound-inactive
print("ready", flush=True)
signal.pause()
'

start_population() {  # NS PAIRS TW PORT
  local out="$LAB_TMP/$1.out"
  ip netns exec "$prefix-$1" python3 -c "$population" "$2" "$3" "$4" >"$out" 2>&1 &
  pids+=($!)
  eval "pid_$1=$!"
  for _ in $(seq 200); do grep -q ready "$out" 2>/dev/null && return 0; sleep 0.05; done
  echo "FAIL: population in $1 did not start: $(cat "$out")"
  exit 1
}

for n in a b c; do
  ip netns add "$prefix-$n" || lab_skip "ip netns add failed"
  ip -n "$prefix-$n" link set lo up
done
# d: created from inside c after c asked for 1024-bucket child tables: d owns its hash table.
ip netns exec "$prefix-c" sysctl -qw net.ipv4.tcp_child_ehash_entries=1024 ||
  lab_skip "net.ipv4.tcp_child_ehash_entries is not settable here (kernel before 6.1)"
nsenter --net="/run/netns/$prefix-c" ip netns add "$prefix-d" || lab_skip "ip netns add failed"
ip -n "$prefix-d" link set lo up
own=$(ip netns exec "$prefix-d" cat /proc/sys/net/ipv4/tcp_ehash_entries)
[[ $own -gt 0 ]] || { echo "FAIL: $prefix-d does not own its hash table ($own)"; exit 1; }

start_population a 40 10 7001
start_population b 120 30 7002
start_population c 0 0 7003
start_population d 25 5 7004

run_mode() {  # MODE -> $LAB_TMP/MODE.json
  "$CONNDOCTOR" check --all-netns --netns-scan "$1" --json --interval 0 \
    >"$LAB_TMP/$1.json" 2>"$LAB_TMP/$1.err"
  local rc=$?
  if ((rc > 2)); then
    echo "FAIL: --netns-scan $1 exited $rc: $(head -c 600 "$LAB_TMP/$1.err")"
    exit 1
  fi
}
run_mode one-pass
run_mode per-namespace

python3 - "$LAB_TMP" "$prefix" "$pid_a" "$pid_b" "$pid_d" "$pid_c" <<'PY'
import json, sys
tmp, prefix = sys.argv[1], sys.argv[2]
owners = {"a": int(sys.argv[3]), "b": int(sys.argv[4]), "c": int(sys.argv[6]), "d": int(sys.argv[5])}
# name -> (pairs, tw, port): what each population holds
truth = {"a": (40, 10, 7001), "b": (120, 30, 7002), "c": (0, 0, 7003), "d": (25, 5, 7004)}

def ours(mode):
    doc = json.load(open(f"{tmp}/{mode}.json"))
    out = {}
    for n in doc["namespaces"]:
        name = n["name"] or ""
        if name.startswith(prefix + "-"):
            assert n["report"] is not None, (mode, name, n["error"])
            out[name[len(prefix) + 1:]] = n["report"]["resources"]
    assert sorted(out) == sorted(truth), (mode, sorted(out))
    return out

views = {m: ours(m) for m in ("one-pass", "per-namespace")}
for mode, view in views.items():
    for name, (pairs, tw, port) in truth.items():
        socks = view[name]["sockets"]
        assert socks["complete"] is True, (mode, name, socks)
        st = socks["by_state"]
        # pairs - tw client sockets and as many server sockets stay ESTABLISHED
        want = {"LISTEN": 1, "ESTABLISHED": 2 * (pairs - tw), "TIME_WAIT": tw, "CLOSE": 1}
        got = {k: st.get(k, 0) for k in want}
        assert got == want, (mode, name, got, want)
        others = {k: v for k, v in st.items() if k not in want and v}
        assert not others, (mode, name, others)
        assert socks["time_wait_client"] == tw, (mode, name, socks)
        assert socks["bound_inactive"] == 1, (mode, name, socks)
        assert socks["time_wait_server"] == 0, (mode, name, socks)
        if pairs:
            tuples = view[name]["ephemeral_ports"]["tuples"]
            top = [t for t in tuples if t["destination"] == f"127.0.0.1:{port}"]
            assert len(top) == 1, (mode, name, tuples)
            # the open client sockets and the client-side TIME_WAIT hold ports of the tuple
            assert top[0]["live"] == pairs - tw, (mode, name, top[0])
            assert top[0]["time_wait"] == tw, (mode, name, top[0])
        lst = view[name]["accept_queue"]["listeners"]
        assert [l["listen"] for l in lst] == [f"127.0.0.1:{port}"], (mode, name, lst)
        if name in owners:  # attribution joined the walk's inodes with the owner's fds
            assert lst[0]["pid"] == owners[name], (mode, name, lst[0], owners[name])
    print(f"{mode}: " + ", ".join(
        f"{n}: " + str({k: v for k, v in view[n]['sockets']['by_state'].items() if v})
        for n in sorted(view)))
print("ok: one-pass and per-namespace agree with every population")
PY
