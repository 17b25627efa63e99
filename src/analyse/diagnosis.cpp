// The order of statuses, and namespaces worst first.
#include "analyse/diagnosis.h"

#include <algorithm>

namespace cd {

namespace {

int count(const NetnsResult& r, Severity s) {
  if (!r.diagnosis) return 0;
  const auto& f = r.diagnosis->analysis.findings;
  return int(std::count_if(f.begin(), f.end(), [s](const Finding& x) { return x.severity == s; }));
}

}  // namespace

int severity_rank(Status s) {
  switch (s) {
    case Status::kCritical:
      return 3;
    case Status::kWarning:
      return 2;
    case Status::kUnknown:
      return 1;
    case Status::kOk:
      return 0;
  }
  return 0;
}

Status worst_of(Status a, Status b) {
  return severity_rank(b) > severity_rank(a) ? b : a;
}

Status status_of(const NetnsResult& r) {
  return r.diagnosis ? r.diagnosis->analysis.status : Status::kUnknown;
}

Status overall_status(const std::vector<NetnsResult>& results) {
  Status worst = Status::kOk;
  for (const NetnsResult& r : results) worst = worst_of(worst, status_of(r));
  return worst;
}

void sort_worst_first(std::vector<NetnsResult>& results) {
  std::stable_sort(results.begin(), results.end(), [](const NetnsResult& a, const NetnsResult& b) {
    int ra = severity_rank(status_of(a)), rb = severity_rank(status_of(b));
    if (ra != rb) return ra > rb;
    for (Severity s : {Severity::kCritical, Severity::kWarning})
      if (count(a, s) != count(b, s)) return count(a, s) > count(b, s);
    return a.ns.label() < b.ns.label();
  });
}

}  // namespace cd
