// `conndoctor explain` for people (wrapped text, colour on a terminal) and for machines
// (schema conndoctor/explain/v1, docs/explain.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "analyse/explain.h"

namespace cd {

std::string explain_text(const Explanation& e, bool color);
nlohmann::ordered_json explain_json(const Explanation& e);  // schema conndoctor/explain/v1

}  // namespace cd
