// `conndoctor explain "TEXT"`: maps an error message, kernel log line or errno to the
// connection resource behind it, its likely causes, the `check` findings to look at and the
// first commands to run. One table (explain_table()) holds all the knowledge.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace cd {

struct ExplainEntry {
  std::string_view id;                      // stable, e.g. "eaddrnotavail"
  std::string_view title;                   // the message as people see it
  std::string_view errno_name;              // "EADDRNOTAVAIL", "" for kernel log lines
  int errno_value = 0;                      // Linux errno, 0 when none
  std::vector<std::string_view> phrases;    // lower-case substrings that identify it
  std::vector<std::string_view> resources;  // finding resources, the most likely first
  std::string_view meaning;                 // what the kernel is saying, in one paragraph
  std::string_view causes_heading;          // "likely causes" or e.g. "instead"
  std::vector<std::string_view> causes;
  std::vector<std::string_view> findings;  // `check` finding ids; "conntrack.*" = every one
  std::vector<std::string_view> commands;  // first commands to run (read-only)
  std::vector<std::string_view> notes;
};

const std::vector<ExplainEntry>& explain_table();

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

std::string explain_text(const Explanation& e, bool color);
nlohmann::ordered_json explain_json(const Explanation& e);  // schema conndoctor/explain/v1

}  // namespace cd
