#!/usr/bin/env bash
# The commands of the NAT and conntrack plans do what their step says, on the real kernel.
# The commands come from the real diagnosis (check on the recorded SNAT router, and lab
# conntrack-full); each runs in a namespace this test creates, and the test then checks the
# effect:
#  - SNAT "more NAT addresses" and "fully random": the existing MASQUERADE rule is replaced in
#    place, with nft and with iptables (an appended rule would never match: the old one matches
#    first), so exactly one NAT rule remains and it has the new form;
#  - conntrack timeouts: the sysctl -w commands change the namespace's timeouts;
#  - persistence: the sysctl.d, modules-load.d and modprobe.d files are written (in a private
#    mount namespace over tmpfs) and an existing modprobe.d file is left alone; modprobe reads
#    the hashsize option from them.
# Host-global commands (nf_conntrack_max, /sys/module/nf_conntrack/parameters/hashsize) are
# not run: they would change the host. Placeholders (<interface>, <N>, <T>, <C>, <H>,
# <last address>) are filled from what the test set up and what the listing commands print.
set -uo pipefail
: "${CONNDOCTOR:?path of the conndoctor binary}"
: "${FIXTURES:?path of tests/fixtures}"
source "$(dirname "$0")/skip.sh"
[[ $(id -u) -eq 0 ]] || skip_test "needs root (namespaces)"
for t in ip nft iptables unshare python3 modprobe; do
  command -v "$t" >/dev/null || skip_test "needs $t"
done
unshare -n true 2>/dev/null || skip_test "cannot create a network namespace"
[[ -e /proc/sys/net/netfilter/nf_conntrack_max ]] || modprobe nf_conntrack 2>/dev/null ||
  skip_test "nf_conntrack is not available"

