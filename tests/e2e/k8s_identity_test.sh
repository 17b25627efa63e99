#!/usr/bin/env bash
# Pods and containers named on real findings. Two "pods" are laid out the way a node runs them:
# a network namespace per pod, a sandbox process and an app process in it, each moved into a
# cgroup with the kubelet's path layout (containerd + systemd driver on the cgroup v1 `pids`
# hierarchy; CRI-O + systemd driver on cgroup v2 where it is mounted), and the runtime's state
# (the OCI bundles' config.json) laid out under a temporary runtime root as containerd and
# CRI-O write it. The app process exhausts the ephemeral ports of its namespace and nearly
# all of its own fds (a real exhaustion). Asserted on what `conndoctor check` prints: the
# pod, its namespace and the container on the findings (text and JSON), the pod of each
# namespace in the --all-netns table, where the container's fd limit came from, and the
# container id alone (and `missing`) when the runtime's state is not where it looks.
# Cgroups, namespaces and processes are removed on every exit (trap).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/skip.sh"
: "${CONNDOCTOR:?path of the conndoctor binary}"
TOOLS_DIR=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
[[ -x "$CONNDOCTOR" ]] || skip_test "no conndoctor binary at $CONNDOCTOR"
[[ $(id -u) -eq 0 ]] || skip_test "needs root (network namespaces, cgroups)"
command -v python3 >/dev/null || skip_test "python3 is needed to read the JSON report"
command -v prlimit >/dev/null || skip_test "no prlimit (util-linux)"
[[ -x "$TOOLS_DIR/cdtool-portfill" ]] || skip_test "cdtool-portfill not built"
ip netns add "cdh-k8s-probe-$$" 2>/dev/null || skip_test "cannot create a network namespace here"
ip netns del "cdh-k8s-probe-$$"

fail() {
  echo "FAIL: $*"
  exit 1
}

tag=cdh-k8s-$$
T=$(mktemp -d)
PIDS=()
CGROUPS=()  # top directories of what the test created, removed deepest first
NETNS=()

