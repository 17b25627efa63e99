// `conndoctor history --html`: one self-contained HTML file (inline CSS and SVG, no script, no
// fetch of anything: a Content-Security-Policy of default-src 'none' says so to the browser)
// that can be attached to an incident ticket. Built from stored data alone.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "history/incidents.h"
#include "history/store.h"

namespace cd {

struct HtmlReportInput {
  HistoryWindow window;
  std::vector<SampleRow> samples;  // oldest first
  std::vector<Incident> incidents;
  std::vector<SeriesRow> series;
  std::vector<TracedRow> traced;              // watch --trace: failed calls per sample
  std::map<int64_t, nlohmann::json> reports;  // by sample id: each incident's peak, the last
  int64_t last_sample_id = 0;
};

std::string history_html(const HtmlReportInput& in);

// One line chart as inline SVG: each series over time, and its limit as a dashed red line.
struct ChartLine {
  std::string label;
  std::vector<std::pair<int64_t, double>> points;  // (t_ms, value), in time order
  std::vector<std::pair<int64_t, double>> limit;   // (t_ms, limit); may be empty
};
std::string svg_chart(const std::string& title, const std::vector<ChartLine>& lines, int64_t t0_ms,
                      int64_t t1_ms);

}  // namespace cd
