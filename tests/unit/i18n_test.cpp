// util/i18n: the language chosen from --lang words and the locale variables, and the text
// translated through the catalogue compiled from po/zh_CN.po (no zh_CN locale needed).
#include "util/i18n.h"

#include <gtest/gtest.h>

#include <clocale>
#include <cstdlib>
#include <string>

namespace cd {
namespace {

TEST(I18n, ParsesTheTwoLanguageWords) {
  EXPECT_EQ(parse_language("zh"), Language::kChinese);
  EXPECT_EQ(parse_language("en"), Language::kEnglish);
  EXPECT_FALSE(parse_language("fr"));
  EXPECT_FALSE(parse_language("ZH"));
  EXPECT_FALSE(parse_language(""));
  EXPECT_EQ(language_code(Language::kChinese), "zh");
  EXPECT_EQ(language_code(Language::kEnglish), "en");
}

TEST(I18n, ChineseLocalesGiveChinese) {
  EXPECT_EQ(language_from_locale(nullptr, nullptr, "zh_CN.UTF-8"), Language::kChinese);
  EXPECT_EQ(language_from_locale(nullptr, nullptr, "zh_CN"), Language::kChinese);
  EXPECT_EQ(language_from_locale(nullptr, nullptr, "zh_TW.UTF-8"), Language::kChinese);
  EXPECT_EQ(language_from_locale(nullptr, "zh_CN.UTF-8", nullptr), Language::kChinese);
  EXPECT_EQ(language_from_locale("zh_CN.UTF-8", nullptr, nullptr), Language::kChinese);
}

TEST(I18n, AnythingElseGivesEnglish) {
  EXPECT_EQ(language_from_locale(nullptr, nullptr, nullptr), Language::kEnglish);
  EXPECT_EQ(language_from_locale(nullptr, nullptr, "en_US.UTF-8"), Language::kEnglish);
  EXPECT_EQ(language_from_locale(nullptr, nullptr, "C.UTF-8"), Language::kEnglish);
  EXPECT_EQ(language_from_locale(nullptr, nullptr, "POSIX"), Language::kEnglish);
  EXPECT_EQ(language_from_locale(nullptr, nullptr, "de_DE"), Language::kEnglish);
}

TEST(I18n, TheFirstVariableSetDecides) {
  // LC_ALL over LC_MESSAGES over LANG, as setlocale() reads them; an empty one does not count.
  EXPECT_EQ(language_from_locale("C", "zh_CN.UTF-8", "zh_CN.UTF-8"), Language::kEnglish);
  EXPECT_EQ(language_from_locale("", "zh_CN.UTF-8", "en_US.UTF-8"), Language::kChinese);
  EXPECT_EQ(language_from_locale(nullptr, "en_US.UTF-8", "zh_CN.UTF-8"), Language::kEnglish);
  EXPECT_EQ(language_from_locale("", "", "zh_CN.UTF-8"), Language::kChinese);
}

TEST(I18n, ReadsThisProcesssEnvironment) {
  ::setenv("LC_ALL", "", 1);
  ::setenv("LC_MESSAGES", "zh_CN.UTF-8", 1);
  ::setenv("LANG", "en_US.UTF-8", 1);
  EXPECT_EQ(language_from_environment(), Language::kChinese);
  ::setenv("LC_ALL", "en_GB.UTF-8", 1);
  EXPECT_EQ(language_from_environment(), Language::kEnglish);
  ::unsetenv("LC_ALL");
  ::unsetenv("LC_MESSAGES");
  ::unsetenv("LANG");
  EXPECT_EQ(language_from_environment(), Language::kEnglish);
}

class I18nCatalogue : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("CONNDOCTOR_LOCALEDIR", CONNDOCTOR_LOCALE_DIR, 1); }
  void TearDown() override { set_language(Language::kEnglish); }
};

TEST_F(I18nCatalogue, EnglishIsTheMessageItself) {
  ASSERT_TRUE(set_language(Language::kEnglish));
  EXPECT_STREQ(_("critical"), "critical");
  EXPECT_EQ(_f("two readings {0} s apart", "2.0"), "two readings 2.0 s apart");
  EXPECT_EQ(_nf("{0} listener, overflows {1}, drops {2}", "{0} listeners, overflows {1}, drops {2}",
                2, 2, "0/s", "1/s"),
            "2 listeners, overflows 0/s, drops 1/s");
  EXPECT_EQ(_nf("{0} listener, overflows {1}, drops {2}", "{0} listeners, overflows {1}, drops {2}",
                1, 1, "0/s", "1/s"),
            "1 listener, overflows 0/s, drops 1/s");
}

TEST_F(I18nCatalogue, ChineseComesFromTheCatalogueWithoutAZhLocale) {
  ASSERT_TRUE(set_language(Language::kChinese)) << "no catalogue under " CONNDOCTOR_LOCALE_DIR;
  EXPECT_EQ(current_language(), Language::kChinese);
  EXPECT_STREQ(_("critical"), "严重");
  EXPECT_EQ(_f("two readings {0} s apart", "2.0"), "两次读数,间隔 2.0 s");
  // A translation may move the fields: {4} of {3} stays the right number.
  EXPECT_EQ(_f("  {0} -> {1} {2}: {3} of {4} ports ({5}), {6} closing\n", "a", "b", "tcp", 7, 9,
               "77.8%", 1),
            "  a -> b tcp: 9 个端口中已用 7 个(77.8%),1 个正在关闭\n");
  EXPECT_EQ(_nf("{0} listener, overflows {1}, drops {2}", "{0} listeners, overflows {1}, drops {2}",
                3, 3, "0/s", "1/s"),
            "3 个监听者,溢出 0/s,丢弃 1/s");
  // Not in the catalogue: the message itself.
  EXPECT_STREQ(_("no such message in the catalogue"), "no such message in the catalogue");
  // Back to English at once (what --json does after parsing).
  ASSERT_TRUE(set_language(Language::kEnglish));
  EXPECT_STREQ(_("critical"), "critical");
}

TEST_F(I18nCatalogue, EnglishPutsBackTheLocaleChineseChanged) {
  // The C library's own messages (strerror) follow LC_MESSAGES and LANGUAGE too: after --json
  // switched back to English they must not stay Chinese.
  ::unsetenv("LANGUAGE");
  const std::string before = std::setlocale(LC_MESSAGES, nullptr);
  ASSERT_TRUE(set_language(Language::kChinese));
  ASSERT_NE(std::getenv("LANGUAGE"), nullptr);
  EXPECT_STREQ(std::getenv("LANGUAGE"), "zh_CN");
  EXPECT_STREQ(std::setlocale(LC_MESSAGES, nullptr), "C.UTF-8");
  ASSERT_TRUE(set_language(Language::kEnglish));
  EXPECT_EQ(std::getenv("LANGUAGE"), nullptr);
  EXPECT_EQ(std::string(std::setlocale(LC_MESSAGES, nullptr)), before);
  // And Chinese again after that.
  ASSERT_TRUE(set_language(Language::kChinese));
  EXPECT_STREQ(_("warning"), "警告");
}

}  // namespace
}  // namespace cd
