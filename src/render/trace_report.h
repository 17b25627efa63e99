// `conndoctor trace` output: the JSON document (schema conndoctor/trace/v1, docs/trace.md)
// and the text report. Pure functions of a TraceResult: nothing here reads the system.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "snapshot/trace_result.h"

namespace cd {

struct TraceScope {
  std::optional<uint32_t> netns;  // the one namespace traced; nullopt: every namespace
  std::string label;              // "all network namespaces", "netns cdlab-1-x (inode N)"
  bool interrupted = false;       // ended early by SIGINT/SIGTERM
};

nlohmann::ordered_json trace_json(const TraceResult& r, const TraceScope& scope);
std::string trace_text(const TraceResult& r, const TraceScope& scope);

}  // namespace cd
