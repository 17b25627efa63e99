// The people report: the verdict in one line, a compact overview of every resource, then
// each finding with its evidence and ordered plan, then what could not be read.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "render/report.h"
#include "util/format.h"
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
      fmt::format("{} of {}{}{}", fmt_opt(used), fmt_opt(limit), unit.empty() ? "" : " ", unit);
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
    out += label("sockets") + "unknown (the socket dump did not complete)\n";
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
      part += fmt::format(" (client {}, server {}, other {})", s.time_wait_client,
                          s.time_wait_server, s.time_wait_other);
    parts.push_back(std::move(part));
  }
  parts.front() = fmt::format("{} TCP: {}", s.total, parts.front());
  out += wrap_items(parts, ", ", kWidth, label("sockets"), kLabelPad) + "\n";
}

std::string forecast(const TupleStat& t) {
  if (t.seconds_to_exhaustion) return fmt_duration(*t.seconds_to_exhaustion);
  return t.new_per_s ? "stable" : "?";
}

void ports_section(const Reading& r, const PortAnalysis& p, bool verbose, std::string& out) {
  if (!p.known) {
    out += label("ports") + "unknown (port range or socket dump missing)\n";
    return;
  }
  out += label("ports") + fmt::format(
                              "range {}-{}: {} usable per destination ({} reserved, {} "
                              "bound in range)\n",
                              p.range.lo, p.range.hi, p.usable_per_tuple, p.reserved_in_range,
                              p.bound_in_range);
  if (p.bound_inactive_in_range > 0)
    out += kLabelPad + fmt::format("{} of the bound ports held by sockets bound, not connected\n",
                                   p.bound_inactive_in_range);
  std::string udp = r.sockets.udp_complete ? std::to_string(p.host_udp_ports_in_use) : "?";
  out += kLabelPad + fmt::format(
                         "host-wide (bind before connect, UDP): {} TCP + {} UDP ports in "
                         "use of {}\n",
                         p.host_tcp_ports_in_use, udp, p.host_usable);
  std::size_t shown = verbose ? p.tuples.size() : std::min(p.tuples.size(), kTopTuples);
  if (shown == 0) return;
  out += label("destinations") + fmt::format("hottest {} of {}\n", shown, p.tuples.size());
  // 4 + 36 + 58 columns; a longer pair (IPv6) gets a line of its own above its numbers.
  constexpr std::string_view kRow = "    {:<36}{:>7}{:>7}{:>7}{:>7}{:>8}{:>8}{:>10}\n";
  out += fmt::format(kRow, "src -> destination", "in use", "TW", "reuse", "usable", "util", "new/s",
                     "runs out");
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
  std::vector<std::string> items{"system " + of(r.file_nr.allocated, max)};
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
    items.push_back(fmt::format("{} {} of {} ({})", who, *p.open_fds, *p.fd_soft_limit,
                                fmt_pct(procs[i].first)));
  }
  out += wrap_items(items, "; ", kWidth, label("fds"), kLabelPad) + "\n";
}

void time_wait_section(const Snapshot& snap, const Reading& r, std::string& out) {
  std::optional<int64_t> count = r.sockstat.tcp_tw;
  if (!count && r.sockets.complete) count = int64_t(r.sockets.by_state[int(TcpState::kTimeWait)]);
  out += label("time_wait") + fmt::format("{}, overflow {}\n",
                                          of(count, r.sysctls.tcp_max_tw_buckets, "buckets"),
                                          rate(snap.counter_rate("TcpExt.TCPTimeWaitOverflow")));
}

