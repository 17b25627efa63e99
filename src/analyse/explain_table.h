// The knowledge behind `conndoctor explain`: one entry per error message, kernel log line or
// errno -- the resource behind it, what the kernel means, likely causes, the `check` findings to
// look at and the first read-only commands. Facts follow docs/explain.md; the texts name kernel
// functions where behaviour is subtle.
#pragma once

#include <string_view>
#include <vector>

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

}  // namespace cd
