// Renders a TraceResult: JSON for machines (stable: conndoctor/trace/v1) and a few aligned
// tables for people, largest counts first.
#include "render/trace_report.h"
#include "snapshot/trace_result.h"
#include "util/i18n.h"

#include <cstdio>

namespace cd {

namespace {

using json = nlohmann::ordered_json;

json endpoint_json(const std::optional<Endpoint>& e) {
  return e ? json(e->to_string()) : json(nullptr);
}
json pid_json(int32_t pid) {
  return pid > 0 ? json(pid) : json(nullptr);
}
json comm_json(int32_t pid, const std::string& comm) {
  return pid > 0 || !comm.empty() ? json(comm) : json(nullptr);
}
json ms_json(std::optional<double> ms) {
  return ms ? json(*ms) : json(nullptr);
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string who(int32_t pid, const std::string& comm) {
  if (pid <= 0) return comm.empty() ? _("unknown process") : comm;
  return "pid " + std::to_string(pid) + " (" + comm + ")";
}

std::string pad(std::string s, std::size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}
std::string rpad(std::string s, std::size_t w) {
  if (s.size() < w) s.insert(0, w - s.size(), ' ');
  return s;
}

}  // namespace

json trace_json(const TraceResult& r, const TraceScope& scope) {
  json j;
  j["schema"] = "conndoctor/trace/v1";
  j["duration_s"] = double(int64_t(r.duration_s * 1000 + 0.5)) / 1000.0;
  j["netns"] = scope.netns ? json(*scope.netns) : json(nullptr);
  j["interrupted"] = scope.interrupted;
  json failures = json::array();
  for (const auto& f : r.failures) {
    json o;
    o["op"] = f.op;
    o["errno"] = f.err ? json(errno_label(f.err)) : json(nullptr);
    o["pid"] = pid_json(f.pid);
    o["comm"] = comm_json(f.pid, f.comm);
    o["netns"] = f.netns ? json(f.netns) : json(nullptr);
    o["destination"] = endpoint_json(f.destination);
    o["count"] = f.count;
    failures.push_back(std::move(o));
  }
  j["failures"] = std::move(failures);
  json churn = json::array();
  for (const auto& c : r.churn) {
    json o;
    o["pid"] = pid_json(c.pid);
    o["comm"] = comm_json(c.pid, c.comm);
    o["netns"] = c.netns ? json(c.netns) : json(nullptr);
    o["destination"] = endpoint_json(c.destination);
    o["opened"] = c.opened;
    o["closed"] = c.closed;
    o["local_closed_first"] = c.local_closed_first;
    o["remote_closed_first"] = c.remote_closed_first;
    o["lifetime_ms"] = {{"p50", ms_json(c.lifetime_ms(0.5))},
                        {"p99", ms_json(c.lifetime_ms(0.99))}};
    churn.push_back(std::move(o));
  }
  j["churn"] = std::move(churn);
  json drops = json::array();
  for (const auto& d : r.drops) {
    json o;
    o["reason"] = d.reason;
    o["netns"] = d.netns ? json(d.netns) : json(nullptr);
    o["where"] = endpoint_json(d.where);
    o["pid"] = nullptr;  // the listener's owner is not known in the drop path
    o["comm"] = nullptr;
    o["count"] = d.count;
    drops.push_back(std::move(o));
  }
  j["drops"] = std::move(drops);
  json syn = json::array();
  for (const auto& s : r.syn_retransmits) {
    json o;
    o["pid"] = pid_json(s.pid);
    o["comm"] = comm_json(s.pid, s.comm);
    o["netns"] = s.netns ? json(s.netns) : json(nullptr);
    o["destination"] = endpoint_json(s.destination);
    o["count"] = s.count;
    syn.push_back(std::move(o));
  }
  j["syn_retransmits"] = std::move(syn);
  j["missing"] = r.missing;
  return j;
}

std::string trace_text(const TraceResult& r, const TraceScope& scope) {
  std::string t = "conndoctor trace: " + fixed(r.duration_s, 1) + " s, " + scope.label +
                  (scope.interrupted ? _(" (interrupted)") : "") + "\n";
  if (r.failures.empty() && r.churn.empty() && r.drops.empty() && r.syn_retransmits.empty())
    t += _("\nnothing failed, no connection opened or closed, no resource drop\n");

  if (!r.failures.empty()) {
    t += _("\nfailed calls\n");
    for (const auto& f : r.failures) {
      t += "  " + rpad(std::to_string(f.count), 8) + "  " + pad(f.op, 9) + " " +
           pad(f.err ? errno_label(f.err) : "-", 14) + " " + pad(who(f.pid, f.comm), 26);
      if (f.destination) t += (f.op == "bind" ? " bind " : " -> ") + f.destination->to_string();
      if (f.netns) t += "  netns " + std::to_string(f.netns);
      t += "\n";
    }
  }
  if (!r.churn.empty()) {
    t += _("\nchurn (connections this process opened while tracing)\n");
    for (const auto& c : r.churn) {
      t += "  " + pad(who(c.pid, c.comm), 26) + " -> " +
           pad(c.destination ? c.destination->to_string() : _("other"), 22) +
           _f(" opened {0}, closed {1} (local first {2}, remote first {3})", c.opened, c.closed,
              c.local_closed_first, c.remote_closed_first);
      if (auto p50 = c.lifetime_ms(0.5))
        t += _f(", lifetime p50 <= {0} ms, p99 <= {1} ms", fixed(*p50, 3),
                fixed(*c.lifetime_ms(0.99), 3));
      t += "\n";
    }
  }
  if (!r.drops.empty()) {
    t += _("\nkernel drops (a resource ran out)\n");
    for (const auto& d : r.drops) {
      t += "  " + rpad(std::to_string(d.count), 8) + "  " + pad(d.reason, 22);
      if (d.where) t += " at " + d.where->to_string();
      if (d.netns) t += "  netns " + std::to_string(d.netns);
      t += "\n";
    }
  }
  if (!r.syn_retransmits.empty()) {
    t += _("\nSYN retransmits (destinations that do not answer)\n");
    for (const auto& s : r.syn_retransmits) {
      t += "  " + rpad(std::to_string(s.count), 8) + "  " + pad(who(s.pid, s.comm), 26) + " -> " +
           (s.destination ? s.destination->to_string() : _("other")) + "\n";
    }
  }
  for (const auto& m : r.missing) t += _("\nmissing: ") + m;
  if (!r.missing.empty()) t += "\n";
  return t;
}

}  // namespace cd