// What the table dump adds (CAP_NET_ADMIN): protocols, stale entries, the fullest SNAT port
// pools and the destinations holding the most entries.
void conntrack_table_lines(const ConntrackTable& t, bool verbose, std::string& out) {
  std::vector<std::string> items{fmt::format("table {} entries", t.entries)};
  for (const auto& [proto, n] : t.by_protocol) items.push_back(fmt::format("{} {}", proto, n));
  items.push_back(fmt::format("assured {}", t.assured));
  items.push_back(fmt::format("unreplied {}", t.unreplied));
  const ConntrackStale& st = t.stale;
  items.push_back(fmt::format("stale: tcp time_wait {}, close {}, idle > 1 h {}, udp one-way {}",
                              st.tcp_time_wait, st.tcp_close, st.established_idle_1h,
                              st.udp_unreplied));
  if (t.interrupted) items.push_back("(changed during the dump)");
  out += wrap_items(items, "; ", kWidth, kLabelPad, kLabelPad) + "\n";

  const std::size_t snat = verbose ? t.snat.size() : std::min(t.snat.size(), kTopTuples);
  if (snat > 0) {
    out += kLabelPad + fmt::format("SNAT pools, fullest {} of {}:\n", snat, t.snat_groups_total);
    for (std::size_t i = 0; i < snat; ++i) {
      const SnatGroup& g = t.snat[i];
      out += kLabelPad + fmt::format("  {} -> {} {}: {} of {} ports ({}), {} closing\n",
                                     g.nat_ip.to_string(), g.dst.to_string(),
                                     ct_protocol_name(g.protocol), g.entries, g.port_range.size(),
                                     fmt_pct(g.utilization()), g.closing);
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
    const std::string head = std::string(kLabelPad) +
                             fmt::format("top destinations ({} in all): ", t.destinations_total);
    out += wrap_items(d, "; ", kWidth, head, kLabelPad) + "\n";
  }
}

void conntrack_section(const Snapshot& snap, const Reading& r, bool verbose, std::string& out) {
  const ConntrackStats& c = r.conntrack;
  if (!c.available) {
    out += label("conntrack") + "not in use (nf_conntrack not loaded or not readable)\n";
    return;
  }
  out +=
      label("conntrack") + fmt::format("{}; drop {}, early_drop {}, insert_failed {}\n",
                                       of(c.count, c.max), rate(snap.conntrack_stat_rate("drop")),
                                       rate(snap.conntrack_stat_rate("early_drop")),
                                       rate(snap.conntrack_stat_rate("insert_failed")));
  if (r.conntrack_table.dumped) conntrack_table_lines(r.conntrack_table, verbose, out);
}

void accept_section(const Snapshot& snap, const Reading& r, bool verbose, std::string& out) {
  std::vector<const Listener*> ls;
  for (const Listener& l : r.sockets.listeners) ls.push_back(&l);
  auto fill = [](const Listener* l) {
    return l->queue_limit ? double(l->queue_len) / l->queue_limit : (l->queue_len ? 1.0 : 0.0);
  };
  std::stable_sort(ls.begin(), ls.end(),
                   [&](const Listener* x, const Listener* y) { return fill(x) > fill(y); });
  std::vector<std::string> items{fmt::format("{} listener{}, overflows {}, drops {}", ls.size(),
                                             ls.size() == 1 ? "" : "s",
                                             rate(snap.counter_rate("TcpExt.ListenOverflows")),
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
        fmt::format("{}{} queue {}/{}", l.local.to_string(), owner, l.queue_len, l.queue_limit));
  }
  out += wrap_items(items, "; ", kWidth, label("accept"), kLabelPad) + "\n";
}

void memory_section(const Snapshot& snap, const Reading& r, std::string& out) {
  const auto& mem = r.sysctls.tcp_mem;
  std::vector<std::string> items{"orphans " + of(r.sockstat.tcp_orphan, r.sysctls.tcp_max_orphans)};
  std::string tcp = fmt::format("tcp memory {} pages", fmt_opt(r.sockstat.tcp_mem_pages));
  if (mem) tcp += fmt::format(" (pressure at {}, max {})", (*mem)[1], (*mem)[2]);
  items.push_back(std::move(tcp));
  if (auto a = snap.counter_rate("TcpExt.TCPAbortOnMemory"); a && *a > 0)
    items.push_back("aborts on memory " + rate(a));
  out += wrap_items(items, "; ", kWidth, label("memory"), kLabelPad) + "\n";
}

// "key: value" for one evidence entry; strings unquoted, unknowns spelled out.
std::string evidence_value(const std::string& key, const nlohmann::ordered_json& v) {
  if (v.is_null()) return "unknown";
  if (v.is_string()) return printable(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
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
  if (pod.empty()) return "unknown (container " + container + ")";
  return (ns.empty() ? pod : ns + "/" + pod) + " (container " + container + ")";
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
  std::string tag = fmt::format("[{}]", to_string(f.severity));
  for (char& c : tag) c = char(std::toupper(static_cast<unsigned char>(c)));
  // Wrap with the plain tag so that the width is right, then colour the tag alone.
  std::string head = wrap(printable(f.title), kWidth, tag + " ", std::string(tag.size() + 1, ' '));
  out += paint(tag, tone_of(f.severity), color) + head.substr(tag.size()) + "\n";
  out += fmt::format("    layer: {}   resource: {}   id: {}\n", to_string(f.layer),
                     to_string(f.resource), f.id);
  if (f.evidence.is_object()) {
    // Unknowns share one line so that the known numbers stand out.
    std::vector<std::string> unknown;
    for (const auto& [key, value] : f.evidence.items()) {
      // The container identity is one line beside pid and comm, and none outside containers.
      if (is_identity_key(key)) {
        if (key == "container" && !value.is_null())
          out += wrap("pod: " + identity_line(f.evidence), kWidth, "    ", "      ") + "\n";
        continue;
      }
      if (value.is_null()) {
        unknown.push_back(key);
        continue;
      }
      out += wrap(key + ": " + evidence_value(key, value), kWidth, "    ", "      ") + "\n";
    }
    if (!unknown.empty())
      out += wrap_items(unknown, ", ", kWidth, "    unknown: ", "      ") + "\n";
  }
  if (f.remediation.empty()) return;
  std::vector<const RemediationStep*> plan;
  for (const RemediationStep& s : f.remediation) plan.push_back(&s);
  std::stable_sort(plan.begin(), plan.end(),
                   [](auto* x, auto* y) { return x->priority < y->priority; });
  out += "    " + paint("plan:", Tone::kBold, color) + "\n";
  for (const RemediationStep* s : plan) {
    out += wrap(s->action, kWidth, fmt::format("      {}. ", s->priority), "         ") + "\n";
    // Shell commands stay on one line to copy; settings and code snippets wrap.
    for (const std::string& c : s->commands)
      out += (looks_like_shell(c) ? "         $ " + c
                                  : wrap(c, kWidth, "           ", "             ")) +
             "\n";
    if (!s->risk.empty())
      out += paint(wrap("risk: " + s->risk, kWidth, "         ", "               "), Tone::kDim,
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
                         ? fmt::format("two readings {} s apart", fmt_num(*snap.interval_s(), 1))
                         : "one reading: rates unknown";
  if (!snap.netns.empty()) when += ", netns " + snap.netns;
  out += paint("resources", Tone::kBold, opt.color) + " (" + when + ")\n";
  sockets_section(r, out);
  ports_section(r, a.ports, opt.verbose, out);
  fds_section(r, opt.verbose, out);
  time_wait_section(snap, r, out);
  conntrack_section(snap, r, opt.verbose, out);
  accept_section(snap, r, opt.verbose, out);
  memory_section(snap, r, out);

  out += "\n";
  if (a.findings.empty()) {
    out += paint("findings", Tone::kBold, opt.color) + ": none\n";
  } else {
    out += paint(fmt::format("findings ({})", a.findings.size()), Tone::kBold, opt.color) + "\n";
    for (const Finding& f : a.findings) {
      out += "\n";
      finding_section(f, opt.color, out);
    }
  }
  if (!snap.missing.empty()) {
    out += "\n" + paint("missing:", Tone::kBold, opt.color) + "\n";
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
