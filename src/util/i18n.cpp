// The gettext binding behind util/i18n.h: the text domain "conndoctor", its catalogue found
// next to the binary, and the language switched without a generated zh_CN locale (LANGUAGE
// with LC_MESSAGES set to the built-in C.UTF-8, which glibc honours, unlike plain "C").
#include "util/i18n.h"

#include <libintl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <clocale>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace cd {

namespace {

constexpr const char* kDomain = "conndoctor";
std::atomic<Language> g_language{Language::kEnglish};

std::filesystem::path exe_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

// The directory holding zh_CN/LC_MESSAGES/conndoctor.mo: the build tree's, else the installed
// one relative to the binary (/usr/bin -> /usr/share/locale), else /usr/share/locale.
std::optional<std::string> catalogue_dir() {
  const std::filesystem::path rel = "zh_CN/LC_MESSAGES/conndoctor.mo";
  std::array<std::filesystem::path, 3> candidates;
  if (const char* env = std::getenv("CONNDOCTOR_LOCALEDIR"); env && *env) candidates[0] = env;
  if (auto dir = exe_dir(); !dir.empty()) {
    candidates[1] = dir / "locale";
    candidates[2] = dir.parent_path() / "share" / "locale";
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    if (!c.empty() && std::filesystem::is_regular_file(c / rel, ec)) return c.string();
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(std::filesystem::path("/usr/share/locale") / rel, ec))
    return std::string("/usr/share/locale");
  return std::nullopt;
}

// What Chinese changes in the process, kept to put back for English: a later --json (or the
// C library's own messages, strerror(), which follow LC_MESSAGES and LANGUAGE too) must not
// stay Chinese.
struct SavedLocale {
  std::optional<std::string> language;
  std::string messages = "C";
};
std::optional<SavedLocale> g_saved;  // set while Chinese is in effect

void deactivate_chinese();

bool activate_chinese() {
  static const std::optional<std::string> dir = catalogue_dir();
  if (!dir) return false;
  SavedLocale saved;
  if (const char* v = std::getenv("LANGUAGE")) saved.language = v;
  if (const char* m = std::setlocale(LC_MESSAGES, nullptr)) saved.messages = m;
  // glibc ignores LANGUAGE while LC_MESSAGES is "C"; C.UTF-8 is built into glibc 2.35+, so
  // this works where zh_CN.UTF-8 was never generated. A generated zh_CN locale works as well.
  if (!std::setlocale(LC_MESSAGES, "C.UTF-8") && !std::setlocale(LC_MESSAGES, "C.utf8"))
    return false;
  ::setenv("LANGUAGE", "zh_CN", 1);
  static const bool bound = ::bindtextdomain(kDomain, dir->c_str()) != nullptr &&
                            ::bind_textdomain_codeset(kDomain, "UTF-8") != nullptr;
  g_saved = std::move(saved);
  if (!bound) deactivate_chinese();
  return bound;
}

void deactivate_chinese() {
  if (!g_saved) return;
  if (g_saved->language)
    ::setenv("LANGUAGE", g_saved->language->c_str(), 1);
  else
    ::unsetenv("LANGUAGE");
  std::setlocale(LC_MESSAGES, g_saved->messages.c_str());
  g_saved.reset();
}

}  // namespace

std::optional<Language> parse_language(std::string_view word) {
  if (word == "zh") return Language::kChinese;
  if (word == "en") return Language::kEnglish;
  return std::nullopt;
}

std::string_view language_code(Language l) {
  return l == Language::kChinese ? "zh" : "en";
}

Language language_from_locale(const char* lc_all, const char* lc_messages, const char* lang) {
  for (const char* v : {lc_all, lc_messages, lang}) {
    if (!v || !*v) continue;
    return std::string_view(v).starts_with("zh") ? Language::kChinese : Language::kEnglish;
  }
  return Language::kEnglish;
}

Language language_from_environment() {
  return language_from_locale(std::getenv("LC_ALL"), std::getenv("LC_MESSAGES"),
                              std::getenv("LANG"));
}

bool set_language(Language l) {
  if (l == Language::kChinese && !g_saved && !activate_chinese()) {
    g_language = Language::kEnglish;
    return false;
  }
  if (l == Language::kEnglish) deactivate_chinese();
  g_language = l;
  return true;
}

Language current_language() {
  return g_language;
}

const char* translate(const char* msgid) {
  if (g_language == Language::kEnglish || !msgid || !*msgid) return msgid;
  return ::dgettext(kDomain, msgid);
}

const char* translate_plural(const char* singular, const char* plural, unsigned long n) {
  if (g_language == Language::kEnglish) return n == 1 ? singular : plural;
  return ::dngettext(kDomain, singular, plural, n);
}

}  // namespace cd
