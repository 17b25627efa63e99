// Shared evidence and title formatting for the rules (see evidence.h).
#include "analyse/evidence.h"
#include "util/i18n.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cd {

Evidence rounded(double v, int decimals) {
  if (!std::isfinite(v)) return nullptr;
  double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

Evidence rounded(const std::optional<double>& v, int decimals) {
  return v ? rounded(*v, decimals) : Evidence(nullptr);
}

void put_rate(Evidence& ev, std::string_view key, const Snapshot& snap,
              const std::optional<double>& rate) {
  std::string k(key);
  if (rate) {
    ev[k] = rounded(*rate, 2);
    return;
  }
  ev[k] = nullptr;
  ev["rate_note"] = snap.second ? _("rate unknown (counter not readable in both readings)")
                                : _("rate unknown (one reading)");
}

const ProcessInfo* find_process(const Reading& r, int32_t pid) {
  for (const ProcessInfo& p : r.processes)
    if (p.pid == pid) return &p;
  return nullptr;
}

void put_process(Evidence& ev, const Reading& r, std::optional<int32_t> pid) {
  const ProcessInfo* p = pid ? find_process(r, *pid) : nullptr;
  ev["pid"] = pid ? Evidence(*pid) : Evidence(nullptr);
  ev["comm"] = p ? Evidence(p->comm) : Evidence(nullptr);
  put_identity(ev, p);
}

void put_identity(Evidence& ev, const ProcessInfo* p) {
  const ContainerIdentity* c = p && p->container ? &*p->container : nullptr;
  auto opt = [](const std::optional<std::string>& v) {
    return v && !v->empty() ? Evidence(*v) : Evidence(nullptr);
  };
  ev["pod"] = c ? opt(c->pod) : Evidence(nullptr);
  ev["pod_namespace"] = c ? opt(c->pod_namespace) : Evidence(nullptr);
  ev["container"] = c ? Evidence(c->container_name()) : Evidence(nullptr);
  ev["container_id"] = c ? Evidence(c->container_id) : Evidence(nullptr);
}

std::string process_title(const ProcessInfo& p) {
  std::string out = fmt::format("pid {} ({})", p.pid, p.comm);
  if (p.container) out += " in " + p.container->label();
  return out;
}

std::optional<int32_t> listener_pid(const Reading& r, const Listener& l) {
  if (l.inode == 0) return std::nullopt;
  auto it = r.listener_owner.find(l.inode);
  if (it == r.listener_owner.end()) return std::nullopt;
  return it->second;
}

std::optional<int32_t> listener_pid(const Reading& r, const UnixListener& l) {
  if (l.inode == 0) return std::nullopt;
  auto it = r.listener_owner.find(l.inode);
  if (it == r.listener_owner.end()) return std::nullopt;
  return it->second;
}

std::optional<double> ratio(const std::optional<int64_t>& a, const std::optional<int64_t>& b) {
  if (!a || !b || *b <= 0) return std::nullopt;
  return double(*a) / double(*b);
}

void append_capped(std::vector<Finding>& kept, std::vector<Finding>& out, std::size_t n,
                   std::string_view what) {
  if (kept.empty()) return;
  std::stable_sort(kept.begin(), kept.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  std::size_t others = kept.size() > n ? kept.size() - n : 0;
  kept.resize(std::min(kept.size(), n));
  if (others > 0) kept.front().evidence[fmt::format("others_{}", what)] = others;
  for (Finding& f : kept) out.push_back(std::move(f));
}

// The process behind a tuple. TIME_WAIT sockets belong to no process (inode 0), so the owner is
// inferred from the live sockets to the same tuple; the share of those it holds is the
// confidence.
std::optional<int32_t> tuple_owner_pid(const Reading& r, const TupleKey& key) {
  for (const TupleOwner& o : r.tuple_owners) {
    if (!(o.key == key) || o.pids.empty()) continue;
    return std::max_element(o.pids.begin(), o.pids.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; })
        ->first;
  }
  return std::nullopt;
}

void put_runtime(Evidence& ev, const RuntimeInfo* rt) {
  ev["runtime"] = rt ? Evidence(rt->name) : Evidence(nullptr);
  ev["runtime_version"] = rt && !rt->version.empty() ? Evidence(rt->version) : Evidence(nullptr);
  ev["runtime_detected_by"] = rt ? Evidence(rt->how) : Evidence(nullptr);
}

void put_tuple_owner(Evidence& ev, const Reading& r, const TupleKey& key) {
  const TupleOwner* owner = nullptr;
  for (const TupleOwner& o : r.tuple_owners)
    if (o.key == key) owner = &o;
  if (!owner || owner->pids.empty()) {
    put_process(ev, r, std::nullopt);
    ev["owner_inferred"] = nullptr;
    ev["confidence"] = nullptr;
    return;
  }
  auto top = std::max_element(owner->pids.begin(), owner->pids.end(),
                              [](const auto& a, const auto& b) { return a.second < b.second; });
  uint64_t all = 0;
  for (const auto& [pid, n] : owner->pids) all += n;
  double share = all ? double(top->second) / double(all) : 0.0;
  put_process(ev, r, top->first);
  ev["owner_inferred"] = true;
  ev["confidence"] = share >= 0.99 ? "high" : share >= 0.5 ? "medium" : "low";
  ev["owner_share_of_live_sockets"] = rounded(share, 2);
}

}  // namespace cd
