// A writer for the Prometheus text exposition format (version 0.0.4): metric families with
// HELP and TYPE lines, samples with escaped label values, each family written as one block.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cd {

enum class MetricType { kGauge, kCounter };

// A metric family as the code declares it: name (with its unit and, for counters, `_total`),
// type and one-line help.
struct MetricFamily {
  std::string_view name;
  MetricType type = MetricType::kGauge;
  std::string_view help;
};

using MetricLabels = std::vector<std::pair<std::string_view, std::string>>;

class Exposition {
 public:
  // Samples of one family may be added in any order relative to other families: each family
  // is kept in its own block, in the order of its first sample. A family that never gets a
  // sample (every value unknown) leaves no HELP/TYPE lines. A second sample with the same
  // labels in one family is dropped: Prometheus rejects a scrape with duplicate series.
  void add(const MetricFamily& f, double value, const MetricLabels& labels = {});
  void add(const MetricFamily& f, int64_t value, const MetricLabels& labels = {});
  void add(const MetricFamily& f, uint64_t value, const MetricLabels& labels = {});
  // Unknown values are omitted, never written as 0.
  template <typename T>
  void add_known(const MetricFamily& f, const std::optional<T>& value,
                 const MetricLabels& labels = {}) {
    if (value) add(f, *value, labels);
  }

  std::string str() const;  // the whole document, newline-terminated

 private:
  struct Block {
    MetricFamily family;
    std::string samples;
    std::set<std::string> label_sets;
  };
  void add_formatted(const MetricFamily& f, std::string_view value, const MetricLabels& labels);
  std::vector<Block> blocks_;
};

// "\" -> "\\", '"' -> "\"", newline -> "\n", as the text format requires in label values.
std::string escape_label_value(std::string_view v);
// A sample value: integers without a decimal point, others in the shortest exact form;
// NaN and infinities as the format spells them.
std::string format_metric_value(double v);

}  // namespace cd
