// Output helpers shared by the subcommands: whole-document writes, one-line errors, colour
// choice, and the host block that main adds to JSON documents.
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "cli/commands.h"
#include "render/report.h"

namespace cd {
namespace {

// Writes all of `s` to stdout or fails; a report is never left half-written without saying so.
bool write_all(const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(STDOUT_FILENO, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += std::size_t(n);
  }
  return true;
}

}  // namespace

int error_exit(const std::string& message) {
  std::fprintf(stderr, "conndoctor: %s\n", message.c_str());
  return kExitUnknown;
}

int emit(const std::string& output) {
  if (!write_all(output)) return error_exit("cannot write the report to stdout");
  return kExitOk;
}

bool use_color(ColorMode mode) {
  if (mode == ColorMode::kAlways) return true;
  if (mode == ColorMode::kNever) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  const char* term = std::getenv("TERM");
  if (term && std::string(term) == "dumb") return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

int exit_code_for(Status s) {
  switch (s) {
    case Status::kOk:
      return kExitOk;
    case Status::kWarning:
      return kExitWarning;
    case Status::kCritical:
      return kExitCritical;
    case Status::kUnknown:
      return kExitUnknown;
  }
  return kExitUnknown;
}

int print_diagnosis(const Diagnosis& d, const ReportStyle& style,
                    const nlohmann::ordered_json& extra, const std::string& preface,
                    const std::string& postscript) {
  std::string out;
  if (style.json) {
    auto doc = report_json(d.snapshot, d.analysis);
    for (const auto& [key, value] : extra.items()) doc[key] = value;
    doc["host"] = host_json();
    out = doc.dump(2) + "\n";
  } else {
    out = preface + report_text(d.snapshot, d.analysis, {use_color(style.color), style.verbose}) +
          postscript;
  }
  if (int rc = emit(out); rc != kExitOk) return rc;
  return exit_code_for(d.analysis.status);
}

nlohmann::ordered_json host_json() {
  nlohmann::ordered_json h;
  utsname u{};
  if (::uname(&u) == 0) {
    h["hostname"] = u.nodename;
    h["kernel"] = u.release;
  }
  std::time_t t = std::time(nullptr);
  char buf[32] = {};
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  h["generated_at"] = buf;
  h["conndoctor_version"] = CONNDOCTOR_VERSION;
  return h;
}

}  // namespace cd
