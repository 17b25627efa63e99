// Numbers for people: see format.h.
#include "util/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cd {

namespace {

// One decimal, rounded down when rounding would reach 100: "99.96%" of a pool is not full, and
// "100.0%" would read as full.
double one_decimal_below_full(double pct) {
  if (pct < 100.0 && std::round(pct * 10.0) >= 1000.0) return std::floor(pct * 10.0) / 10.0;
  return pct;
}

}  // namespace

std::string with_commas(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  int since = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (since == 3) {
      out.push_back(',');
      since = 0;
    }
    out.push_back(*it);
    ++since;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string percent(double ratio) {
  double v = ratio * 100.0;
  if (!std::isfinite(v)) return "?%";
  // 99.6% must not print as "100%": that would read as "full".
  if (v >= 99.5 && v < 100.0) return fmt::format("{:.1f}%", std::floor(v * 10.0) / 10.0);
  if (v > 0 && v < 1.0) return fmt::format("{:.1f}%", v);
  return fmt::format("{:.0f}%", v);
}

std::string fmt_pct(double ratio) {
  if (!std::isfinite(ratio)) return "?";
  return fmt::format("{:.1f}%", one_decimal_below_full(ratio * 100.0));
}

std::string per_second(double rate) {
  if (rate >= 10) return fmt::format("{:.0f}/s", rate);
  if (rate >= 1) return fmt::format("{:.1f}/s", rate);
  return fmt::format("{:.2f}/s", rate);
}

std::string fmt_num(double v, int decimals) {
  if (!std::isfinite(v)) return "?";
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string fmt_duration(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  if (seconds <= 0.5) return "now";
  auto s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

std::string fmt_opt(std::optional<int64_t> v) {
  return v ? std::to_string(*v) : "?";
}

}  // namespace cd
