// make_frame: the figures `top` shows, taken from one diagnosis; and their JSON line.
#include "top/top_frame.h"

#include <algorithm>
#include <map>

#include "analyse/diagnosis.h"
#include "util/i18n.h"
#include "util/text_style.h"

namespace cd {

namespace {

// Rows kept per table: more than any terminal shows, few enough for one pipe line.
constexpr std::size_t kRowsKept = 200;

template <class T>
void keep_first(std::vector<T>& v) {
  if (v.size() > kRowsKept) v.resize(kRowsKept);
}

std::string call_label(const TraceFailure& f) {
  if (f.op == "other") return _("other failed calls");
  return f.op + "() " + errno_label(f.err);
}

}  // namespace

TopFrame make_frame(const Snapshot& snap, const Analysis& a, const TraceResult* traced) {
  TopFrame f;
  f.scope = snap.netns.empty() ? std::string(_("this namespace")) : _f("namespace {0}", snap.netns);
  f.status = a.status;
  f.summary = printable(a.summary);
  f.rates = snap.second.has_value();
  const Reading& now = snap.now();

  for (const TupleStat& t : a.ports.tuples) {
    TopTuple row;
    row.destination = t.key.destination().to_string();
    row.in_use = t.effective_in_use;
    row.usable = t.usable;
    row.utilization = t.utilization;
    row.new_per_s = t.new_per_s;
    row.seconds_to_exhaustion = t.seconds_to_exhaustion;
    f.tuples.push_back(std::move(row));
  }

  for (const ProcessInfo& p : now.processes) {
    if (!p.open_fds) continue;
    TopProcess row;
    row.pid = p.pid;
    row.comm = printable(p.comm);
    row.fds = *p.open_fds;
    row.limit = p.fd_soft_limit;
    f.processes.push_back(std::move(row));
  }

  if (now.conntrack.available) {
    f.conntrack_count = now.conntrack.count;
    f.conntrack_max = now.conntrack.max;
  }
  for (const SnatGroup& g : now.conntrack_table.snat) {
    TopSnat row;
    row.group =
        g.nat_ip.to_string() + " -> " + g.dst.to_string() + "/" + ct_protocol_name(g.protocol);
    row.entries = g.entries;
    row.pool = g.port_range.size();
    row.utilization = g.utilization();
    f.snat.push_back(std::move(row));
  }

  for (const Listener& l : now.sockets.listeners) {
    TopListener row;
    row.local = l.local.to_string();
    row.queue_len = l.queue_len;
    row.queue_limit = l.queue_limit;
    row.syn_recv = l.syn_recv;
    f.listeners.push_back(std::move(row));
  }
  f.listen_overflows_per_s = snap.counter_rate("TcpExt.ListenOverflows");
  f.listen_drops_per_s = snap.counter_rate("TcpExt.ListenDrops");

  if (traced) {
    f.tracing = true;
    double total = 0;
    const double d = traced->duration_s > 0 ? traced->duration_s : 0;
    for (const TraceFailure& t : traced->failures) {
      TopFailure row;
      row.call = call_label(t);
      row.pid = t.pid;
      row.comm = printable(t.comm);
      if (t.destination) row.destination = t.destination->to_string();
      row.per_s = d > 0 ? double(t.count) / d : 0;
      total += row.per_s;
      f.failures.push_back(std::move(row));
    }
    if (d > 0) f.failures_per_s = total;
  }
  sort_frame(f);
  return f;
}

void sort_frame(TopFrame& f) {
  std::stable_sort(f.tuples.begin(), f.tuples.end(), [](const TopTuple& a, const TopTuple& b) {
    return a.utilization > b.utilization;
  });
  std::stable_sort(f.processes.begin(), f.processes.end(),
                   [](const TopProcess& a, const TopProcess& b) {
                     if (a.fill() != b.fill()) return a.fill() > b.fill();
                     return a.fds > b.fds;
                   });
  std::stable_sort(f.snat.begin(), f.snat.end(), [](const TopSnat& a, const TopSnat& b) {
    return a.utilization > b.utilization;
  });
  auto queue_fill = [](const TopListener& l) {
    return l.queue_limit ? double(l.queue_len) / l.queue_limit : 0.0;
  };
  std::stable_sort(f.listeners.begin(), f.listeners.end(),
                   [&](const TopListener& a, const TopListener& b) {
                     if (queue_fill(a) != queue_fill(b)) return queue_fill(a) > queue_fill(b);
                     return a.syn_recv > b.syn_recv;
                   });
  std::stable_sort(f.failures.begin(), f.failures.end(),
                   [](const TopFailure& a, const TopFailure& b) { return a.per_s > b.per_s; });
  keep_first(f.tuples);
  keep_first(f.processes);
  keep_first(f.snat);
  keep_first(f.listeners);
  keep_first(f.failures);
}

TopFrame merge_frames(std::vector<std::pair<TopNamespace, std::optional<TopFrame>>> frames) {
  TopFrame out;
  out.scope = _("every namespace");
  std::optional<double> failures, overflows, drops;
  auto add = [](std::optional<double>& sum, std::optional<double> v) {
    if (v) sum = sum.value_or(0) + *v;
  };
  bool any = false, rates = true, tracing = true;
  for (auto& [ns, frame] : frames) {
    out.namespaces.push_back(ns);
    if (severity_rank(ns.status) > severity_rank(out.status) || out.summary.empty()) {
      out.status = ns.status;
      out.summary = ns.label + ": " + ns.summary;
    }
    if (!frame) continue;
    TopFrame& f = *frame;
    any = true;
    rates = rates && f.rates;
    tracing = tracing && f.tracing;
    if (out.trace_status.empty()) out.trace_status = f.trace_status;
    auto tag = [&](auto& rows, auto& into) {
      for (auto& r : rows) {
        r.netns = ns.label;
        into.push_back(std::move(r));
      }
    };
    tag(f.tuples, out.tuples);
    tag(f.processes, out.processes);
    tag(f.snat, out.snat);
    tag(f.listeners, out.listeners);
    tag(f.failures, out.failures);
    if (f.conntrack_count)
      out.conntrack_count = out.conntrack_count.value_or(0) + *f.conntrack_count;
    if (f.conntrack_max) out.conntrack_max = f.conntrack_max;  // global: the same everywhere
    add(overflows, f.listen_overflows_per_s);
    add(drops, f.listen_drops_per_s);
    add(failures, f.failures_per_s);
  }
  out.rates = any && rates;
  out.tracing = any && tracing;
  out.listen_overflows_per_s = overflows;
  out.listen_drops_per_s = drops;
  out.failures_per_s = failures;
  std::stable_sort(out.namespaces.begin(), out.namespaces.end(),
                   [](const TopNamespace& a, const TopNamespace& b) {
                     return severity_rank(a.status) > severity_rank(b.status);
                   });
  sort_frame(out);
  return out;
}

// ---- the JSON line ----

namespace {

template <class T>
nlohmann::json opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}
template <class T>
std::optional<T> get_opt(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<T>();
}

}  // namespace

