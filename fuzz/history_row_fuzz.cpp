// Fuzz target for what `conndoctor history` reads back from a flight-recorder database row: a
// stored report blob (first byte: 0 = zlib, else identity) decoded as the store does, parsed
// as JSON as `history --at`/`--html` do, and rendered into the HTML report as both the last
// sample and an incident's peak (a database is a file anyone with write access may have
// edited: a row of the wrong shape must not crash the report); and the time and size
// specifications of its options (--since/--until/--at, --max-size), from the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "history/html_report.h"
#include "history/sample.h"
#include "history/time_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cd;
  if (size == 0) return 0;
  const std::string blob(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string_view text(blob);
  (void)parse_duration_s(text);
  (void)parse_size_bytes(text);
  (void)parse_time_ms(text, 1700000000000);

  auto decoded = decode(data[0] == 0 ? "zlib" : "identity", blob);
  if (!decoded) return 0;
  auto doc = nlohmann::json::parse(*decoded, nullptr, false);
  if (doc.is_discarded()) return 0;

  HtmlReportInput in;
  in.window.database = "fuzz.db";
  in.window.from_ms = 1700000000000;
  in.window.to_ms = 1700000060000;
  in.window.samples = 2;
  in.window.first_ms = in.window.from_ms;
  in.window.last_ms = in.window.to_ms;
  in.samples = {{1, in.window.from_ms, "warning", "s"}, {2, in.window.to_ms, "critical", "s"}};
  Incident inc;
  inc.finding_id = "ephemeral_ports.tuple";
  inc.subject = "198.18.0.2:443";
  inc.resource = "ephemeral_ports";
  inc.severity = "critical";
  inc.started_ms = in.window.from_ms;
  inc.last_seen_ms = inc.peak_ms = in.window.to_ms;
  inc.peak_sample_id = 2;
  inc.samples = 2;
  in.incidents.push_back(inc);
  in.reports[2] = doc;
  in.last_sample_id = 2;
  (void)history_html(in);
  return 0;
}
