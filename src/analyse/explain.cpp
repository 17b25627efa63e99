// The explain matcher: which entries of the table free text names, by phrase, errno name or
// errno number.
#include "analyse/explain.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>

#include <fmt/format.h>

#include "util/text_style.h"

namespace cd {

namespace {

struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  const ExplainEntry* entry = nullptr;
};

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const ExplainEntry* entry_for_errno(int value) {
  for (const ExplainEntry& e : explain_table())
    if (e.errno_value != 0 && e.errno_value == value) return &e;
  return nullptr;
}

// Reads "-?digits" at `i` (after optional separators); the number must end at a non-word char.
std::optional<int> read_number(const std::string& s, std::size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == ':' || s[i] == '=' || s[i] == '(' || s[i] == '[' ||
                          s[i] == '#' || s[i] == '\t'))
    ++i;
  if (i < s.size() && s[i] == '-') ++i;  // kernel-style negative errno: "-99"
  std::size_t start = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - start < 6) ++i;
  if (i == start || (i < s.size() && is_word_char(s[i]))) return std::nullopt;
  return std::stoi(s.substr(start, i - start));
}

// "errno 99", "[Errno 99]", "os error 99", "error=99", "err -99", or the whole text a number.
void errno_number_spans(const std::string& s, std::vector<Span>& out) {
  std::size_t first = s.find_first_not_of(" \t\n");
  if (first != std::string::npos) {
    std::size_t i = first;
    auto n = read_number(s, i);
    if (n && s.find_first_not_of(" \t\n", i) == std::string::npos)
      if (const ExplainEntry* e = entry_for_errno(*n)) out.push_back({first, i, e});
  }
  for (std::size_t at = s.find("err"); at != std::string::npos; at = s.find("err", at + 1)) {
    if (at > 0 && std::isalpha(static_cast<unsigned char>(s[at - 1]))) continue;
    std::size_t i = at + 3;
    if (s.compare(i, 2, "no") == 0 || s.compare(i, 2, "or") == 0) i += 2;
    auto n = read_number(s, i);
    if (!n) continue;
    if (const ExplainEntry* e = entry_for_errno(*n)) out.push_back({at, i, e});
  }
}

void phrase_spans(const std::string& s, std::vector<Span>& out) {
  for (const ExplainEntry& e : explain_table()) {
    for (std::string_view p : e.phrases)
      for (std::size_t at = s.find(p); at != std::string::npos; at = s.find(p, at + 1))
        out.push_back({at, at + p.size(), &e});
    if (e.errno_name.empty()) continue;
    std::string name = lower(e.errno_name);
    for (std::size_t at = s.find(name); at != std::string::npos; at = s.find(name, at + 1)) {
      std::size_t end = at + name.size();
      if ((at > 0 && is_word_char(s[at - 1])) || (end < s.size() && is_word_char(s[end]))) continue;
      out.push_back({at, end, &e});
    }
  }
}

}  // namespace

Result<Explanation> explain(std::string_view text) {
  std::string s = lower(text);
  if (s.find_first_not_of(" \t\n") == std::string::npos)
    return fail("explain: empty text (give an error message or an errno, e.g. EADDRNOTAVAIL)");
  std::vector<Span> spans;
  phrase_spans(s, spans);
  errno_number_spans(s, spans);

  // A span strictly inside a longer span of another entry is the generic form of a more
  // specific message ("too many open files" inside "... in system"): the longer one wins.
  std::vector<Span> kept;
  for (const Span& a : spans) {
    bool inside = std::any_of(spans.begin(), spans.end(), [&](const Span& b) {
      return b.entry != a.entry && b.begin <= a.begin && a.end <= b.end &&
             b.end - b.begin > a.end - a.begin;
    });
    if (!inside) kept.push_back(a);
  }
  std::stable_sort(kept.begin(), kept.end(), [](const Span& x, const Span& y) {
    if (x.begin != y.begin) return x.begin < y.begin;
    return x.end - x.begin > y.end - y.begin;
  });

  Explanation ex;
  ex.query = valid_utf8(text);
  for (const Span& sp : kept) {
    bool seen = std::any_of(ex.matches.begin(), ex.matches.end(),
                            [&](const ExplainMatch& m) { return m.entry == sp.entry; });
    if (!seen)
      ex.matches.push_back({sp.entry, valid_utf8(text.substr(sp.begin, sp.end - sp.begin))});
  }
  if (ex.matches.empty()) {
    std::string shown = printable(valid_utf8(text.substr(0, 80)));
    return fail(
        fmt::format("explain: no known error message or errno in \"{}\" (try e.g. "
                    "EADDRNOTAVAIL, \"too many open files\", errno 24)",
                    shown));
  }
  return ex;
}

}  // namespace cd
