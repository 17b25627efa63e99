// Numbers for people, one set for every renderer and rule: counts with thousands separators,
// percentages (compact for titles, one decimal for tables: both never round up to "100%"
// unless it is full), rates, durations and unknowns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cd {

// "28,232"
std::string with_commas(uint64_t n);
// "94%", "0.4%", "99.6%", for titles: whole percent, one decimal below 1 % and near 100 %.
std::string percent(double ratio);
// "95.2%", "99.9%" for 0.9996, for tables: always one decimal, never rounded up to 100.0%.
std::string fmt_pct(double ratio);
// "4.0/s", "0.25/s", "12/s"
std::string per_second(double rate);
// "12", "3.5", "0.25": at most `decimals` decimals, trailing zeros dropped.
std::string fmt_num(double v, int decimals = 2);
// "now", "45s", "4m10s", "2h05m", "3d04h".
std::string fmt_duration(double seconds);
// The value or "?" when unknown.
std::string fmt_opt(std::optional<int64_t> v);

}  // namespace cd
