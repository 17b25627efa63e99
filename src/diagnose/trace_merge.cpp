// Merging a TraceResult into findings by their evidence keys (destination, pid, listener
// address). Only adds keys prefixed "traced_", except for the owner of a tuple's churn, which
// replaces the inferred owner (pid, comm) when the trace saw who opened the connections.
#include "diagnose/trace_merge.h"
#include "snapshot/trace_result.h"

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "util/format.h"
#include "util/i18n.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <string>

namespace cd {

namespace {

using json = nlohmann::ordered_json;

std::string evidence_string(const Finding& f, const char* key) {
  auto it = f.evidence.find(key);
  return it != f.evidence.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The processes of the traced failures `match` accepts: (count, (pid, comm)), most first.
struct Failers {
  std::vector<std::pair<uint64_t, std::pair<int32_t, std::string>>> ranked;
  uint64_t total = 0;

  json to_json() const {
    json out = json::array();
    for (const auto& [n, k] : ranked)
      out.push_back({{"pid", k.first > 0 ? json(k.first) : json(nullptr)},
                     {"comm", k.second.empty() ? json(nullptr) : json(k.second)},
                     {"count", n}});
    return out;
  }
};

template <class Match>
Failers failers(const TraceResult& t, Match match) {
  std::map<std::pair<int32_t, std::string>, uint64_t> by;
  Failers out;
  for (const auto& f : t.failures) {
    if (!match(f)) continue;
    by[{f.pid, f.comm}] += f.count;
    out.total += f.count;
  }
  for (const auto& [k, n] : by) out.ranked.push_back({n, k});
  std::stable_sort(out.ranked.begin(), out.ranked.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

// The processes whose connect() failed with `err`, to `destination` ("" = anywhere), most first.
json failing_processes(const TraceResult& t, int err, const std::string& destination) {
  return failers(t,
                 [&](const auto& f) {
                   return f.op == "connect" && f.err == err &&
                          (destination.empty() ||
                           (f.destination && f.destination->to_string() == destination));
                 })
      .to_json();
}

// The port of an "ip:port" or "[ip6]:port" destination.
std::optional<uint16_t> destination_port(const std::string& dest) {
  const std::size_t colon = dest.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(dest.data() + colon + 1, dest.data() + dest.size(), v);
  if (ec != std::errc() || end != dest.data() + dest.size() || v > 65535) return std::nullopt;
  return uint16_t(v);
}

// The traced owner's runtime replaces the inferred owner's in the evidence and in step A.
void retarget_reuse_step(Finding& f, const TraceChurn& owner, const std::string& dest,
                         const RuntimeLookup& runtime_of, const ProcessInfo* p) {
  if (!f.evidence.contains("runtime")) return;
  std::optional<RuntimeInfo> rt;
  if (runtime_of)
    rt = runtime_of(owner.pid, owner.comm);
  else if (p && p->runtime)
    rt = p->runtime;
  put_runtime(f.evidence, rt ? &*rt : nullptr);
  for (RemediationStep& s : f.remediation)
    if (s.priority == 'A')
      s = step_client_reuse({.runtime = rt ? &*rt : nullptr, .port = destination_port(dest)});
}

void merge_ephemeral(Finding& f, const TraceResult& t, const RuntimeLookup& runtime_of,
                     const ProcessLookup& process_of) {
  const std::string dest = evidence_string(f, "destination");
  f.evidence["traced_eaddrnotavail"] = failing_processes(t, EADDRNOTAVAIL, dest);
  if (dest.empty()) return;
  const TraceChurn* top = nullptr;
  for (const auto& c : t.churn)
    if (c.destination && c.destination->to_string() == dest && c.pid > 0 &&
        (!top || c.opened > top->opened))
      top = &c;
  if (!top) {
    f.evidence["traced_churn"] = nullptr;
    return;
  }
  // The inferred owner when the trace saw the same process open the connections: its identity,
  // runtime and share of the live sockets stay.
  auto pid_it = f.evidence.find("pid");
  const bool same_owner = pid_it != f.evidence.end() && pid_it->is_number_integer() &&
                          pid_it->get<int32_t>() == top->pid &&
                          evidence_string(f, "comm") == top->comm;
  // Connections in TIME_WAIT have no owner for `check` to read; the trace saw who opened them.
  f.evidence["pid"] = top->pid;
  f.evidence["comm"] = top->comm;
  f.evidence["owner_inferred"] = false;
  f.evidence["confidence"] = "traced";
  f.evidence["traced_churn"] = {{"opened", top->opened},
                                {"closed", top->closed},
                                {"local_closed_first", top->local_closed_first},
                                {"remote_closed_first", top->remote_closed_first}};
  if (same_owner) return;
  // Another process: nothing of the inferred owner may stay beside it.
  const ProcessInfo* p = process_of ? process_of(top->pid, top->comm) : nullptr;
  put_identity(f.evidence, p);
  f.evidence.erase("owner_share_of_live_sockets");
  retarget_reuse_step(f, *top, dest, runtime_of, p);
}

// bind(addr, 0) failing with EADDRINUSE is the bind pool of `addr` running out
// (inet_csk_find_open_port()): the failing processes, most first, for the finding's local
// address (the wildcard pool takes the failures of a wildcard bind). Returns whether any failed.
bool merge_bind_pool(Finding& f, const TraceResult& t, const ProcessLookup& process_of) {
  const std::string addr = evidence_string(f, "local_address");
  if (addr.empty()) return false;
  const Failers who_failed = failers(t, [&](const auto& x) {
    return x.op == "bind" && x.err == EADDRINUSE && x.destination &&
           x.destination->addr.unmapped().to_string() == addr;
  });
  f.evidence["traced_eaddrinuse"] = who_failed.to_json();
  const uint64_t total = who_failed.total;
  if (total == 0) return false;
  // A bind() that failed is the proof the pool ran out: critical, and the process to fix is
  // the one whose bind() failed.
  const auto& who = who_failed.ranked.front().second;
  f.severity = Severity::kCritical;
  if (who.first > 0) {
    const auto pid_it = f.evidence.find("pid");
    const bool same = pid_it != f.evidence.end() && pid_it->is_number_integer() &&
                      pid_it->get<int64_t>() == who.first;
    f.evidence["pid"] = who.first;
    f.evidence["comm"] = who.second.empty() ? json(nullptr) : json(who.second);
    f.evidence["owner_basis"] = "traced";
    // Another process than the one the reading named: its own identity, nothing of the other.
    if (!same) put_identity(f.evidence, process_of ? process_of(who.first, who.second) : nullptr);
  }
  auto& why = f.evidence["bind_evidence"];
  if (!why.is_array()) why = json::array();
  why.push_back("traced_eaddrinuse");
  f.title =
      _f("ports for bind({0}, 0): {1} bind() calls failed with EADDRINUSE while tracing "
         "({2}); {3} of {4} ports held on {0}",
         addr, with_commas(total), who.second.empty() ? std::string("?") : who.second,
         with_commas(f.evidence.value("ports_in_use", uint64_t(0))),
         with_commas(f.evidence.value("usable", uint64_t(0))));
  return true;
}

void merge_fds(Finding& f, const TraceResult& t) {
  auto pid_it = f.evidence.find("pid");
  if (pid_it != f.evidence.end() && pid_it->is_number_integer()) {
    const int32_t pid = pid_it->get<int32_t>();
    uint64_t n = 0;
    json calls = json::object();
    for (const auto& x : t.failures) {
      if (x.pid != pid || (x.err != EMFILE && x.err != ENFILE)) continue;
      n += x.count;
      calls[x.op] = calls.value(x.op, uint64_t(0)) + x.count;
    }
    f.evidence["traced_emfile"] = n;
    f.evidence["traced_emfile_calls"] = std::move(calls);
    return;
  }
  // The host-wide file table (fs.file-max): ENFILE from any process.
  uint64_t n = 0;
  for (const auto& x : t.failures)
    if (x.err == ENFILE) n += x.count;
  f.evidence["traced_enfile"] = n;
}

void merge_accept_queue(Finding& f, const TraceResult& t) {
  // TCP_LISTEN_OVERFLOW is a TCP drop: a unix listener's queue has no traced counterpart, and
  // its path is no "ip:port".
  if (f.id == "accept_queue.unix_listener") return;
  std::string where = evidence_string(f, "destination");
  if (where.empty()) where = evidence_string(f, "fullest_listener");
  auto listener = where.empty() ? std::nullopt : std::optional<std::string>(where);
  uint64_t n = 0;
  for (const auto& d : t.drops) {
    if (d.reason != "TCP_LISTEN_OVERFLOW" || !d.where) continue;
    if (listener) {
      // A wildcard listener (0.0.0.0:8080, [::]:8080) takes the drops to any address on its port.
      const auto colon = listener->rfind(':');
      const std::string port = listener->substr(colon + 1);
      const std::string host = listener->substr(0, colon);
      const bool wildcard = host == "0.0.0.0" || host == "[::]";
      const std::string dw = d.where->to_string();
      if (wildcard ? dw.substr(dw.rfind(':') + 1) != port : dw != *listener) continue;
    }
    n += d.count;
  }
  f.evidence["traced_listen_overflow_drops"] = n;
}

void merge_conntrack(Finding& f, const TraceResult& t) {
  uint64_t n = 0;
  std::map<std::string, uint64_t> by;
  for (const auto& d : t.drops) {
    if (d.reason != "NETFILTER_DROP") continue;
    n += d.count;
    by[d.where ? d.where->to_string() : "unknown"] += d.count;
  }
  std::vector<std::pair<uint64_t, std::string>> v;
  for (const auto& [w, c] : by) v.push_back({c, w});
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  json top = json::array();
  for (std::size_t i = 0; i < v.size() && i < 5; ++i)
    top.push_back({{"destination", v[i].second}, {"count", v[i].first}});
  f.evidence["traced_netfilter_drops"] = n;
  f.evidence["traced_netfilter_drop_destinations"] = std::move(top);
}

// The one finding tracing creates: connects to one destination that fail with ETIMEDOUT
// (SYNs unanswered: the host is down, a firewall drops, the server's SYN queue is full) or
// ECONNREFUSED (a RST: nothing listens) en masse. No state shows this: the sockets are gone.
constexpr uint64_t kConnectFailuresWarn = 10;
constexpr uint64_t kConnectFailuresCrit = 100;

void add_connect_failure_findings(Analysis& a, const TraceResult& t) {
  std::map<std::pair<std::string, int>, uint64_t> by;  // (destination, errno)
  for (const auto& f : t.failures)
    if (f.op == "connect" && f.destination && (f.err == ETIMEDOUT || f.err == ECONNREFUSED))
      by[{f.destination->to_string(), f.err}] += f.count;
  for (const auto& [key, n] : by) {
    if (n < kConnectFailuresWarn) continue;
    const auto& [dest, err] = key;
    Finding f;
    f.id = "connect_failures.destination";
    f.resource = Resource::kConnectFailures;
    f.severity = n >= kConnectFailuresCrit ? Severity::kCritical : Severity::kWarning;
    f.layer = Layer::kNetwork;
    f.title = _f("connect() to {0} failed {1} times with {2} in {3} s", dest, n, errno_label(err),
                 int(t.duration_s + 0.5));
    f.evidence["destination"] = dest;
    f.evidence["errno"] = errno_label(err);
    f.evidence["count"] = n;
    f.evidence["traced_seconds"] = double(int64_t(t.duration_s * 10 + 0.5)) / 10.0;
    f.evidence["processes"] = failing_processes(t, err, dest);
    uint64_t syn = 0;
    for (const auto& s : t.syn_retransmits)
      if (s.destination && s.destination->to_string() == dest) syn += s.count;
    f.evidence["syn_retransmits"] = syn;
    const std::string host = dest.substr(0, dest.rfind(':'));
    const std::string port = dest.substr(dest.rfind(':') + 1);
    if (err == ETIMEDOUT) {
      f.evidence["cause"] =
          _("the SYNs got no answer: the host is down or unreachable, a firewall drops them, or "
            "the server's SYN queue is full");
      f.remediation = {
          {'A',
           _f("Check that {0} is up and answers from this host, and what drops the SYNs on the "
              "way (a firewall, a security group, a full SYN queue on the server)",
              dest),
           {"nc -vz -w 3 " + host + " " + port, "conndoctor trace --duration 10"},
           ""},
          {'A',
           _("Make the client fail fast and back off: a connect timeout of a few seconds, "
             "retries with exponential backoff and jitter, so that a dead destination does "
             "not tie up threads and ports"),
           {},
           _("Too short a timeout fails healthy but slow connects.")}};
    } else {
      f.evidence["cause"] =
          _f("a RST answered the SYN: nothing listens on {0} (the service is down, restarting, or "
             "on another port)",
             dest);
      f.remediation = {
          {'A',
           _f("Check that the service listens on {0} and that the client is configured to reach "
              "the right address and port",
              dest),
           {"nc -vz -w 3 " + host + " " + port},
           ""},
          {'A',
           _("Retry with backoff while the service restarts instead of failing at once"),
           {},
           ""}};
    }
    a.findings.push_back(std::move(f));
  }
}

}  // namespace

ProcessLookup processes_in(const Reading& r) {
  return [&r](int32_t pid, const std::string& comm) -> const ProcessInfo* {
    const ProcessInfo* p = find_process(r, pid);
    return p && p->comm == comm ? p : nullptr;
  };
}

void merge_trace(Analysis& analysis, const TraceResult& trace, const RuntimeLookup& runtime_of,
                 const ProcessLookup& process_of) {
  bool raised = false;
  for (Finding& f : analysis.findings) {
    if (!f.evidence.is_object()) continue;
    switch (f.resource) {
      case Resource::kEphemeralPorts:
        merge_ephemeral(f, trace, runtime_of, process_of);
        if (f.id == "ephemeral_ports.host_wide")
          raised = merge_bind_pool(f, trace, process_of) || raised;
        break;
      case Resource::kFileDescriptors:
        merge_fds(f, trace);
        break;
      case Resource::kAcceptQueue:
        merge_accept_queue(f, trace);
        break;
      case Resource::kConntrack:
        merge_conntrack(f, trace);
        break;
      default:
        break;
    }
  }
  const std::size_t before = analysis.findings.size();
  add_connect_failure_findings(analysis, trace);
  if ((analysis.findings.size() == before && !raised) || analysis.status == Status::kUnknown)
    return;
  std::stable_sort(analysis.findings.begin(), analysis.findings.end(),
                   [](const Finding& x, const Finding& y) { return x.severity > y.severity; });
  const Finding& worst = analysis.findings.front();
  const Status s = worst.severity == Severity::kCritical  ? Status::kCritical
                   : worst.severity == Severity::kWarning ? Status::kWarning
                                                          : Status::kOk;
  if (s > analysis.status) {
    analysis.status = s;
    analysis.summary = verdict_of(worst);
  }
}

}  // namespace cd
