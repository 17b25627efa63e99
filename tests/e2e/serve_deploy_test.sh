#!/usr/bin/env bash
# The deployment files hold what they claim.
# - The capabilities in the systemd unit are the ones needed, and both of them are needed:
#   as nobody, with setpriv, `check` attributes another user's listener to its process only
#   with CAP_DAC_READ_SEARCH plus CAP_SYS_PTRACE. Fd counts need neither.
# - The unit passes `systemd-analyze verify`.
# - The DaemonSet asks for the same capabilities, the host namespaces, limits and probes.
# - The Grafana dashboard is valid JSON.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/serve_lib.sh"
SOURCE_DIR=${SOURCE_DIR:-$(cd "$here/../.." && pwd)}
TOOLS_DIR=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
unit=$SOURCE_DIR/deploy/systemd/conndoctor.service
daemonset=$SOURCE_DIR/deploy/kubernetes/conndoctor-daemonset.yaml
dashboard=$SOURCE_DIR/deploy/grafana/conndoctor-dashboard.json
command -v setpriv >/dev/null || serve_skip "no setpriv (util-linux)"
command -v python3 >/dev/null || serve_skip "python3 is needed to read the JSON report"
[[ -x "$TOOLS_DIR/cdtool-portfill" ]] || serve_skip "cdtool-portfill not built"
serve_in_netns "$@"

# The unit's capabilities, e.g. "dac_read_search sys_ptrace net_admin".
unit_caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_//g')
[[ "$unit_caps" == *dac_read_search* && "$unit_caps" == *sys_ptrace* ]] ||
  serve_fail "the unit does not grant what attribution needs: $unit_caps"

# Another user's process with a listening socket and its connections.
echo "40000 40009" >/proc/sys/net/ipv4/ip_local_port_range
mkdir -m 1777 "$SERVE_TMP/shared"
chmod 755 "$SERVE_TMP"
setpriv --reuid=1000 --regid=1000 --clear-groups "$TOOLS_DIR/cdtool-portfill" \
  --target 127.0.0.1:8080 --hold 60 --ready-file "$SERVE_TMP/shared/ready" >/dev/null 2>&1 &
SERVE_PIDS+=($!)
owner=$!
for _ in $(seq 50); do [[ -s "$SERVE_TMP/shared/ready" ]] && break; sleep 0.1; done
[[ -s "$SERVE_TMP/shared/ready" ]] || serve_fail "the other user's process did not start"

# check_as CAPS: `check --json` as nobody with exactly these ambient capabilities; prints
# "<pid owning 127.0.0.1:8080 or None> <open fds of that process or None>".
check_as() {
  local caps=() c
  for c in $1; do caps+=("+$c"); done
  local list
  list=$(IFS=,; echo "${caps[*]}")
  local opts=()
  [[ -n "$list" ]] && opts=(--inh-caps="$list" --ambient-caps="$list")
  setpriv --reuid=65534 --regid=65534 --clear-groups "${opts[@]}" \
    "$CONNDOCTOR" check --json --interval 0 >"$SERVE_TMP/check.json" 2>"$SERVE_TMP/check.err"
  python3 - "$SERVE_TMP/check.json" "$owner" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
pid = None
for l in d["resources"]["accept_queue"]["listeners"]:
    if l["listen"] == "127.0.0.1:8080":
        pid = l["pid"]
fds = None
for p in d["resources"]["file_descriptors"]["processes"]:
    if p["pid"] == int(sys.argv[2]):
        fds = p["open"]
print(pid, fds)
EOF
}

