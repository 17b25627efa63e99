// What one refresh of `conndoctor top` shows, as plain data: the verdict, the hottest tuples,
// the processes nearest their fd limit, conntrack and SNAT fill, accept queues and traced
// failures. Built from a diagnosis (and what the tracer counted since the previous refresh)
// by make_frame(); the collector process sends it to the screen process as one JSON line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyse/analysis.h"
#include "snapshot/snapshot.h"
#include "snapshot/trace_result.h"
#include "util/error.h"

namespace cd {

struct TopTuple {
  std::string netns;  // "" for the only namespace shown
  std::string destination;
  uint32_t in_use = 0;  // effective: what blocks connect()
  uint32_t usable = 0;
  double utilization = 0;
  std::optional<double> new_per_s;
  std::optional<double> seconds_to_exhaustion;  // 0 = exhausted now
};

struct TopProcess {
  std::string netns;
  int32_t pid = 0;
  std::string comm;
  uint64_t fds = 0;
  std::optional<uint64_t> limit;  // nullopt: unlimited or unknown
  double fill() const { return limit && *limit ? double(fds) / double(*limit) : 0.0; }
};

struct TopSnat {
  std::string netns;
  std::string group;  // "198.18.0.1 -> 203.0.113.5:443/tcp"
  uint64_t entries = 0;
  uint64_t pool = 0;
  double utilization = 0;
};

struct TopListener {
  std::string netns;
  std::string local;
  uint32_t queue_len = 0;
  uint32_t queue_limit = 0;
  uint32_t syn_recv = 0;
};

struct TopFailure {
  std::string netns;
  std::string call;  // "connect() EADDRNOTAVAIL"
  int32_t pid = 0;
  std::string comm;
  std::string destination;  // "" when none
  double per_s = 0;
};

struct TopNamespace {
  std::string label;
  Status status = Status::kOk;
  std::string summary;
};

struct TopFrame {
  std::string scope;  // "this namespace", "namespace NAME", "every namespace"
  Status status = Status::kOk;
  std::string summary;           // the verdict line of the analysis (the worst namespace's)
  bool rates = false;            // a previous reading exists: new/s and exhaustion are measured
  std::vector<TopTuple> tuples;  // hottest first
  std::vector<TopProcess> processes;       // closest to their limit first
  std::optional<int64_t> conntrack_count;  // nullopt: no conntrack here
  std::optional<int64_t> conntrack_max;
  std::vector<TopSnat> snat;                     // most utilised first
  std::vector<TopListener> listeners;            // fullest accept queue first
  std::optional<double> listen_overflows_per_s;  // TcpExt.ListenOverflows
  std::optional<double> listen_drops_per_s;      // TcpExt.ListenDrops
  bool tracing = false;                          // failures below are measured
  std::string trace_status;                      // why not tracing, when not
  std::optional<double> failures_per_s;          // every traced failed call
  std::vector<TopFailure> failures;              // most frequent first
  std::vector<TopNamespace> namespaces;          // --all-netns: worst first
};

// The frame of one namespace's diagnosis. `traced` is what the tracer counted since the previous
// frame (its duration_s the time between the reads), or null when not tracing.
TopFrame make_frame(const Snapshot& snap, const Analysis& a, const TraceResult* traced);

// Several namespaces in one frame (--all-netns): rows tagged with their namespace and merged,
// the verdict the worst namespace's. A namespace that could not be diagnosed (no frame) is
// listed with its error and takes nothing from the others' figures.
TopFrame merge_frames(std::vector<std::pair<TopNamespace, std::optional<TopFrame>>> frames);

// Sorting the rows the way make_frame leaves them (also after a merge).
void sort_frame(TopFrame& f);

nlohmann::json frame_json(const TopFrame& f);
Result<TopFrame> frame_from_json(const nlohmann::json& j);

}  // namespace cd
