// Parses and prints the recorder's durations, sizes and times. Everything is UTC: a report
// attached to a ticket is read in other time zones than the one it was written in.
#include "history/time_spec.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <optional>
#include <regex>

namespace cd {

namespace {

std::optional<double> number_then_unit(std::string_view text, std::string& unit) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + i, v);
  if (ec != std::errc() || p != text.data() + i || !std::isfinite(v)) return std::nullopt;
  unit = std::string(text.substr(i));
  return v;
}

}  // namespace

Result<double> parse_duration_s(std::string_view text) {
  std::string unit;
  auto v = number_then_unit(text, unit);
  double mul = 0;
  if (unit.empty() || unit == "s")
    mul = 1;
  else if (unit == "m" || unit == "min")
    mul = 60;
  else if (unit == "h")
    mul = 3600;
  else if (unit == "d")
    mul = 86400;
  else if (unit == "w")
    mul = 7 * 86400;
  if (!v || mul == 0 || *v <= 0)
    return fail(fmt::format("'{}' is not a duration (e.g. 10s, 5m, 2h, 7d)", text));
  return *v * mul;
}

Result<uint64_t> parse_size_bytes(std::string_view text) {
  std::string unit;
  auto v = number_then_unit(text, unit);
  double mul = 0;
  if (unit.empty() || unit == "B")
    mul = 1;
  else if (unit == "k" || unit == "KiB" || unit == "K")
    mul = 1024;
  else if (unit == "KB" || unit == "kB")
    mul = 1e3;
  else if (unit == "MiB" || unit == "M")
    mul = 1024.0 * 1024;
  else if (unit == "MB")
    mul = 1e6;
  else if (unit == "GiB" || unit == "G")
    mul = 1024.0 * 1024 * 1024;
  else if (unit == "GB")
    mul = 1e9;
  if (!v || mul == 0 || *v <= 0 || *v * mul > 1e15)
    return fail(fmt::format("'{}' is not a size (e.g. 256MiB, 1GiB, 500MB)", text));
  return uint64_t(*v * mul);
}

Result<int64_t> parse_time_ms(std::string_view text, int64_t now_ms) {
  std::string s(text);
  auto bad = [&] {
    return fail("'" + s +
                "' is not a time: use a duration before now (2h, 30m), "
                "2026-12-01T03:12:00Z, '2026-12-01 03:12', 03:12 (today, UTC) or @UNIXSECONDS");
  };
  if (s.empty()) return bad();
  if (s[0] == '@') {
    std::string unit;
    auto v = number_then_unit(std::string_view(s).substr(1), unit);
    if (!v || !unit.empty()) return bad();
    return int64_t(*v * 1000);
  }
  if (auto d = parse_duration_s(s);
      d && !s.empty() && std::isalpha(static_cast<unsigned char>(s.back())))
    return now_ms - int64_t(*d * 1000);
  static const std::regex full(
      R"(^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|\+00:?00)?$)");
  static const std::regex clock(R"(^(\d{2}):(\d{2})(?::(\d{2}))?Z?$)");
  std::smatch m;
  std::tm tm{};
  auto field = [&](int i) { return m[i].matched ? std::stoi(m[i].str()) : 0; };
  if (std::regex_match(s, m, full)) {
    tm.tm_year = field(1) - 1900;
    tm.tm_mon = field(2) - 1;
    tm.tm_mday = field(3);
    tm.tm_hour = field(4);
    tm.tm_min = field(5);
    tm.tm_sec = field(6);
  } else if (std::regex_match(s, m, clock)) {
    std::time_t now = std::time_t(now_ms / 1000);
    gmtime_r(&now, &tm);
    tm.tm_hour = field(1);
    tm.tm_min = field(2);
    tm.tm_sec = field(3);
  } else {
    return bad();
  }
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return bad();
  std::tm check = tm;
  std::time_t t = timegm(&tm);
  if (t == std::time_t(-1) || tm.tm_mday != check.tm_mday) return bad();  // 2026-02-31
  return int64_t(t) * 1000;
}

std::string format_utc(int64_t t_ms) {
  std::time_t t = std::time_t(t_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace cd
