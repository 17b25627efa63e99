// Derived figures of a snapshot: intervals and counter rates.
#include "snapshot/snapshot.h"

namespace cd {

uint32_t TupleUsage::in_use() const {
  uint32_t n = 0;
  for (uint32_t c : by_state) n += c;
  return n;
}

std::optional<int64_t> counter(const Reading& r, const std::string& name) {
  auto it = r.counters.find(name);
  if (it == r.counters.end()) return std::nullopt;
  return it->second;
}

std::optional<double> Snapshot::interval_s() const {
  if (!second) return std::nullopt;
  double dt = second->taken_at_s - first.taken_at_s;
  if (dt <= 0) return std::nullopt;
  return dt;
}

static std::optional<double> rate_of(std::optional<int64_t> a, std::optional<int64_t> b,
                                     std::optional<double> dt) {
  if (!a || !b || !dt) return std::nullopt;
  // A counter that went down was reset (namespace recreated, module reloaded, wrap): count
  // what it accumulated since the reset.
  int64_t delta = *b >= *a ? *b - *a : *b;
  return double(delta) / *dt;
}

std::optional<double> Snapshot::counter_rate(const std::string& name) const {
  if (!second) return std::nullopt;
  return rate_of(counter(first, name), counter(*second, name), interval_s());
}

std::optional<double> Snapshot::conntrack_stat_rate(const std::string& name) const {
  if (!second) return std::nullopt;
  auto get = [&](const Reading& r) -> std::optional<int64_t> {
    auto it = r.conntrack.stats.find(name);
    if (it == r.conntrack.stats.end()) return std::nullopt;
    return it->second;
  };
  return rate_of(get(first), get(*second), interval_s());
}

}  // namespace cd
