#!/usr/bin/env bash
# lab conntrack-full: the lab namespace's conntrack table is filled up to the global
# nf_conntrack_max with ASSURED UDP flows (count is per namespace, max is global, so the host's
# own table is not affected) until new flows are dropped. The diagnosis must say conntrack,
# critical, network, with drops; the host's max and count must be as before.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
command -v nft >/dev/null || lab_skip "nft (nftables) is not installed"
[[ -r /proc/sys/net/netfilter/nf_conntrack_max ]] || lab_skip "nf_conntrack is not loaded"
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
# src/lab/scenario_netlayer.h kConntrackFullMaxEntries: beyond it the lab refuses (memory, time).
((max <= 1048576)) || lab_skip "nf_conntrack_max is $max: filling it is beyond the lab's bound"
avail_kib=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
((avail_kib > max * 2)) || lab_skip "not enough free memory for $max conntrack entries"
host_count_before=$(cat /proc/sys/net/netfilter/nf_conntrack_count)

lab_run conntrack-full
lab_check '
ct = findings("conntrack", "critical", "network")
expect(ct, "no critical network conntrack finding")
table = [f for f in ct if f["id"] == "conntrack.table"]
expect(table, "no conntrack.table finding")
ev = table[0]["evidence"]
expect(ev["drop_per_s"] is not None and ev["drop_per_s"] > 0, "no drops measured: %s" % ev)
expect(ev["utilization"] >= 0.9, "table not past 90%%: %s" % ev["utilization"])
expect(any(f["id"] == "conntrack.unevictable" for f in r["findings"]), "ASSURED entries not explained")
res = r["resources"]["conntrack"]
expect(res["max"] == int("'"$max"'"), "max differs from the host global max")
t = res["table"]
expect(t is not None and t["assured"] >= 0.9 * t["entries"], "table not dumped or not ASSURED")
expect(any("dropped" in o for o in observed), "the generator saw no drops")
plan = table[0]["remediation"]
expect(any("Kernel memory" in s["risk"] and any("hashsize" in c for c in s["commands"]) for s in plan),
       "raising the limit without its memory cost or the hash buckets")
'
lab_assert_no_leftovers

[[ "$(cat /proc/sys/net/netfilter/nf_conntrack_max)" == "$max" ]] || {
  echo "FAIL: the host's nf_conntrack_max changed"
  exit 1
}
host_count_after=$(cat /proc/sys/net/netfilter/nf_conntrack_count)
if ((host_count_after > host_count_before + 1000)); then
  echo "FAIL: the host's conntrack count grew from $host_count_before to $host_count_after"
  exit 1
fi
if ip -o link show | grep -q cdlab-ct; then
  echo "FAIL: the lab's veth is left on the host"
  exit 1
fi
echo "ok: conntrack-full diagnosed; host max $max and count $host_count_after untouched"
