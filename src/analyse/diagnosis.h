// What one diagnosis produced, as plain data every later stage can hold: the snapshot and its
// analysis, and the same per network namespace for --all-netns. The order of statuses ("worst
// of") is defined here once.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analyse/analysis.h"
#include "snapshot/netns_info.h"
#include "snapshot/snapshot.h"

namespace cd {

struct Diagnosis {
  Snapshot snapshot;
  Analysis analysis;
};

struct NetnsResult {
  NetnsInfo ns;
  std::optional<Diagnosis> diagnosis;  // unset when it could not be diagnosed
  std::string error;                   // why not
};

// How bad a status is: ok 0 < unknown 1 < warning 2 < critical 3. "Could not diagnose" is
// worse than ok (something may be wrong) and better than a measured warning.
int severity_rank(Status s);
// The worse of two statuses.
Status worst_of(Status a, Status b);

// A namespace's status: its analysis's, or unknown when it could not be diagnosed.
Status status_of(const NetnsResult& r);
// The worst namespace's status (ok for none).
Status overall_status(const std::vector<NetnsResult>& results);
// Worst first; within a status the one with more critical and then warning findings first,
// then by label.
void sort_worst_first(std::vector<NetnsResult>& results);

}  // namespace cd
