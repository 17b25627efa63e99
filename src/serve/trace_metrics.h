// `serve --trace`: the tracer's counts as Prometheus counters. The tracer stays loaded for the
// exporter's life and its kernel maps only grow, so every series is a true counter. Series are
// labelled without the pid (a restarted process keeps its series) and bounded: the first
// `cap` label sets seen in a family get their own series, for good; later ones add to one
// series whose labels say "other". So a series never moves between "other" and its own, and
// no counter goes backwards.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "render/exposition.h"
#include "snapshot/trace_result.h"

namespace cd {

inline constexpr std::size_t kTraceSeriesCap = 50;  // per family, plus "other"

// Every family serve --trace may write (docs/metrics.md lists each once).
const std::vector<MetricFamily>& trace_metric_families();
// conndoctor_trace_up: 1 when the tracer's counts could be read for this scrape.
extern const MetricFamily kTraceUpFamily;

class TraceMetrics {
 public:
  explicit TraceMetrics(std::size_t cap = kTraceSeriesCap) : cap_(cap) {}
  // Writes the families for one scrape. Thread-safe (scrapes may overlap).
  void write(Exposition& out, const TraceResult& t);

 private:
  // The label values to use for `key` in `family`: itself once admitted, else "other".
  std::vector<std::string> admit(const std::string& family, const std::vector<std::string>& key);
  std::size_t cap_;
  std::mutex mu_;
  std::map<std::string, std::set<std::vector<std::string>>> admitted_;
};

}  // namespace cd
