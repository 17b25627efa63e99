// util/format: numbers for people, and the two percent styles agreeing near 100 %.
#include "util/format.h"

#include <gtest/gtest.h>

#include <limits>

namespace cd {
namespace {

TEST(Format, Numbers) {
  EXPECT_EQ(fmt_num(2.0), "2");
  EXPECT_EQ(fmt_num(0.126, 2), "0.13");
  EXPECT_EQ(fmt_num(12.50, 2), "12.5");
  EXPECT_EQ(fmt_num(-0.001, 2), "0");
  EXPECT_EQ(fmt_num(std::numeric_limits<double>::quiet_NaN()), "?");
  EXPECT_EQ(fmt_pct(0.9523), "95.2%");
  EXPECT_EQ(fmt_pct(1.0), "100.0%");
  EXPECT_EQ(fmt_opt(std::nullopt), "?");
  EXPECT_EQ(fmt_opt(42), "42");
}

TEST(Format, Durations) {
  EXPECT_EQ(fmt_duration(0), "now");
  EXPECT_EQ(fmt_duration(45), "45s");
  EXPECT_EQ(fmt_duration(250), "4m10s");
  EXPECT_EQ(fmt_duration(7500), "2h05m");
  EXPECT_EQ(fmt_duration(3 * 86400 + 4 * 3600), "3d04h");
  EXPECT_EQ(fmt_duration(std::numeric_limits<double>::infinity()), "?");
}

TEST(Format, Counts) {
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(with_commas(999), "999");
  EXPECT_EQ(with_commas(28232), "28,232");
  EXPECT_EQ(with_commas(1048576), "1,048,576");
}

TEST(Format, Rates) {
  EXPECT_EQ(per_second(25.4), "25/s");
  EXPECT_EQ(per_second(4.0), "4.0/s");
  EXPECT_EQ(per_second(0.25), "0.25/s");
}

TEST(Format, PercentForTitles) {
  EXPECT_EQ(percent(0.94), "94%");
  EXPECT_EQ(percent(0.004), "0.4%");
  EXPECT_EQ(percent(0.996), "99.6%");
  EXPECT_EQ(percent(1.0), "100%");
  EXPECT_EQ(percent(std::numeric_limits<double>::quiet_NaN()), "?%");
}

// A pool that is not full never reads as full, in a title or in a table.
TEST(Format, PercentStylesAgreeNearFull) {
  for (double r : {0.9995, 0.99951, 0.9996, 0.99999}) {
    EXPECT_EQ(fmt_pct(r), "99.9%") << r;
    EXPECT_EQ(percent(r), "99.9%") << r;
  }
  EXPECT_EQ(fmt_pct(0.9994), "99.9%");
  EXPECT_EQ(fmt_pct(0.99949), "99.9%");
  EXPECT_EQ(fmt_pct(1.0), "100.0%");
  EXPECT_EQ(fmt_pct(0.99), "99.0%");
}

}  // namespace
}  // namespace cd
