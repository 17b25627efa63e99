// Renderers for `check --all-netns`: one line per network namespace, worst first, for people;
// and a JSON document holding every namespace's full report with its label, for machines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analyse/diagnosis.h"

namespace cd {

inline constexpr const char* kNetnsSummarySchema = "conndoctor/netns-summary/v1";

// {"schema", "status", "summary", "namespaces": [{"netns", "inode", "name", "pid", "comm",
//  "current", "status", "summary", "report" (conndoctor/report/v1, or null), "error"}],
//  "missing": [namespaces listed but gone before they could be read]}
nlohmann::ordered_json netns_summary_json(const std::vector<NetnsResult>& results,
                                          const std::vector<std::string>& missing = {});

// A header line with the overall verdict, then "STATUS  NAMESPACE  VERDICT" per namespace in
// the order given (diagnose_all_netns sorts worst first); then a "missing:" list if any.
std::string netns_summary_text(const std::vector<NetnsResult>& results, bool color,
                               const std::vector<std::string>& missing = {});

}  // namespace cd
