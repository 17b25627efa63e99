#!/usr/bin/env bash
# lab bind-shared-pool: a connect()-only client holds 1,500 connections to 10 destinations in a
# 1,000-port range (150 each: far from any tuple's pool, ports shared across destinations); a
# bind-before-connect client (cdlab-binder) then binds 127.0.0.1:0 and connects until bind()
# fails with EADDRINUSE, and a plain connect() still succeeds. inet_csk_find_open_port()
# rejects every port held on 127.0.0.1, whatever the destination: the bind pool of 127.0.0.1
# is full while no tuple is. The diagnosis must say so for that address (critical: the binder's
# ports sit on bind()'s parity in tuples below half their pool), name the binder, and raise no
# tuple finding. With --trace, the EADDRINUSE failures it counted must equal the binder's own.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run bind-shared-pool
lab_check '
m = [re.search(r"bind\(127\.0\.0\.1, 0\) failed ([\d,]+) times with EADDRINUSE, after ([\d,]+) successful binds", o) for o in observed]
m = [x for x in m if x]
expect(m, "the binder did not say that bind() failed with EADDRINUSE")
failed, binds = int(m[0].group(1).replace(",", "")), int(m[0].group(2).replace(",", ""))
expect(failed > 0, "no EADDRINUSE measured")
expect(any("a plain connect() to 127.0.0.2:8080 (no bind) still succeeded" in o for o in observed),
       "a plain connect() did not succeed while bind() failed")
expect(any("1,500 succeeded" in o for o in observed), "the connect()-only client did not hold 1,500 connections")
pools = r["resources"]["ephemeral_ports"]["bind_pools"]
lo = [p for p in pools if p["address"] == "127.0.0.1"]
expect(lo, "no bind pool for 127.0.0.1: %r" % pools)
# What bind() really met: every port of the range held on 127.0.0.1.
expect(lo[0]["ports_in_use"] == lo[0]["usable"] == 1000, "bind pool of 127.0.0.1: %r" % lo[0])
expect(lo[0]["sockets"] >= 1500 + binds, "sockets on 127.0.0.1 %r < 1,500 + %d" % (lo[0]["sockets"], binds))
expect(not findings("ephemeral_ports") or all(f["id"] != "ephemeral_ports.tuple" for f in r["findings"]),
       "a tuple finding fired, though every tuple is far below its pool")
hw = [f for f in r["findings"] if f["id"] == "ephemeral_ports.host_wide"]
expect(len(hw) == 1, "one ephemeral_ports.host_wide finding, not %d" % len(hw))
ev = hw[0]["evidence"]
expect(ev["local_address"] == "127.0.0.1", "local_address %r" % ev["local_address"])
expect(hw[0]["severity"] == "critical", "severity %r" % hw[0]["severity"])
expect("bind_parity" in ev["bind_evidence"], "bind_evidence %r" % ev["bind_evidence"])
expect(ev["ports_in_use"] == 1000 and ev["utilization"] == 1.0, "pool %r/%r" % (ev["ports_in_use"], ev["utilization"]))
expect(ev["hottest_tuple_utilization"] < 0.5, "hottest tuple at %r" % ev["hottest_tuple_utilization"])
binder = [w["pid"] for w in r["lab"]["workers"] if w["comm"] == "cdlab-binder"]
expect(len(binder) == 1, "one cdlab-binder among the workers: %r" % r["lab"]["workers"])
expect(ev["pid"] == binder[0] and ev["comm"] == "cdlab-binder",
       "named %r (%r), binder pid %r" % (ev["pid"], ev["comm"], binder[0]))
expect(any("IP_BIND_ADDRESS_NO_PORT" in s["action"] for s in hw[0]["remediation"]), "no IP_BIND_ADDRESS_NO_PORT step")
print("ok: binder failed %d times after %d binds; %s" % (failed, binds, hw[0]["title"]))
'
lab_assert_no_leftovers

# With --trace: the bind() failures counted in the kernel, merged into the finding.
if [[ -r /sys/kernel/btf/vmlinux ]] && command -v bpftool >/dev/null; then
  lab_run bind-shared-pool --trace
  lab_check '
expect(r.get("trace") is not None, "not traced: %r" % [m for m in r["missing"] if "trace" in m])
m = [re.search(r"failed ([\d,]+) times with EADDRINUSE", o) for o in observed]
m = [x for x in m if x]
expect(m, "the binder did not report its failures")
failed = int(m[0].group(1).replace(",", ""))
hw = [f for f in r["findings"] if f["id"] == "ephemeral_ports.host_wide"]
expect(len(hw) == 1 and hw[0]["severity"] == "critical", "no critical host_wide finding")
ev = hw[0]["evidence"]
binder = [w["pid"] for w in r["lab"]["workers"] if w["comm"] == "cdlab-binder"][0]
got = [p for p in ev["traced_eaddrinuse"] if p["pid"] == binder]
expect(got and got[0]["comm"] == "cdlab-binder", "traced_eaddrinuse %r" % ev["traced_eaddrinuse"])
expect(got[0]["count"] == failed, "traced %d EADDRINUSE for the binder, it counted %d" % (got[0]["count"], failed))
expect(ev["pid"] == binder and ev["owner_basis"] == "traced", "owner %r (%r)" % (ev["pid"], ev["owner_basis"]))
expect("traced_eaddrinuse" in ev["bind_evidence"], "bind_evidence %r" % ev["bind_evidence"])
print("ok (traced): %s" % hw[0]["title"])
'
  lab_assert_no_leftovers
fi
