// The people report: the verdict in one line, a compact overview of every resource, then
// each finding with its evidence and ordered plan, then what could not be read.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "render/report.h"
#include "util/format.h"
#include "util/i18n.h"
#include "util/text_style.h"

namespace cd {

namespace {

constexpr std::size_t kWidth = 96;
constexpr std::size_t kTopTuples = 5;
constexpr std::size_t kTopProcesses = 3;
constexpr std::size_t kTopListeners = 3;
constexpr const char* kLabelPad = "               ";  // continuation under a label

Tone tone_of(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return Tone::kInfo;
    case Severity::kWarning:
      return Tone::kWarning;
    case Severity::kCritical:
      return Tone::kCritical;
  }
  return Tone::kPlain;
}

std::string label(std::string_view name) {
  return fmt::format("  {:<13}", name);
}

std::string rate(std::optional<double> r) {
  return r ? fmt_num(*r) + "/s" : "?/s";
}

// "5000 of 131072 buckets (3.8%)"
std::string of(std::optional<int64_t> used, std::optional<int64_t> limit,
               std::string_view unit = "") {
  std::string s =
      _f("{0} of {1}{2}{3}", fmt_opt(used), fmt_opt(limit), unit.empty() ? "" : " ", unit);
  if (used && limit && *limit > 0) s += fmt::format(" ({})", fmt_pct(double(*used) / *limit));
  return s;
}

const ProcessInfo* process_of(const Reading& r, int32_t pid) {
  for (const ProcessInfo& p : r.processes)
    if (p.pid == pid) return &p;
  return nullptr;
}

void sockets_section(const Reading& r, std::string& out) {
  const SocketSummary& s = r.sockets;
  if (!s.complete) {
    out +=
        label(_("sockets")) + _("unknown (the socket dump did not complete)") + std::string("\n");
    return;
  }
  // Most common states first in a fixed order, like `ss -s`; then anything else non-zero.
  static constexpr TcpState kOrder[] = {
      TcpState::kEstablished, TcpState::kTimeWait, TcpState::kCloseWait, TcpState::kListen,
      TcpState::kSynSent,     TcpState::kSynRecv,  TcpState::kFinWait1,  TcpState::kFinWait2,
      TcpState::kLastAck,     TcpState::kClosing,  TcpState::kClose,     TcpState::kNewSynRecv};
  std::vector<std::string> parts;
  for (TcpState st : kOrder) {
    uint64_t n = s.by_state[int(st)];
    if (n == 0 && st != TcpState::kEstablished && st != TcpState::kTimeWait) continue;
    std::string part = fmt::format("{} {}", tcp_state_name(int(st)), n);
    if (st == TcpState::kTimeWait)
      part += _f(" (client {0}, server {1}, other {2})", s.time_wait_client, s.time_wait_server,
                 s.time_wait_other);
    parts.push_back(std::move(part));
  }
  parts.front() = fmt::format("{0} TCP: {1}", s.total, parts.front());
  out += wrap_items(parts, ", ", kWidth, label(_("sockets")), kLabelPad) + "\n";
}

std::string forecast(const TupleStat& t) {
  if (t.seconds_to_exhaustion) return fmt_duration(*t.seconds_to_exhaustion);
  return t.new_per_s ? _("stable") : "?";
}

void ports_section(const Reading& r, const PortAnalysis& p, bool verbose, std::string& out) {
  if (!p.known) {
    out += label(_("ports")) + _("unknown (port range or socket dump missing)") + std::string("\n");
    return;
  }
  out += label(_("ports")) + _f("range {0}-{1}: {2} usable per destination ({3} reserved, {4} "
                                "bound in range)\n",
                                p.range.lo, p.range.hi, p.usable_per_tuple, p.reserved_in_range,
                                p.bound_in_range);
  if (p.bound_inactive_in_range > 0)
    out += kLabelPad + _f("{0} of the bound ports held by sockets bound, not connected\n",
                          p.bound_inactive_in_range);
  std::string udp = r.sockets.udp_complete ? std::to_string(p.host_udp_ports_in_use) : "?";
  out += kLabelPad + _f("host-wide (bind before connect, UDP): {0} TCP + {1} UDP ports in "
                        "use of {2}\n",
                        p.host_tcp_ports_in_use, udp, p.host_usable);
  std::size_t shown = verbose ? p.tuples.size() : std::min(p.tuples.size(), kTopTuples);
  if (shown == 0) return;
  out += label(_("destinations")) + _f("hottest {0} of {1}\n", shown, p.tuples.size());
  // 4 + 36 + 58 columns; a longer pair (IPv6) gets a line of its own above its numbers.
  constexpr std::string_view kRow = "    {:<36}{:>7}{:>7}{:>7}{:>7}{:>8}{:>8}{:>10}\n";
  out += fmt::format(kRow, _("src -> destination"), _("in use"), "TW", _("reuse"), _("usable"),
                     _("util"), "new/s", _("runs out"));
  for (std::size_t i = 0; i < shown; ++i) {
    const TupleStat& t = p.tuples[i];
    std::string who = t.key.src.to_string() + " -> " + t.key.destination().to_string();
    if (who.size() > 35) {
      out += "    " + who + "\n";
      who.clear();
    }
    out += fmt::format(kRow, who, t.in_use, t.time_wait, t.tw_reusable, t.usable,
                       fmt_pct(t.utilization), t.new_per_s ? fmt_num(*t.new_per_s, 1) : "?",
                       forecast(t));
  }
}

void fds_section(const Reading& r, bool verbose, std::string& out) {
  std::optional<int64_t> max = r.file_nr.max ? r.file_nr.max : r.sysctls.file_max;
  std::vector<std::string> items{_("system ") + of(r.file_nr.allocated, max)};
  // The fullest processes against their own soft limits (never against file-max).
  std::vector<std::pair<double, const ProcessInfo*>> procs;
  for (const ProcessInfo& p : r.processes)
    if (p.open_fds && p.fd_soft_limit && *p.fd_soft_limit > 0)
      procs.emplace_back(double(*p.open_fds) / double(*p.fd_soft_limit), &p);
  std::stable_sort(procs.begin(), procs.end(),
                   [](const auto& x, const auto& y) { return x.first > y.first; });
  std::size_t shown = verbose ? procs.size() : std::min(procs.size(), kTopProcesses);
  for (std::size_t i = 0; i < shown; ++i) {
    const ProcessInfo& p = *procs[i].second;
    std::string who = fmt::format("{}[{}]", printable(p.comm), p.pid);
    if (p.container) who += " " + printable(p.container->label());
    items.push_back(
        _f("{0} {1} of {2} ({3})", who, *p.open_fds, *p.fd_soft_limit, fmt_pct(procs[i].first)));
  }
  out += wrap_items(items, "; ", kWidth, label(_("fds")), kLabelPad) + "\n";
}

void time_wait_section(const Snapshot& snap, const Reading& r, std::string& out) {
  std::optional<int64_t> count = r.sockstat.tcp_tw;
  if (!count && r.sockets.complete) count = int64_t(r.sockets.by_state[int(TcpState::kTimeWait)]);
  out += label(_("time_wait")) + _f("{0}, overflow {1}\n",
                                    of(count, r.sysctls.tcp_max_tw_buckets, _("buckets")),
                                    rate(snap.counter_rate("TcpExt.TCPTimeWaitOverflow")));
}

// What the table dump adds (CAP_NET_ADMIN): protocols, stale entries, the fullest SNAT port
// pools and the destinations holding the most entries.
void conntrack_table_lines(const ConntrackTable& t, bool verbose, std::string& out) {
  std::vector<std::string> items{_f("table {0} entries", t.entries)};
  for (const auto& [proto, n] : t.by_protocol) items.push_back(fmt::format("{} {}", proto, n));
  items.push_back(_f("assured {0}", t.assured));
  items.push_back(_f("unreplied {0}", t.unreplied));
  const ConntrackStale& st = t.stale;
  items.push_back(_f("stale: tcp time_wait {0}, close {1}, idle > 1 h {2}, udp one-way {3}",
                     st.tcp_time_wait, st.tcp_close, st.established_idle_1h, st.udp_unreplied));
  if (t.interrupted) items.push_back(_("(changed during the dump)"));
  out += wrap_items(items, "; ", kWidth, kLabelPad, kLabelPad) + "\n";

  const std::size_t snat = verbose ? t.snat.size() : std::min(t.snat.size(), kTopTuples);
  if (snat > 0) {
    out += kLabelPad + _f("SNAT pools, fullest {0} of {1}:\n", snat, t.snat_groups_total);
    for (std::size_t i = 0; i < snat; ++i) {
      const SnatGroup& g = t.snat[i];
      out += kLabelPad + _f("  {0} -> {1} {2}: {3} of {4} ports ({5}), {6} closing\n",
                            g.nat_ip.to_string(), g.dst.to_string(), ct_protocol_name(g.protocol),
                            g.entries, g.port_range.size(), fmt_pct(g.utilization()), g.closing);
    }
  }
  const std::size_t dests =
      verbose ? t.top_destinations.size() : std::min(t.top_destinations.size(), kTopListeners);
  if (dests > 0) {
    std::vector<std::string> d;
    for (std::size_t i = 0; i < dests; ++i) {
      const ConntrackDestination& c = t.top_destinations[i];
      d.push_back(
          fmt::format("{} {} {}", c.dst.to_string(), ct_protocol_name(c.protocol), c.entries));
    }
    const std::string head =
        std::string(kLabelPad) + _f("top destinations ({0} in all): ", t.destinations_total);
    out += wrap_items(d, "; ", kWidth, head, kLabelPad) + "\n";
  }
}

void conntrack_section(const Snapshot& snap, const Reading& r, bool verbose, std::string& out) {
  const ConntrackStats& c = r.conntrack;
  if (!c.available) {
    out += label(_("conntrack")) + _("not in use (nf_conntrack not loaded or not readable)") +
           std::string("\n");
    return;
  }
  out += label(_("conntrack")) + fmt::format("{0}; drop {1}, early_drop {2}, insert_failed {3}\n",
                                             of(c.count, c.max),
                                             rate(snap.conntrack_stat_rate("drop")),
                                             rate(snap.conntrack_stat_rate("early_drop")),
                                             rate(snap.conntrack_stat_rate("insert_failed")));
  if (r.conntrack_table.dumped) conntrack_table_lines(r.conntrack_table, verbose, out);
}

// Unix listeners, on a line of their own, only when the dump holds some (unknown or none: no
// line; `missing` names a failed dump).
void unix_accept_section(const Reading& r, bool verbose, std::string& out) {
  if (!r.unix_listeners || r.unix_listeners->empty()) return;
  std::vector<const UnixListener*> ls;
  for (const UnixListener& l : *r.unix_listeners) ls.push_back(&l);
  auto fill = [](const UnixListener* l) {
    return l->queue_limit ? double(l->queue_len) / l->queue_limit : (l->queue_len ? 1.0 : 0.0);
  };
  std::stable_sort(ls.begin(), ls.end(),
                   [&](const UnixListener* x, const UnixListener* y) { return fill(x) > fill(y); });
  std::vector<std::string> items{
      _nf("{0} unix listener", "{0} unix listeners", ls.size(), ls.size())};
  std::size_t shown = verbose ? ls.size() : std::min(ls.size(), kTopListeners);
  for (std::size_t i = 0; i < shown; ++i) {
    const UnixListener& l = *ls[i];
    if (!verbose && l.queue_len == 0) break;
    std::string owner;
    if (auto it = r.listener_owner.find(l.inode); l.inode != 0 && it != r.listener_owner.end()) {
      const ProcessInfo* p = process_of(r, it->second);
      owner = fmt::format(" {}[{}]", p ? printable(p->comm) : "?", it->second);
    }
    items.push_back(
        _f("{0}{1} queue {2}/{3}", printable(l.path), owner, l.queue_len, l.queue_limit));
  }
  out += wrap_items(items, "; ", kWidth, label(_("accept unix")), kLabelPad) + "\n";
}

void accept_section(const Snapshot& snap, const Reading& r, bool verbose, std::string& out) {
  std::vector<const Listener*> ls;
  for (const Listener& l : r.sockets.listeners) ls.push_back(&l);
  auto fill = [](const Listener* l) {
    return l->queue_limit ? double(l->queue_len) / l->queue_limit : (l->queue_len ? 1.0 : 0.0);
  };
  std::stable_sort(ls.begin(), ls.end(),
                   [&](const Listener* x, const Listener* y) { return fill(x) > fill(y); });
  std::vector<std::string> items{_nf("{0} listener, overflows {1}, drops {2}",
                                     "{0} listeners, overflows {1}, drops {2}", ls.size(),
                                     ls.size(), rate(snap.counter_rate("TcpExt.ListenOverflows")),
                                     rate(snap.counter_rate("TcpExt.ListenDrops")))};
  std::size_t shown = verbose ? ls.size() : std::min(ls.size(), kTopListeners);
  for (std::size_t i = 0; i < shown; ++i) {
    const Listener& l = *ls[i];
    if (!verbose && l.queue_len == 0) break;  // only queues that hold something
    std::string owner;
    if (auto it = r.listener_owner.find(l.inode); it != r.listener_owner.end()) {
      const ProcessInfo* p = process_of(r, it->second);
      owner = fmt::format(" {}[{}]", p ? printable(p->comm) : "?", it->second);
      if (p && p->container) owner += " " + printable(p->container->label());
    }
    items.push_back(
        _f("{0}{1} queue {2}/{3}", l.local.to_string(), owner, l.queue_len, l.queue_limit));
  }
  out += wrap_items(items, "; ", kWidth, label(_("accept")), kLabelPad) + "\n";
  unix_accept_section(r, verbose, out);
}

void memory_section(const Snapshot& snap, const Reading& r, std::string& out) {
  const auto& mem = r.sysctls.tcp_mem;
  std::vector<std::string> items{_("orphans ") +
                                 of(r.sockstat.tcp_orphan, r.sysctls.tcp_max_orphans)};
  std::string tcp = _f("tcp memory {0} pages", fmt_opt(r.sockstat.tcp_mem_pages));
  if (mem) tcp += _f(" (pressure at {0}, max {1})", (*mem)[1], (*mem)[2]);
  items.push_back(std::move(tcp));
  if (auto a = snap.counter_rate("TcpExt.TCPAbortOnMemory"); a && *a > 0)
    items.push_back(_("aborts on memory ") + rate(a));
  out += wrap_items(items, "; ", kWidth, label(_("memory")), kLabelPad) + "\n";
}

// The label of an evidence key in the text report: translated for the keys below, the key
// itself otherwise (sysctl names, counters, and JSON keys not listed stay as they are).
std::string evidence_label(const std::string& key) {
  static constexpr const char* kLabels[] = {
      N_("pid"),        N_("comm"),           N_("open"),         N_("soft_limit"),
      N_("hard_limit"), N_("utilization"),    N_("rate_note"),    N_("sockets"),
      N_("close_wait"), N_("destination"),    N_("queue"),        N_("limit"),
      N_("syn_recv"),   N_("server_side"),    N_("sample_peers"), N_("usable"),
      N_("in_use"),     N_("port"),           N_("protocol"),     N_("ports_left"),
      N_("port_range"), N_("range_source"),   N_("nat_ip"),       N_("nat_ports_seen"),
      N_("note"),       N_("cause"),          N_("rule"),         N_("count"),
      N_("time_wait"),  N_("new_per_s"),      N_("growth_per_s"), N_("seconds_to_exhaustion"),
      N_("source"),     N_("listen"),         N_("entries"),      N_("closing_entries"),
      N_("see_also"),   N_("tw_reuse_helps"), N_("local"),        N_("owner")};
  for (const char* k : kLabels)
    if (key == k) return _(k);
  return key;
}

// "key: value" for one evidence entry; strings unquoted, unknowns spelled out.
std::string evidence_value(const std::string& key, const nlohmann::ordered_json& v) {
  if (v.is_null()) return _("unknown");
  if (v.is_string()) return printable(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? _("yes") : _("no");
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (key.find("utilization") != std::string::npos) return fmt_pct(d);
    if (key.find("seconds") != std::string::npos) return fmt_num(d, 1) + " s";
    return fmt_num(d, 3);
  }
  return v.dump();
}

bool is_identity_key(std::string_view key) {
  return key == "pod" || key == "pod_namespace" || key == "container" || key == "container_id";
}

// "shop/checkout-7f9c (container app)", or "unknown (container 0123456789ab)" when the
// runtime's state could not be read.
std::string identity_line(const nlohmann::ordered_json& ev) {
  auto str = [&ev](const char* k) {
    auto it = ev.find(k);
    return it != ev.end() && it->is_string() ? printable(it->get<std::string>()) : std::string();
  };
  const std::string pod = str("pod"), ns = str("pod_namespace"), container = str("container");
  if (pod.empty()) return _f("unknown (container {0})", container);
  return _f("{0} (container {1})", ns.empty() ? pod : ns + "/" + pod, container);
}

// Shell commands get a prompt so they read as something to run; settings and code do not.
bool looks_like_shell(std::string_view cmd) {
  static constexpr std::string_view kShell[] = {
      "sysctl",    "echo",     "printf",     "cat",         "ss",       "nstat",     "ip",
      "ulimit",    "prlimit",  "systemctl",  "systemd-run", "iptables", "ip6tables", "nft",
      "conntrack", "modprobe", "grep",       "ls",          "lsof",     "sh",        "bash",
      "tee",       "mkdir",    "journalctl", "dmesg",       "sed",      "awk",       "sudo",
      "kill",      "ps",       "watch",      "cp",          "readlink", "find",      "conndoctor",
      "ethtool",   "tc",       "curl",       "ab",          "wrk"};
  std::size_t end = cmd.find(' ');
  std::string_view first = cmd.substr(0, end);
  return std::find(std::begin(kShell), std::end(kShell), first) != std::end(kShell);
}

void finding_section(const Finding& f, bool color, std::string& out) {
  static constexpr const char* kTags[] = {N_("[INFO]"), N_("[WARNING]"), N_("[CRITICAL]")};
  std::string tag = _(kTags[std::clamp(int(f.severity), 0, 2)]);
  // Wrap with the plain tag so that the width is right, then colour the tag alone.
  std::string head =
      wrap(printable(f.title), kWidth, tag + " ", std::string(text_columns(tag) + 1, ' '));
  out += paint(tag, tone_of(f.severity), color) + head.substr(tag.size()) + "\n";
  out += _f("    layer: {0}   resource: {1}   id: {2}\n",
            _(std::string(to_string(f.layer)).c_str()), to_string(f.resource), f.id);
  if (f.evidence.is_object()) {
    // Unknowns share one line so that the known numbers stand out.
    std::vector<std::string> unknown;
    for (const auto& [key, value] : f.evidence.items()) {
      // The container identity is one line beside pid and comm, and none outside containers.
      if (is_identity_key(key)) {
        if (key == "container" && !value.is_null())
          out += wrap(_("pod: ") + identity_line(f.evidence), kWidth, "    ", "      ") + "\n";
        continue;
      }
      if (value.is_null()) {
        unknown.push_back(key);
        continue;
      }
      out +=
          wrap(evidence_label(key) + ": " + evidence_value(key, value), kWidth, "    ", "      ") +
          "\n";
    }
    if (!unknown.empty())
      out += wrap_items(unknown, ", ", kWidth, _("    unknown: "), "      ") + "\n";
  }
  if (f.remediation.empty()) return;
  std::vector<const RemediationStep*> plan;
  for (const RemediationStep& s : f.remediation) plan.push_back(&s);
  std::stable_sort(plan.begin(), plan.end(),
                   [](auto* x, auto* y) { return x->priority < y->priority; });
  out += "    " + paint(_("plan:"), Tone::kBold, color) + "\n";
  for (const RemediationStep* s : plan) {
    out += wrap(s->action, kWidth, fmt::format("      {}. ", s->priority), "         ") + "\n";
    // Shell commands stay on one line to copy; settings and code snippets wrap.
    for (const std::string& c : s->commands)
      out += (looks_like_shell(c) ? "         $ " + c
                                  : wrap(c, kWidth, "           ", "             ")) +
             "\n";
    if (!s->risk.empty())
      out += paint(wrap(_("risk: ") + s->risk, kWidth, "         ", "               "), Tone::kDim,
                   color) +
             "\n";
  }
}

}  // namespace