tmp=$(mktemp -d)
prefix=cdtest-plan-$$
cleanup() {
  local n
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix"); do ip netns del "$n"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$CONNDOCTOR" check --interval 0 --proc-root "$FIXTURES/proc/host_6_18" \
  --sock-diag-dump "$FIXTURES/dumps/ports_exhausted.nldump" \
  --conntrack-dump "$FIXTURES/conntrack/snat_router.nfdump" --json >"$tmp/snat.json"
rc=$?
[[ $rc -le 2 ]] || { echo "FAIL: check on the SNAT fixture exited $rc"; exit 1; }
"$CONNDOCTOR" lab run conntrack-full --json >"$tmp/ct.json" 2>"$tmp/ct.err"
rc=$?
[[ $rc -le 2 ]] || { echo "FAIL: lab run conntrack-full exited $rc: $(head -c 300 "$tmp/ct.err")"; exit 1; }

PREFIX=$prefix TMP=$tmp python3 - "$tmp/snat.json" "$tmp/ct.json" <<'PY'
import json, os, re, subprocess, sys
snat = json.load(open(sys.argv[1]))
ct = json.load(open(sys.argv[2]))
prefix, tmp = os.environ["PREFIX"], os.environ["TMP"]
failed = []
def fail(msg):
    failed.append(msg)
    print("FAIL:", msg)
def sh(cmd, ns=None, check=True):
    argv = ["ip", "netns", "exec", ns, "bash", "-c", cmd] if ns else ["bash", "-c", cmd]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise RuntimeError("%r exited %d: %s" % (cmd, p.returncode, p.stderr.strip()[:300]))
    return p.stdout
def cmd_only(c):  # the command without its "# comment"
    return re.sub(r"\s+#.*$", "", c)

steps = [s for f in snat["findings"] if f["id"].startswith("snat_ports") for s in f["remediation"]]
nat_steps = [s for s in steps if any(c.startswith("nft replace rule") for c in s["commands"])]
if not nat_steps:
    fail("expected the fully-random step (and more NAT addresses where several sources share a pool)")
n = 0
for s in nat_steps:
    cmds = s["commands"]
    nft_list = next(c for c in cmds if c.startswith("nft -a list ruleset"))
    nft_repl = next(c for c in cmds if c.startswith("nft replace rule"))
    ipt_list = next(c for c in cmds if c.startswith("iptables -t nat -L"))
    ipt_repl = next(c for c in cmds if c.startswith("iptables -t nat -R"))
    if any(c.startswith("iptables -t nat -A") or c.startswith("nft add rule") for c in cmds):
        fail("a NAT step appends a rule, which never matches: %r" % cmds)
    snat_range = "snat to" in nft_repl
    # nftables
    n += 1
    ns = "%s-%d" % (prefix, n)
    sh("ip netns add " + ns)
    sh("nft add table ip nat && "
       "nft add chain ip nat postrouting '{ type nat hook postrouting priority 100; }' && "
       "nft add rule ip nat postrouting oifname cdt0 masquerade", ns)
    out = sh(cmd_only(nft_list), ns)
    m = re.search(r"masquerade # handle (\d+)", out)
    if not m:
        fail("%r did not show the rule and its handle: %r" % (nft_list, out)); continue
    c = (cmd_only(nft_repl).replace("<T>", "nat").replace("<C>", "postrouting")
         .replace("<H>", m.group(1)).replace("<interface>", "cdt0").replace("<last address>", "198.19.0.4"))
    sh(c, ns)
    rules = [l.strip() for l in sh("nft list chain ip nat postrouting", ns).splitlines() if "oifname" in l]
    want = "snat to 198.19.0.1-198.19.0.4 fully-random" if snat_range else "masquerade fully-random"
    if len(rules) != 1 or want not in rules[0]:
        fail("nft: after %r the chain holds %r, want one rule with %r" % (c, rules, want))
    else:
        print("ok: nft step replaced the rule:", rules[0])
    # iptables (nf_tables flavour)
    n += 1
    ns = "%s-%d" % (prefix, n)
    sh("ip netns add " + ns)
    sh("iptables -t nat -A POSTROUTING -o cdt0 -j MASQUERADE", ns)
    out = sh(cmd_only(ipt_list), ns)
    m = re.search(r"^(\d+)\s+MASQUERADE", out, re.M)
    if not m:
        fail("%r did not number the MASQUERADE rule: %r" % (ipt_list, out)); continue
    c = (cmd_only(ipt_repl).replace("<N>", m.group(1)).replace("<interface>", "cdt0")
         .replace("<last address>", "198.19.0.4"))
    sh(c, ns)
    rules = [l for l in sh("iptables -t nat -S POSTROUTING", ns).splitlines() if l.startswith("-A")]
    want = ["--random-fully"] + (["-j SNAT", "--to-source 198.19.0.1-198.19.0.4"] if snat_range else ["-j MASQUERADE"])
    if len(rules) != 1 or not all(w in rules[0] for w in want):
        fail("iptables: after %r the chain holds %r, want one rule with %r" % (c, rules, want))
    else:
        print("ok: iptables step replaced the rule:", rules[0])

# conntrack timeouts: per namespace, so they can run here for real.
tsteps = [s for s in steps if any(c.startswith("sysctl -w net.netfilter.nf_conntrack_tcp_timeout") for c in s["commands"])]
if not tsteps:
    fail("no conntrack timeout step in the SNAT fixture's plan")
else:
    n += 1
    ns = "%s-%d" % (prefix, n)
    sh("ip netns add " + ns)
    sh("nft add table ip cdt && nft add chain ip cdt out '{ type filter hook output priority 0; }' && nft add rule ip cdt out ct state new counter", ns)
    for c in tsteps[0]["commands"]:
        m = re.match(r"sysctl -w (\S+)=(\d+)", c)
        if not m: continue
        sh(cmd_only(c), ns)
        got = sh("sysctl -n " + m.group(1), ns).strip()
        if got != m.group(2): fail("%s is %s after %r" % (m.group(1), got, c))
        else: print("ok:", m.group(1), "=", got)

# persistence files: in a private mount namespace over tmpfs, an admin's file already there.
size = [s for f in ct["findings"] if f["id"] == "conntrack.table" for s in f["remediation"]
        if any("nf_conntrack_max" in c for c in s["commands"])]
if not size:
    fail("lab conntrack-full gave no conntrack size step: %r" % [f["id"] for f in ct["findings"]])
else:
    cmds = [cmd_only(c) for c in size[0]["commands"] + tsteps[0]["commands"] if c.startswith("echo ") and " > /etc/" in c]
    hs = re.search(r"hashsize=(\d+)", " ".join(cmds))
    script = ["set -e",
              "for d in /etc/modprobe.d /etc/modules-load.d /etc/sysctl.d; do mkdir -p $d; mount -t tmpfs cdt $d; done",
              "echo 'options nf_conntrack expect_hashsize=1024   # the admin' > /etc/modprobe.d/nf_conntrack.conf"]
    script += cmds
    script += ["cat /etc/modprobe.d/nf_conntrack.conf", "echo ---",
               "cat /etc/modules-load.d/*.conf", "echo ---",
               "modprobe -c | grep '^options nf_conntrack' || true", "echo ---",
               "cat /etc/sysctl.d/*.conf"]
    out = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", "\n".join(script)],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        fail("persistence commands failed: %s" % out.stderr.strip()[:300])
    else:
        admin, modload, opts, sysd = out.stdout.split("---\n")
        if "expect_hashsize=1024" not in admin: fail("the admin's modprobe.d file was overwritten: %r" % admin)
        if "nf_conntrack" not in modload: fail("nf_conntrack is not loaded at boot: %r" % modload)
        if not hs or ("options nf_conntrack hashsize=" + hs.group(1)) not in opts:
            fail("modprobe does not see the hashsize option: %r" % opts)
        if "net.netfilter.nf_conntrack_max = " not in sysd: fail("nf_conntrack_max not persisted: %r" % sysd)
        if not failed: print("ok: persisted; admin file kept; modprobe sees", opts.strip().splitlines())
sys.exit(1 if failed else 0)
PY
