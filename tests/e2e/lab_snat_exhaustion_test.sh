#!/usr/bin/env bash
# lab snat-exhaustion: client -> NAT router -> server namespaces joined by veth pairs; the
# router masquerades to 40000-40009 and the client opens 16 connections to one server port.
# The diagnosis in the router's namespace must say snat_ports, critical, network, naming the
# destination and the NAT IP; nothing (namespaces, veths, rulesets, processes) may remain.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
command -v nft >/dev/null || lab_skip "nft (nftables) is not installed"
command -v ip >/dev/null || lab_skip "ip (iproute2) is not installed"

host_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)
host_tables_before=$(nft list tables 2>/dev/null | sort)

lab_run snat-exhaustion
lab_check '
expect(any("10 established" in o for o in observed), "the client did not get exactly 10 connections through")
snat = findings("snat_ports", "critical", "network")
expect(snat, "no critical network snat_ports finding")
ev = snat[0]["evidence"]
expect(ev["destination"] == "198.19.0.2:80", "destination not named: %s" % ev["destination"])
expect(ev["nat_ip"] == "198.19.0.1", "NAT IP not named: %s" % ev["nat_ip"])
expect(ev["in_use"] == 10 and ev["usable"] == 10, "pool is not 10 of 10: %s" % ev)
expect(ev["range_source"] == "nftables", "port range not read from the ruleset")
expect("198.19.0.2:80" in snat[0]["title"] and "198.19.0.1" in snat[0]["title"], "title")
expect(snat[0]["remediation"][0]["priority"] == "A", "plan does not start with connection reuse")
# One client behind the router: nf_nat hashes (source, destination) to the NAT IP, so more NAT
# IPs would not be used by these flows; the plan must say so rather than propose them.
expect(ev["sources"] == 1 and ev["more_sources"] is False, "sources %r" % ev.get("sources"))
acts = [s["action"] for s in snat[0]["remediation"]]
expect(any("More NAT addresses would not help" in a for a in acts), "more NAT IPs proposed for one source: %r" % acts)
expect(not any(a.startswith("Add NAT addresses") for a in acts), "Add NAT addresses step for one source")
expect(r["status"] == "critical", "status not critical")
table = r["resources"]["conntrack"]["table"]
expect(table is not None and table["snat_entries"] >= 10, "conntrack table not dumped")
'
lab_assert_no_leftovers

# The router's and the other namespaces' pieces died with them.
host_links_after=$(ip -o link show | awk -F': ' '{print $2}' | sort)
if [[ "$host_links_before" != "$host_links_after" ]]; then
  echo "FAIL: host interfaces changed:"
  diff <(echo "$host_links_before") <(echo "$host_links_after")
  exit 1
fi
if nft list tables 2>/dev/null | grep -q cdlab_; then
  echo "FAIL: a cdlab nftables table is left on the host"
  exit 1
fi
[[ "$host_tables_before" == "$(nft list tables 2>/dev/null | sort)" ]] || {
  echo "FAIL: host nftables tables changed"
  exit 1
}
echo "ok: snat-exhaustion diagnosed in the router namespace and cleaned up"
