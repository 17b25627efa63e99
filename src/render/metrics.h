// The diagnosis as Prometheus metrics (docs/metrics.md): per-resource usage, limit and
// utilisation, the top-N tuples, processes and listeners only (bounded cardinality whatever the
// host does), counters as `_total` counters, one gauge per finding kind. Pure: never reads the
// system. Unknown figures are omitted, never exported as 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analyse/analysis.h"
#include "render/exposition.h"
#include "snapshot/snapshot.h"

namespace cd {

struct MetricsOptions {
  std::size_t top_tuples = 5;     // destination tuples, hottest first
  std::size_t top_processes = 5;  // processes, closest to their own fd limit first
  std::size_t top_listeners = 5;  // listeners, fullest accept queue first
  std::size_t top_snat = 5;       // SNAT groups, most entries first
};

// The exporter's own figures, kept by whoever runs the collections (serve/).
struct ExporterStats {
  bool up = false;                              // the last collection succeeded
  std::optional<double> collection_duration_s;  // of the collection behind this data
  std::optional<double> collection_age_s;       // how old that data is
  uint64_t collections_total = 0;
  uint64_t errors_total = 0;          // failed collections
  uint64_t scrapes_total = 0;         // /metrics requests answered
  uint64_t scrapes_shared_total = 0;  // answered without a collection of their own
};

// Appends the diagnosis metrics of one snapshot and its analysis.
void write_diagnosis_metrics(Exposition& out, const Snapshot& snap, const Analysis& a,
                             const MetricsOptions& opt);
// Appends conndoctor_up, scrape duration and error counters, build info.
void write_exporter_metrics(Exposition& out, const ExporterStats& s);

// Every family either function can write (for docs/metrics.md and its test).
const std::vector<MetricFamily>& all_metric_families();

// The diagnosis metrics alone, as a document.
std::string render_metrics(const Snapshot& snap, const Analysis& a, const MetricsOptions& opt);

}  // namespace cd
