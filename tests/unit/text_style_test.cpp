// util/text_style: wrapping, UTF-8 repair, colour.
#include "util/text_style.h"

#include <gtest/gtest.h>

#include <limits>

namespace cd {
namespace {

TEST(TextStyle, WrapHangingIndent) {
  EXPECT_EQ(wrap("aaa bbb ccc", 9, "> ", "  "), "> aaa bbb\n  ccc");
  EXPECT_EQ(wrap("  spaced   out  ", 80, "", ""), "spaced out");
  // A word longer than the line is kept whole, on its own line.
  EXPECT_EQ(wrap("a 0123456789abc b", 8, "", ""), "a\n0123456789abc\nb");
  EXPECT_EQ(wrap("", 10, "- ", "  "), "- ");
}

TEST(TextStyle, WrapItemsNeverSplitsAnItem) {
  std::vector<std::string> items{"ESTABLISHED 98", "TIME_WAIT 5000", "LISTEN 2"};
  EXPECT_EQ(wrap_items(items, ", ", 34, "x ", "  "),
            "x ESTABLISHED 98, TIME_WAIT 5000,\n  LISTEN 2");
  EXPECT_EQ(wrap_items(items, ", ", 200, "", ""), "ESTABLISHED 98, TIME_WAIT 5000, LISTEN 2");
  EXPECT_EQ(wrap_items({}, ", ", 10, "x", "y"), "x");
}

TEST(TextStyle, ValidUtf8) {
  EXPECT_EQ(valid_utf8("plain"), "plain");
  EXPECT_EQ(valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(valid_utf8("a\xff"
                       "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(valid_utf8("\xc3"), "\xef\xbf\xbd");                  // truncated sequence
  EXPECT_EQ(valid_utf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(valid_utf8(std::string_view("a\0b", 3)), std::string("a\0b", 3));
}

TEST(TextStyle, PrintableAndPaint) {
  EXPECT_EQ(printable("a\x1b[31mb\x7f\n"), "a?[31mb??");
  EXPECT_EQ(paint("x", Tone::kCritical, false), "x");
  EXPECT_EQ(paint("x", Tone::kCritical, true), "\x1b[1;31mx\x1b[0m");
  EXPECT_EQ(paint("x", Tone::kPlain, true), "x");
}

}  // namespace
}  // namespace cd