for caps in "" "sys_ptrace" "dac_read_search" "dac_read_search sys_ptrace" "$unit_caps"; do
  got=$(check_as "$caps") || serve_fail "check as nobody (+${caps:-none}) failed: $(cat "$SERVE_TMP/check.err")"
  read -r pid fds <<<"$got"
  echo "nobody +${caps:-no capabilities}: listener owner=$pid, owner's open fds=$fds"
  [[ "$fds" != None && "$fds" -gt 0 ]] || serve_fail "fd count unreadable with +${caps:-none}"
  if [[ "$caps" == *dac_read_search* && "$caps" == *sys_ptrace* ]]; then
    [[ "$pid" == "$owner" ]] || serve_fail "attribution failed with +$caps"
  else
    [[ "$pid" == None ]] || serve_fail "attribution worked with only +${caps:-none}: the unit grants more than needed"
  fi
done

# The unit is well formed (where systemd's analyzer exists).
if command -v systemd-analyze >/dev/null; then
  sed "s#/usr/local/bin/conndoctor#$CONNDOCTOR#" "$unit" >"$SERVE_TMP/conndoctor.service"
  if ! out=$(systemd-analyze verify "$SERVE_TMP/conndoctor.service" 2>&1) || [[ -n "$out" ]]; then
    serve_fail "systemd-analyze verify: $out"
  fi
  # Least privilege, measured: the unit's exposure score must stay "OK" or better (<= 3.0).
  score=$(systemd-analyze security --offline=true "$SERVE_TMP/conndoctor.service" 2>&1 |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  [[ -n $score ]] || serve_fail "systemd-analyze security printed no exposure level"
  awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || serve_fail "exposure $score > 3.0"
  echo "systemd-analyze security: exposure $score"
else
  skip_check "systemd-analyze verify and security of the unit (no systemd-analyze)"
fi
python3 -c "import yaml" 2>/dev/null || skip_check "the DaemonSet (no python3-yaml)"

# The DaemonSet and the dashboard.
python3 - "$daemonset" "$dashboard" "$unit_caps" "$SOURCE_DIR/src/collect/container_identity.cpp" <<'EOF' || serve_fail "deployment files"
import json, sys
json.load(open(sys.argv[2]))
try:
    import yaml
except ImportError:
    sys.exit(0)  # said above: skip_check
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ds = next(d for d in docs if d["kind"] == "DaemonSet")
spec = ds["spec"]["template"]["spec"]
assert spec["hostNetwork"] is True and spec["hostPID"] is True, "host namespaces"
c = spec["containers"][0]
sc = c["securityContext"]
assert sc["capabilities"]["drop"] == ["ALL"], "drop ALL"
want = sorted(x.upper() for x in sys.argv[3].split())
assert sorted(sc["capabilities"]["add"]) == want, f"caps {sc['capabilities']['add']} != unit {want}"
assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
assert c["resources"]["limits"]["memory"] and c["resources"]["limits"]["cpu"]
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"
assert spec["volumes"][0]["secret"]["defaultMode"] == 0o400
# Identity: every process's cgroup (hostPID, above) and the runtimes' bundles, read-only, at
# the node's own paths (the --runtime-root defaults), and never a runtime's API socket.
mounts = {m["name"]: m for m in c["volumeMounts"]}
host = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
want_state = {"/run/containerd/io.containerd.runtime.v2.task",
              "/run/containers/storage/overlay-containers"}
assert set(host.values()) == want_state, f"hostPath mounts {sorted(host.values())}"
for name, path in host.items():
    m = mounts[name]
    assert m["readOnly"] is True, f"{path} is not mounted read-only"
    assert m["mountPath"] == path, f"{path} mounted at {m['mountPath']}, not where the defaults look"
import re
src = open(sys.argv[4]).read()
body = src[src.index("default_runtime_roots() {"):]
defaults = re.findall(r'"(/[^"]+)"', body[:body.index("};")])
assert defaults, "no default runtime roots found in the source"
for path in host.values():
    assert any(d == path or d.startswith(path + "/") for d in defaults), \
        f"{path} is not under a default runtime root {defaults}"
print("DaemonSet ok")
EOF
skip_partial_end
echo "ok: capabilities measured, unit and manifests consistent"