cleanup() {
  local pid d
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for d in "${CGROUPS[@]}"; do
    [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [[ -d "$d" ]] && echo "warning: cgroup $d left behind"
  done
  for d in "${NETNS[@]}"; do ip netns del "$d" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# A fresh 64-digit container id.
new_id() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# cgroup v1 pids hierarchy (writable here) and cgroup v2 (at /sys/fs/cgroup or, hybrid,
# /sys/fs/cgroup/unified).
V1=""
if grep -qE '^[^ ]+ /sys/fs/cgroup/pids cgroup ' /proc/mounts && mkdir "/sys/fs/cgroup/pids/$tag" 2>/dev/null; then
  V1=/sys/fs/cgroup/pids
  CGROUPS+=("$V1/$tag")
fi
V2=""
for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
  if grep -qE "^[^ ]+ $m cgroup2 " /proc/mounts && mkdir "$m/$tag" 2>/dev/null; then
    V2=$m
    CGROUPS+=("$V2/$tag")
    break
  fi
done
[[ -n "$V1" || -n "$V2" ]] || skip_test "no writable cgroup hierarchy (v1 pids or v2)"

# start_pod NETNS SANDBOX_CGROUP APP_CGROUP SOFT_LIMIT: a namespace with 40 ephemeral ports, a
# sandbox ("pause") process and the app (cdtool-portfill under a soft fd limit), each moved
# into its cgroup. Sets SANDBOX_PID and APP_PID.
start_pod() {
  local ns=$1 sandbox_cg=$2 app_cg=$3 soft=$4
  ip netns add "$ns" || fail "ip netns add $ns"
  NETNS+=("$ns")
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="40000 40039" || fail "port range"
  mkdir -p "$sandbox_cg" "$app_cg" || fail "mkdir cgroups"
  ip netns exec "$ns" sleep 170 &
  SANDBOX_PID=$!
  PIDS+=("$SANDBOX_PID")
  echo "$SANDBOX_PID" >"$sandbox_cg/cgroup.procs" || fail "move the sandbox into $sandbox_cg"
  rm -f "$T/$ns.ready"
  ip netns exec "$ns" prlimit --nofile="$soft:4096" "$TOOLS_DIR/cdtool-portfill" \
    --target 127.0.0.1:8080 --hold 160 --ready-file "$T/$ns.ready" >"$T/$ns.log" 2>&1 &
  APP_PID=$!
  PIDS+=("$APP_PID")
  echo "$APP_PID" >"$app_cg/cgroup.procs" || fail "move the app into $app_cg"
  for _ in $(seq 100); do [[ -s "$T/$ns.ready" ]] && break; sleep 0.1; done
  [[ -s "$T/$ns.ready" ]] || fail "the app of $ns did not start: $(cat "$T/$ns.log")"
}

# OCI config.json as the runtimes write it (trimmed): annotations and process.rlimits.
write_config() {  # PATH KIND(containerd|crio) TYPE(sandbox|container) POD NAMESPACE NAME ID SANDBOX_ID [SOFT HARD]
  mkdir -p "$(dirname "$1")"
  python3 - "$@" <<'PY'
import json, sys
path, kind, ctype, pod, ns, name, cid, sid = sys.argv[1:9]
rl = sys.argv[9:11]
if kind == "containerd":
    a = {"io.kubernetes.cri.container-type": ctype, "io.kubernetes.cri.sandbox-id": sid,
         "io.kubernetes.cri.sandbox-name": pod, "io.kubernetes.cri.sandbox-namespace": ns,
         "io.kubernetes.cri.sandbox-uid": "8c4e2a6b-1f3d-4e5a-9b7c-0d2e4f6a8b1c"}
    if ctype == "container":
        a["io.kubernetes.cri.container-name"] = name
        a["io.kubernetes.cri.image-name"] = "registry.example/" + name + ":1"
else:
    a = {"io.container.manager": "cri-o", "io.kubernetes.container.name": name,
         "io.kubernetes.cri-o.ContainerID": cid, "io.kubernetes.cri-o.ContainerType": ctype,
         "io.kubernetes.cri-o.SandboxID": sid, "io.kubernetes.pod.name": pod,
         "io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.uid": "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"}
proc = {"user": {"uid": 0, "gid": 0}, "args": ["/pause"] if ctype == "sandbox" else ["/app"],
        "env": ["PATH=/usr/bin:/bin"], "cwd": "/"}
if rl:
    proc["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": int(rl[1]), "soft": int(rl[0])}]
spec = {"ociVersion": "1.1.0", "process": proc, "root": {"path": "rootfs"},
        "annotations": a, "linux": {"namespaces": [{"type": "network"}]}}
json.dump(spec, open(path, "w"), indent=2)
PY
}

SOFT=90
checks=0

# --- pod A: containerd, systemd driver, cgroup v1 ------------------------------------------
if [[ -n "$V1" ]]; then
  S=$(new_id) C=$(new_id)
  uid=8c4e2a6b_1f3d_4e5a_9b7c_0d2e4f6a8b1c
  base=$V1/$tag/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$uid.slice
  start_pod "$tag-a" "$base/cri-containerd-$S.scope" "$base/cri-containerd-$C.scope" "$SOFT"
  A_APP=$APP_PID
  R=$T/containerd/io.containerd.runtime.v2.task/k8s.io
  write_config "$R/$S/config.json" containerd sandbox checkout-7f9c shop "" "$S" "$S"
  write_config "$R/$C/config.json" containerd container checkout-7f9c shop app "$C" "$S" "$SOFT" 4096
  grep -q "cri-containerd-$C.scope" "/proc/$A_APP/cgroup" || fail "the app is not in its cgroup"

  "$CONNDOCTOR" check --netns "$tag-a" --interval 0 --json --runtime-root "$R" \
    >"$T/a.json" 2>"$T/a.err"
  rc=$?
  ((rc <= 2)) || fail "check exited $rc: $(cat "$T/a.err")"
  python3 - "$T/a.json" "$A_APP" "$C" "$SOFT" <<'PY' || fail "pod A, JSON"
import json, sys
d = json.load(open(sys.argv[1])); app = int(sys.argv[2]); cid = sys.argv[3]; soft = sys.argv[4]
by_id = {}
for f in d["findings"]:
    by_id.setdefault(f["id"], []).append(f)
print("findings:", sorted(by_id))
ports = [f for f in d["findings"] if f["resource"] == "ephemeral_ports" and f["evidence"].get("pid") == app]
assert ports, "no ephemeral port finding owned by the app"
fds = [f for f in by_id.get("file_descriptors.process", []) if f["evidence"]["pid"] == app]
assert fds, "no fd finding for the app"
for f in ports + fds:
    ev = f["evidence"]
    assert ev["pod"] == "checkout-7f9c", ev
    assert ev["pod_namespace"] == "shop", ev
    assert ev["container"] == "app", ev
    assert ev["container_id"] == cid, ev
src = fds[0]["evidence"]["soft_limit_source"]
assert src.startswith("the container's default: RLIMIT_NOFILE soft " + soft), src
assert "/" + cid + "/config.json" in src, src
assert "in shop/checkout-7f9c (container app)" in fds[0]["title"], fds[0]["title"]
procs = [p for p in d["resources"]["file_descriptors"]["processes"] if p["pid"] == app]
assert procs and procs[0]["pod"] == "checkout-7f9c" and procs[0]["container"] == "app", procs
print("pod A (containerd, cgroup v1): JSON ok:", fds[0]["title"])
PY
  "$CONNDOCTOR" check --netns "$tag-a" --interval 0 --color never --runtime-root "$R" \
    >"$T/a.txt" 2>&1
  python3 - "$T/a.txt" "$A_APP" <<'PY' || fail "pod A, text: $(cat "$T/a.txt")"
import re, sys
raw = open(sys.argv[1]).read(); app = sys.argv[2]
text = re.sub(r"\s+", " ", raw)  # the report wraps long lines
who = "shop/checkout-7f9c (container app)"
assert "[CRITICAL] pid %s (cdtool-portfill) in %s: " % (app, who) in text, "no fd finding title"
assert re.search(r"^    pod: shop/checkout-7f9c \(container app\)$", raw, re.M), "no pod line"
assert "cdtool-portfill[%s] %s" % (app, who) in text, "the fds line does not name the pod"
PY
  echo "pod A: text ok"

  # The runtime's state is not where it looks: the container id alone, and `missing` says why.
  mkdir -p "$T/elsewhere"
  "$CONNDOCTOR" check --netns "$tag-a" --interval 0 --json --runtime-root "$T/elsewhere" \
    >"$T/a-missing.json" 2>&1
  python3 - "$T/a-missing.json" "$A_APP" "$C" <<'PY' || fail "pod A without runtime state"
import json, sys
d = json.load(open(sys.argv[1])); app = int(sys.argv[2]); cid = sys.argv[3]
fds = [f for f in d["findings"] if f["id"] == "file_descriptors.process" and f["evidence"]["pid"] == app]
assert fds, "no fd finding"
ev = fds[0]["evidence"]
assert ev["pod"] is None and ev["pod_namespace"] is None, ev
assert ev["container"] == cid[:12] and ev["container_id"] == cid, ev
assert "soft_limit_source" not in ev, ev
m = [l for l in d["missing"] if "container ids only" in l]
# Both processes of the pod (sandbox and app) are in containers whose state is elsewhere.
assert m and "names of 2 processes in containers unknown" in m[0], d["missing"]
assert ": no config.json for it under the runtime roots" in m[0] and "/elsewhere" in m[0], m
print("pod A without its runtime state:", m[0])
PY
  checks=$((checks + 1))
else
  echo "(no writable cgroup v1 pids hierarchy: the containerd pod is not checked)"
fi

# --- pod B: CRI-O, systemd driver, cgroup v2 -----------------------------------------------
if [[ -n "$V2" ]]; then
  RS=$(new_id) RC=$(new_id)
  uid=1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d
  base=$V2/$tag/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$uid.slice
  # crun puts the process one level below CRI-O's scope.
  start_pod "$tag-b" "$base/crio-$RS.scope/container" "$base/crio-$RC.scope/container" 4096
  B_APP=$APP_PID
  CR=$T/containers/storage/overlay-containers
  write_config "$CR/$RS/userdata/config.json" crio sandbox cart-5d8b store POD "$RS" "$RS"
  write_config "$CR/$RC/userdata/config.json" crio container cart-5d8b store worker "$RC" "$RS"
  "$CONNDOCTOR" check --netns "$tag-b" --interval 0 --json --runtime-root "$CR" \
    >"$T/b.json" 2>"$T/b.err"
  rc=$?
  ((rc <= 2)) || fail "check exited $rc: $(cat "$T/b.err")"
  python3 - "$T/b.json" "$B_APP" "$RC" <<'PY' || fail "pod B, JSON"
import json, sys
d = json.load(open(sys.argv[1])); app = int(sys.argv[2]); cid = sys.argv[3]
ports = [f for f in d["findings"] if f["resource"] == "ephemeral_ports" and f["evidence"].get("pid") == app]
assert ports, "no ephemeral port finding owned by the app: %s" % [f["id"] for f in d["findings"]]
ev = ports[0]["evidence"]
assert (ev["pod"], ev["pod_namespace"], ev["container"], ev["container_id"]) == ("cart-5d8b", "store", "worker", cid), ev
print("pod B (CRI-O, cgroup v2): JSON ok:", ports[0]["title"])
PY
  checks=$((checks + 1))
else
  echo "(no writable cgroup v2: the CRI-O pod is not checked)"
fi

# --- every namespace: the pod whose sandbox holds it ---------------------------------------
roots=()
[[ -n "$V1" ]] && roots+=(--runtime-root "$T/containerd/io.containerd.runtime.v2.task/k8s.io")
[[ -n "$V2" ]] && roots+=(--runtime-root "$T/containers/storage/overlay-containers")
"$CONNDOCTOR" check --all-netns --interval 0 --json "${roots[@]}" >"$T/all.json" 2>"$T/all.err"
rc=$?
((rc <= 2)) || fail "check --all-netns exited $rc: $(cat "$T/all.err")"
python3 - "$T/all.json" "$tag" "${V1:+a}" "${V2:+b}" <<'PY' || fail "--all-netns JSON"
import json, sys
d = json.load(open(sys.argv[1])); tag = sys.argv[2]
want = {"a": ("checkout-7f9c", "shop"), "b": ("cart-5d8b", "store")}
by_name = {n["name"]: n for n in d["namespaces"] if n["name"]}
for k in sys.argv[3:]:
    if not k:
        continue
    n = by_name.get(tag + "-" + k)
    assert n, "namespace %s-%s not listed" % (tag, k)
    assert (n["pod"], n["pod_namespace"]) == want[k], n
    assert n["container_id"], n
cur = [n for n in d["namespaces"] if n["current"]][0]
assert cur["pod"] is None and cur["container"] is None, cur
print("--all-netns JSON ok")
PY
"$CONNDOCTOR" check --all-netns --interval 0 --color never "${roots[@]}" >"$T/all.txt" 2>&1
if [[ -n "$V1" ]]; then
  grep -E "^[a-z]+ +$tag-a shop/checkout-7f9c \(pod sandbox\) " "$T/all.txt" ||
    fail "--all-netns table: $(grep "$tag" "$T/all.txt")"
fi
if [[ -n "$V2" ]]; then
  grep -E "^[a-z]+ +$tag-b store/cart-5d8b \(pod sandbox\) " "$T/all.txt" ||
    fail "--all-netns table: $(grep "$tag" "$T/all.txt")"
fi
((checks == 2)) || skip_test "only $checks of the 2 cgroup layouts could be checked here"
echo "ok: pods and containers named on real findings (cgroup v1 and v2, containerd and CRI-O layouts)"
