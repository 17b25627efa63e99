// The flight recorder's command-line values: durations ("10s", "7d"), sizes ("256MiB") and
// points in time ("2h" ago, "2026-12-01T03:12:00Z", "03:12" today, "@1764558720"), all UTC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.h"

namespace cd {

// "10s", "5m", "2h", "7d", "1w", or a plain number of seconds; > 0.
Result<double> parse_duration_s(std::string_view text);
// "256MiB", "1GiB", "500MB", "64k", or a plain number of bytes; > 0.
Result<uint64_t> parse_size_bytes(std::string_view text);
// A duration means that long before now_ms; else an absolute UTC time. Unix milliseconds.
Result<int64_t> parse_time_ms(std::string_view text, int64_t now_ms);
// "2026-12-01T03:12:04Z".
std::string format_utc(int64_t t_ms);

}  // namespace cd