nlohmann::json frame_json(const TopFrame& f) {
  nlohmann::json j;
  j["scope"] = f.scope;
  j["status"] = int(f.status);
  j["summary"] = valid_utf8(f.summary);
  j["rates"] = f.rates;
  for (const auto& t : f.tuples)
    j["tuples"].push_back({{"netns", valid_utf8(t.netns)},
                           {"destination", t.destination},
                           {"in_use", t.in_use},
                           {"usable", t.usable},
                           {"utilization", t.utilization},
                           {"new_per_s", opt(t.new_per_s)},
                           {"seconds_to_exhaustion", opt(t.seconds_to_exhaustion)}});
  for (const auto& p : f.processes)
    j["processes"].push_back({{"netns", valid_utf8(p.netns)},
                              {"pid", p.pid},
                              {"comm", valid_utf8(p.comm)},
                              {"fds", p.fds},
                              {"limit", opt(p.limit)}});
  j["conntrack_count"] = opt(f.conntrack_count);
  j["conntrack_max"] = opt(f.conntrack_max);
  for (const auto& s : f.snat)
    j["snat"].push_back({{"netns", valid_utf8(s.netns)},
                         {"group", s.group},
                         {"entries", s.entries},
                         {"pool", s.pool},
                         {"utilization", s.utilization}});
  for (const auto& l : f.listeners)
    j["listeners"].push_back({{"netns", valid_utf8(l.netns)},
                              {"local", l.local},
                              {"queue_len", l.queue_len},
                              {"queue_limit", l.queue_limit},
                              {"syn_recv", l.syn_recv}});
  j["listen_overflows_per_s"] = opt(f.listen_overflows_per_s);
  j["listen_drops_per_s"] = opt(f.listen_drops_per_s);
  j["tracing"] = f.tracing;
  j["trace_status"] = valid_utf8(f.trace_status);
  j["failures_per_s"] = opt(f.failures_per_s);
  for (const auto& x : f.failures)
    j["failures"].push_back({{"netns", valid_utf8(x.netns)},
                             {"call", x.call},
                             {"pid", x.pid},
                             {"comm", valid_utf8(x.comm)},
                             {"destination", x.destination},
                             {"per_s", x.per_s}});
  for (const auto& n : f.namespaces)
    j["namespaces"].push_back({{"label", valid_utf8(n.label)},
                               {"status", int(n.status)},
                               {"summary", valid_utf8(n.summary)}});
  return j;
}

