// Prometheus text exposition writer (see exposition.h).
#include "render/exposition.h"

#include <charconv>
#include <cmath>

namespace cd {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Shortest representation that round-trips; integral values come out without ".0".
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

void Exposition::add(const MetricFamily& f, double value, const MetricLabels& labels) {
  add_formatted(f, format_metric_value(value), labels);
}

void Exposition::add(const MetricFamily& f, int64_t value, const MetricLabels& labels) {
  // Integers are written exactly: a counter above 2^53 must not lose its last digits.
  add_formatted(f, std::to_string(value), labels);
}

void Exposition::add(const MetricFamily& f, uint64_t value, const MetricLabels& labels) {
  add_formatted(f, std::to_string(value), labels);
}

void Exposition::add_formatted(const MetricFamily& f, std::string_view value,
                               const MetricLabels& labels) {
  Block* block = nullptr;
  for (Block& b : blocks_) {
    if (b.family.name == f.name) {
      block = &b;
      break;
    }
  }
  if (!block) {
    blocks_.push_back(Block{f, {}, {}});
    block = &blocks_.back();
  }
  std::string label_text;
  if (!labels.empty()) {
    label_text += '{';
    bool first = true;
    for (const auto& [name, val] : labels) {
      if (!first) label_text += ',';
      first = false;
      label_text += name;
      label_text += "=\"";
      label_text += escape_label_value(val);
      label_text += '"';
    }
    label_text += '}';
  }
  if (!block->label_sets.insert(label_text).second) return;
  block->samples += f.name;
  block->samples += label_text;
  block->samples += ' ';
  block->samples += value;
  block->samples += '\n';
}

std::string Exposition::str() const {
  std::string out;
  for (const Block& b : blocks_) {
    out += "# HELP ";
    out += b.family.name;
    out += ' ';
    // HELP text escapes only backslash and newline.
    for (char c : b.family.help) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += "\n# TYPE ";
    out += b.family.name;
    out += b.family.type == MetricType::kCounter ? " counter\n" : " gauge\n";
    out += b.samples;
  }
  return out;
}

}  // namespace cd
