// Chinese and English text through GNU gettext (docs/i18n.md): the language of this process,
// chosen by --lang or the locale variables, and the functions that mark and translate text.
// _("...") translates a message, N_("...") only marks one (static tables: translate it where
// it is used), _f("... {0} ... {1}", a, b) translates a format string and formats it (numbered
// fields only, so that a translation may reorder them and msgfmt --check-format checks them),
// _nf(singular, plural, n, ...) does the same with ngettext's plural choice.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

namespace cd {

enum class Language { kEnglish, kChinese };

// "zh" or "en" (what --lang accepts), else nullopt.
std::optional<Language> parse_language(std::string_view word);
std::string_view language_code(Language l);  // "zh", "en"
// The language the locale variables ask for: the first of LC_ALL, LC_MESSAGES, LANG that is
// set and not empty decides; a value starting with "zh" ("zh_CN.UTF-8", "zh_CN", "zh_TW")
// means Chinese, anything else (or none set) English.
Language language_from_locale(const char* lc_all, const char* lc_messages, const char* lang);
Language language_from_environment();  // the same with this process's environment

// Makes `l` the language of every later _() call. Chinese binds the text domain to the
// catalogue next to the binary (<exe dir>/locale, the build tree) or installed
// (<exe dir>/../share/locale); it needs no generated zh_CN locale. Returns false when Chinese
// was asked for and no catalogue was found (text then stays English).
bool set_language(Language l);
Language current_language();

const char* translate(const char* msgid);
const char* translate_plural(const char* singular, const char* plural, unsigned long n);

inline const char* _(const char* msgid) {
  return translate(msgid);
}

template <typename... Args>
std::string _f(const char* msgid, Args&&... args) {
  return fmt::format(fmt::runtime(translate(msgid)), std::forward<Args>(args)...);
}

template <typename... Args>
std::string _nf(const char* singular, const char* plural, unsigned long n, Args&&... args) {
  return fmt::format(fmt::runtime(translate_plural(singular, plural, n)),
                     std::forward<Args>(args)...);
}

}  // namespace cd

// Marks a string for the catalogue without translating it (xgettext keyword N_).
#define N_(text) text
