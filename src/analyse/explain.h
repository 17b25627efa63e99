// `conndoctor explain "TEXT"`: finds the entries of the explain table (explain_table.h) that an
// error message, kernel log line or errno names. Rendering: render/explain_render.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "analyse/explain_table.h"
#include "util/error.h"

namespace cd {

struct ExplainMatch {
  const ExplainEntry* entry = nullptr;
  std::string matched;  // the part of the query that matched, as typed
};

struct Explanation {
  std::string query;
  std::vector<ExplainMatch> matches;  // in the order they appear in the query
};

// Case-insensitive: phrases as substrings, errno names as words, errno numbers as
// "errno 99", "[Errno 99]", "os error 99", "err=-99" or the bare number. A phrase inside a
// longer phrase of another entry yields to it ("too many open files in system" is ENFILE).
// Text that matches nothing is an error.
Result<Explanation> explain(std::string_view text);

}  // namespace cd
