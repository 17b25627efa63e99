// Renderers: the analysis and snapshot as text for people or JSON for machines (schema
// conndoctor/report/v1, docs/json-schema.md). Renderers never read the system.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "analyse/analysis.h"
#include "snapshot/snapshot.h"
#include "util/text_style.h"

namespace cd {

inline constexpr const char* kReportSchema = "conndoctor/report/v1";

nlohmann::ordered_json report_json(const Snapshot& snap, const Analysis& a);

struct TextOptions {
  bool color = false;
  bool verbose = false;  // all tuples/processes, not only the top few
};
std::string report_text(const Snapshot& snap, const Analysis& a, const TextOptions& opt);

// The colour a status is painted in, shared by every text renderer.
Tone tone_of(Status s);

}  // namespace cd
