// Incidents: one finding (id + subject) present in consecutive recorded samples is one
// incident, from the first sample that had it to the first sample that no longer did. A gap in
// the recording (the recorder was not running: two samples further apart than 5 times the
// usual spacing, and at least a minute) also ends an incident, whose end is then unknown.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "history/store.h"

namespace cd {

// Failed calls the tracer counted while an incident lasted (watch --trace), summed by who and
// what: "1,412 connect() EADDRNOTAVAIL by pid 42 client to 198.18.0.2:80".
struct IncidentFailure {
  std::string op, errno_name, comm, destination;
  std::optional<int64_t> pid;
  int64_t count = 0;
};

struct Incident {
  std::string finding_id, subject, resource, layer;
  std::string severity;      // the worst seen
  int64_t started_ms = 0;    // first sample that had it
  int64_t last_seen_ms = 0;  // last sample that had it
  // The first sample without it; unset while still active at the last sample, or when the
  // recording stopped after the last sample that had it (gap_after_ms).
  std::optional<int64_t> ended_ms;
  std::optional<int64_t> gap_after_ms;  // the next sample, after a gap in the recording
  int64_t peak_ms = 0;                  // worst severity, then highest figure
  int64_t peak_sample_id = 0;
  std::string peak_title;              // the title at the peak, with its key number
  std::optional<double> peak_figure;   // evidence.utilization at the peak
  std::string destination;             // who
  std::vector<std::string> processes;  // "pid comm", every one seen
  int samples = 0;
  // Traced failures from its first to its last sample, largest first; for a finding with a
  // destination, those to other destinations are left out. Unset: none of those samples was
  // traced (a traced window where nothing failed is an empty list).
  std::optional<std::vector<IncidentFailure>> failed;
};

std::vector<Incident> find_incidents(const std::vector<SampleRow>& samples,
                                     const std::vector<FindingRow>& findings,
                                     const std::vector<TracedRow>& traced = {});

struct HistoryWindow {
  std::string database;
  int64_t from_ms = 0, to_ms = 0;
  std::size_t samples = 0;
  std::optional<int64_t> first_ms, last_ms;  // of the samples in the window
};

nlohmann::ordered_json incidents_json(const HistoryWindow& w, const std::vector<Incident>& list);
std::string incidents_text(const HistoryWindow& w, const std::vector<Incident>& list, bool color);

}  // namespace cd