std::string report_text(const Snapshot& snap, const Analysis& a, const TextOptions& opt) {
  const Reading& r = snap.now();
  std::string out;
  std::string verdict = a.summary.empty() ? std::string(to_string(a.status)) : printable(a.summary);
  out += paint(verdict, tone_of(a.status), opt.color) + "\n\n";

  std::string when = snap.interval_s()
                         ? _f("two readings {0} s apart", fmt_num(*snap.interval_s(), 1))
                         : _("one reading: rates unknown");
  if (!snap.netns.empty()) when += _f(", netns {0}", snap.netns);
  out += paint(_("resources"), Tone::kBold, opt.color) + " (" + when + ")\n";
  sockets_section(r, out);
  ports_section(r, a.ports, opt.verbose, out);
  fds_section(r, opt.verbose, out);
  time_wait_section(snap, r, out);
  conntrack_section(snap, r, opt.verbose, out);
  accept_section(snap, r, opt.verbose, out);
  memory_section(snap, r, out);

  out += "\n";
  if (a.findings.empty()) {
    out += paint(_("findings"), Tone::kBold, opt.color) + _(": none") + "\n";
  } else {
    out += paint(_f("findings ({0})", a.findings.size()), Tone::kBold, opt.color) + "\n";
    for (const Finding& f : a.findings) {
      out += "\n";
      finding_section(f, opt.color, out);
    }
  }
  if (!snap.missing.empty()) {
    out += "\n" + paint(_("missing:"), Tone::kBold, opt.color) + "\n";
    for (const std::string& m : snap.missing)
      out += wrap(printable(m), kWidth, "  - ", "    ") + "\n";
  }
  return out;
}

Tone tone_of(Status s) {
  switch (s) {
    case Status::kOk:
      return Tone::kOk;
    case Status::kWarning:
      return Tone::kWarning;
    case Status::kCritical:
      return Tone::kCritical;
    case Status::kUnknown:
      return Tone::kUnknown;
  }
  return Tone::kPlain;
}

}  // namespace cd