Result<TopFrame> frame_from_json(const nlohmann::json& j) {
  try {
    TopFrame f;
    f.scope = j.at("scope").get<std::string>();
    int st = j.at("status").get<int>();
    if (st < 0 || st > 3) return fail("top frame: status " + std::to_string(st));
    f.status = Status(st);
    f.summary = j.at("summary").get<std::string>();
    f.rates = j.at("rates").get<bool>();
    auto rows = [&](const char* key) {
      return j.contains(key) && j.at(key).is_array() ? j.at(key) : nlohmann::json::array();
    };
    for (const auto& t : rows("tuples"))
      f.tuples.push_back({t.at("netns"), t.at("destination"), t.at("in_use"), t.at("usable"),
                          t.at("utilization"), get_opt<double>(t, "new_per_s"),
                          get_opt<double>(t, "seconds_to_exhaustion")});
    for (const auto& p : rows("processes"))
      f.processes.push_back(
          {p.at("netns"), p.at("pid"), p.at("comm"), p.at("fds"), get_opt<uint64_t>(p, "limit")});
    f.conntrack_count = get_opt<int64_t>(j, "conntrack_count");
    f.conntrack_max = get_opt<int64_t>(j, "conntrack_max");
    for (const auto& s : rows("snat"))
      f.snat.push_back(
          {s.at("netns"), s.at("group"), s.at("entries"), s.at("pool"), s.at("utilization")});
    for (const auto& l : rows("listeners"))
      f.listeners.push_back(
          {l.at("netns"), l.at("local"), l.at("queue_len"), l.at("queue_limit"), l.at("syn_recv")});
    f.listen_overflows_per_s = get_opt<double>(j, "listen_overflows_per_s");
    f.listen_drops_per_s = get_opt<double>(j, "listen_drops_per_s");
    f.tracing = j.at("tracing").get<bool>();
    f.trace_status = j.at("trace_status").get<std::string>();
    f.failures_per_s = get_opt<double>(j, "failures_per_s");
    for (const auto& x : rows("failures"))
      f.failures.push_back({x.at("netns"), x.at("call"), x.at("pid"), x.at("comm"),
                            x.at("destination"), x.at("per_s")});
    for (const auto& n : rows("namespaces")) {
      int ns = n.at("status").get<int>();
      if (ns < 0 || ns > 3) return fail("top frame: status " + std::to_string(ns));
      f.namespaces.push_back({n.at("label"), Status(ns), n.at("summary")});
    }
    return f;
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("top frame: ") + e.what());
  }
}

}  // namespace cd
