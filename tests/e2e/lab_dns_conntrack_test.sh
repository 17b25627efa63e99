#!/usr/bin/env bash
# lab dns-conntrack: client -> router (conntrack on) -> resolvers 198.19.0.2:53 / 198.19.0.3:53,
# each lookup sending its A and AAAA queries from one UDP socket at the same instant from two
# CPUs. The diagnosis in the router's namespace must report the UDP/53 entries per resolver as
# the workers counted them: 198.19.0.3 never answers (all its entries UNREPLIED), 198.19.0.2
# leaves a quarter of the first lookups unanswered. Whether the kernel dropped racing queries
# (insert_failed) or resolved the clashes (clash_resolve) is printed, and the finding's title
# must match what was measured. Nothing may remain afterwards.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
command -v nft >/dev/null || lab_skip "nft (nftables) is not installed"
command -v ip >/dev/null || lab_skip "ip (iproute2) is not installed"

host_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)
host_tables_before=$(nft list tables 2>/dev/null | sort)

lab_run dns-conntrack
lab_check '
cl = [o for o in observed if o.startswith("client lookups")]
expect(cl, "no client tally in the observations")
m = re.search(r"to 198\.19\.0\.2:53: (\d+) before the diagnosis \((\d+) answered\), (\d+) during "
              r"it \((\d+) answered\); to 198\.19\.0\.3:53: (\d+) \((\d+) answered\); (\d+) queries "
              r"failed to send", cl[0])
expect(m, "client tally not parsed: %s" % cl[0])
p1_sent2, p1_ans2, p2_sent, p2_ans, sent3, ans3, send_fail = map(int, m.groups())
expect(p1_sent2 == 600 and sent3 == 600, "phase 1 did not send 600 lookups to each resolver")
expect(send_fail == 0, "queries failed to send")
expect(ans3 == 0, "198.19.0.3 answered %d lookups" % ans3)
expect(p1_ans2 <= 450, "198.19.0.2 answered more than its policy: %d" % p1_ans2)
res = [o for o in observed if o.startswith("resolver 198.19.0.2:53")]
expect(res, "no resolver tally")
rm = re.search(r"received (\d+) queries of (\d+) lookups \((\d+) lookups with only one", res[0])
expect(rm, "resolver tally not parsed: %s" % res[0])
expect(int(rm.group(2)) == p1_sent2 + p2_sent, "resolver saw %s lookups, client sent %d" % (rm.group(2), p1_sent2 + p2_sent))

dns = [f for f in r["findings"] if f["id"] == "conntrack.dns"]
expect(dns, "no conntrack.dns finding")
f = dns[0]
expect(f["resource"] == "conntrack" and f["layer"] == "network", "resource/layer %s/%s" % (f["resource"], f["layer"]))
ev = f["evidence"]
# The rule: info from 10 % of the UDP/53 entries unreplied, warning from 50 % or on insert_failed.
want = "warning" if ev["unreplied_share"] >= 0.5 or (ev["insert_failed_per_s"] or 0) > 0 else "info"
expect(f["severity"] == want, "severity %s, want %s at share %s" % (f["severity"], want, ev["unreplied_share"]))
dests = {d["destination"]: d for d in ev["destinations"]}
d3 = dests.get("198.19.0.3:53")
d2 = dests.get("198.19.0.2:53")
expect(d3 is not None and d2 is not None, "resolvers not named: %r" % list(dests))
# 198.19.0.3 never answers: every lookup sent to it is one UNREPLIED entry (UDP timeout 30 s;
# the client keeps the socket of each lookup open, so no source port, no 5-tuple, is used twice).
expect(d3["entries"] == sent3 and d3["unreplied"] == sent3, "198.19.0.3: %r vs %d sent" % (d3, sent3))
# 198.19.0.2: the phase-1 lookups the client got no answer to, plus at most the phase-2 ones
# unanswered or in flight when the table was dumped.
unans1 = p1_sent2 - p1_ans2
expect(unans1 <= d2["unreplied"] <= unans1 + (p2_sent - p2_ans) + 2,
       "198.19.0.2 unreplied %d, client: %d unanswered before, %d of %d during" % (d2["unreplied"], unans1, p2_sent - p2_ans, p2_sent))
expect(p1_sent2 <= d2["entries"] <= p1_sent2 + p2_sent, "198.19.0.2 entries %d" % d2["entries"])
expect(ev["udp53_entries"] == d2["entries"] + d3["entries"], "udp53_entries")
expect(ev["udp53_unreplied"] == d2["unreplied"] + d3["unreplied"], "udp53_unreplied")
expect(ev["udp_timeout"] > 0 and ev["udp_timeout_stream"] > 0, "UDP timeouts not read")
table = r["resources"]["conntrack"]["table"]
expect(table["dns"]["entries"] == ev["udp53_entries"], "resources.conntrack.table.dns disagrees")
ifail = ev["insert_failed_per_s"]
clash = ev["clash_resolve_per_s"]
expect(ifail is not None, "insert_failed rate unknown: %r" % ev.get("rate_note"))
stats = r["resources"]["conntrack"]["stats"] or {}
print("kernel: insert_failed %s/s, clash_resolve %s/s during the interval; totals insert_failed=%s clashres=%s; resolver: %s lookups with one query lost"
      % (ifail, clash, stats.get("insert_failed"), stats.get("clashres"), rm.group(3)))
if ifail > 0:
    expect(f["title"].startswith("DNS lookups may stall"), "insert_failed measured, title: %s" % f["title"])
    expect(f["remediation"][0]["priority"] == "A" and "single-request-reopen" in f["remediation"][0]["action"], "plan does not start with single-request-reopen")
else:
    expect("198.19.0.3:53" in f["title"] and "never saw a reply" in f["title"], "title: %s" % f["title"])
    expect("insert failures" not in f["title"], "insert failures claimed without any measured")
acts = " ".join(s["action"] for s in f["remediation"])
expect("do not answer" in acts, "no step about the resolvers that do not answer")
'
lab_assert_no_leftovers

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
echo "ok: dns-conntrack diagnosed in the router namespace and cleaned up"
