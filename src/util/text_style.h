// Small text helpers shared by the people-facing renderers (report and explain): ANSI
// colour, word wrapping with a hanging indent, and text made safe to print (numbers: format.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cd {

enum class Tone { kPlain, kOk, kInfo, kWarning, kCritical, kUnknown, kBold, kDim };

// `text` wrapped in the ANSI sequence for `tone` when `color`, else unchanged.
std::string paint(std::string_view text, Tone tone, bool color);

// Greedy word wrap to `width` columns: the first line starts with `first`, the following
// lines with `rest`. Words longer than a line are kept whole (commands, addresses); text with
// East Asian wide characters (Chinese) may also break before or after any of them.
std::string wrap(std::string_view text, std::size_t width, std::string_view first,
                 std::string_view rest);

// Terminal columns of UTF-8 text: East Asian wide characters count two, others one.
std::size_t text_columns(std::string_view s);

// Items joined by `sep`, wrapped like wrap() but never inside an item ("LISTEN 2").
std::string wrap_items(const std::vector<std::string>& items, std::string_view sep,
                       std::size_t width, std::string_view first, std::string_view rest);

// `s` with every invalid UTF-8 sequence replaced by U+FFFD: process names and paths are bytes,
// and a JSON document must be valid UTF-8 (nlohmann's dump() throws on invalid input).
std::string valid_utf8(std::string_view s);

// `s` with control characters (escape sequences a process name could smuggle into a
// terminal) replaced by '?'.
std::string printable(std::string_view s);

}  // namespace cd
