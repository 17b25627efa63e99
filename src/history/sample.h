// One sample of the flight recorder: the full report (conndoctor/report/v1, with its host
// block) and its text, plus the rows `history` queries without opening the report: each
// finding with its subject, and the headline figures charted over time. Built from the report
// JSON alone, so what is indexed is exactly what the report said.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/error.h"

namespace cd {

struct SampleFinding {
  std::string finding_id, subject, resource, severity, layer, title, destination, comm;
  std::optional<int64_t> pid;
  std::optional<double> figure;  // evidence.utilization when the finding has one
};

// A charted figure: kind "tuple" (key = destination, value = ports effectively in use, limit =
// the tuple's pool), "process_fds" (key = "pid comm", open fds vs soft RLIMIT_NOFILE),
// "conntrack" (count vs nf_conntrack_max), "time_wait" (count vs tcp_max_tw_buckets),
// "file_nr" (allocated vs fs.file-max), "failures_per_s" (key = counter; no limit).
struct SampleSeries {
  std::string kind, key;
  std::optional<double> value, limit;
};

// What the tracer (watch --trace) counted since the previous sample, one row per key:
// kind "failure" (op = "connect", "bind", "socket", ...; errno_name "EADDRNOTAVAIL"), "drop"
// (op = the kernel's drop reason; destination = where the packet went), "churn" (count =
// connections opened, closed = of those closed) or "syn_retransmit". From the report's "trace"
// member (conndoctor/trace/v1), as `check --trace --json` prints it.
struct SampleTraced {
  std::string kind, op, errno_name, destination, comm;
  std::optional<int64_t> pid, netns, closed;
  int64_t count = 0;
};

struct Sample {
  int64_t t_ms = 0;  // wall clock, Unix milliseconds
  std::string status, summary, netns, hostname, kernel;
  std::string report_json;  // the whole document, as `check --json` prints it
  std::string report_text;  // the text report, without colour
  std::vector<SampleFinding> findings;
  std::vector<SampleSeries> series;
  std::optional<double> traced_s;  // seconds the traced counts cover; unset: not tracing
  std::vector<SampleTraced> traced;
};

// How many of the hottest tuples and of the processes closest to their fd limit are charted.
inline constexpr std::size_t kChartedTuples = 5;
inline constexpr std::size_t kChartedProcesses = 5;

Sample make_sample(int64_t t_ms, const nlohmann::ordered_json& report, std::string text);

// The report and text as stored: zlib-compressed (encoding "zlib") or as is ("identity").
struct Encoded {
  std::string encoding;
  std::string report, text;
};
Encoded encode(const Sample& s);

struct StoredReport {
  int64_t sample_id = 0;
  int64_t t_ms = 0;
  std::string json;
  std::string text;
};
Result<std::string> decode(const std::string& encoding, const std::string& blob);

}  // namespace cd
