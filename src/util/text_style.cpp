// ANSI colour, wrapping and number formatting for the text renderers.
#include "util/text_style.h"

#include <fmt/format.h>

#include <cmath>

namespace cd {

std::string paint(std::string_view text, Tone tone, bool color) {
  if (!color || tone == Tone::kPlain) return std::string(text);
  std::string_view code;
  switch (tone) {
    case Tone::kOk:
      code = "32";
      break;  // green
    case Tone::kInfo:
      code = "36";
      break;  // cyan
    case Tone::kWarning:
      code = "1;33";
      break;  // bold yellow
    case Tone::kCritical:
      code = "1;31";
      break;  // bold red
    case Tone::kUnknown:
      code = "1;35";
      break;  // bold magenta
    case Tone::kBold:
      code = "1";
      break;
    case Tone::kDim:
      code = "2";
      break;
    case Tone::kPlain:
      break;
  }
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

namespace {

// The UTF-8 sequence at s[i]: its length and the code point (U+FFFD when invalid).
std::pair<std::size_t, char32_t> next_char(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xe  ? 3
                    : (c >> 3) == 0x1e ? 4
                                       : 1;
  if (i + len > s.size()) return {1, U'\uFFFD'};
  if (len == 1) return {1, c < 0x80 ? char32_t(c) : U'\uFFFD'};
  char32_t cp = c & (0x7f >> len);
  for (std::size_t k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  return {len, cp};
}

// East Asian wide characters (CJK, their punctuation, full-width forms) take two columns, and a
// line may break before or after any of them (Chinese has no spaces between words).
bool is_wide(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
         (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
         (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
         (cp >= 0xffe0 && cp <= 0xffe6);
}

}  // namespace

std::size_t text_columns(std::string_view s) {
  std::size_t cols = 0;
  for (std::size_t i = 0; i < s.size();) {
    auto [len, cp] = next_char(s, i);
    cols += is_wide(cp) ? 2 : 1;
    i += len;
  }
  return cols;
}

std::string wrap(std::string_view text, std::size_t width, std::string_view first,
                 std::string_view rest) {
  std::string out(first);
  std::size_t col = text_columns(first);
  bool line_empty = true;
  auto new_line = [&] {
    out += '\n';
    out += rest;
    col = text_columns(rest);
    line_empty = true;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    std::size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\n' && text[j] != '\t') ++j;
    std::string_view word = text.substr(i, j - i);
    const std::size_t cols = text_columns(word);
    const bool breakable = cols != word.size();  // holds wide characters
    if (!line_empty && col + 1 + cols > width) {
      // A word with wide characters continues on this line and breaks at one of them.
      if (!breakable || col + 2 >= width) new_line();
    }
    if (!line_empty) {
      out += ' ';
      ++col;
    }
    if (!breakable || col + cols <= width) {
      out += word;
      col += cols;
    } else {
      bool prev_wide = false;
      for (std::size_t k = 0; k < word.size();) {
        auto [len, cp] = next_char(word, k);
        const bool wide = is_wide(cp);
        const std::size_t w = wide ? 2 : 1;
        if (col + w > width && !line_empty && (wide || prev_wide)) new_line();
        out += word.substr(k, len);
        col += w;
        line_empty = false;
        prev_wide = wide;
        k += len;
      }
    }
    line_empty = false;
    i = j;
  }
  return out;
}

std::string wrap_items(const std::vector<std::string>& items, std::string_view sep,
                       std::size_t width, std::string_view first, std::string_view rest) {
  std::string out(first);
  std::size_t col = text_columns(first);
  for (std::size_t i = 0; i < items.size(); ++i) {
    bool last = i + 1 == items.size();
    std::size_t need = text_columns(items[i]) + (last ? 0 : text_columns(sep));
    if (i > 0 && col + need > width) {
      while (!out.empty() && out.back() == ' ') out.pop_back();  // no trailing blanks
      out += '\n';
      out += rest;
      col = text_columns(rest);
    }
    out += items[i];
    if (!last) out += sep;
    col += need;
  }
  return out;
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xe  ? 3
                      : (c >> 3) == 0x1e ? 4
                                         : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && len > 1) {
      // Reject overlong forms, surrogates and code points above U+10FFFF.
      uint32_t cp = c & (0xff >> (len + 1));
      for (std::size_t k = 1; k < len; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

}  // namespace cd
