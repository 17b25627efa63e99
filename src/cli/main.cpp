// conndoctor's entry point: parse the command line, run one subcommand from the table, turn
// its result into output and an exit status. The only place that prints errors and picks exit
// codes (0 ok/info, 1 warning, 2 critical, 3 could not diagnose or bad usage), so a report is
// either written whole or not at all.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "util/i18n.h"

namespace {

// The language asked for on the command line, read before CLI11 parses it: the help text of
// every option is built in that language. CLI11 validates the same option afterwards.
std::optional<cd::Language> language_argument(int argc, char** argv) {
  std::optional<cd::Language> lang;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--lang" && i + 1 < argc) {
      if (auto l = cd::parse_language(argv[i + 1])) lang = l;
    } else if (a.starts_with("--lang=")) {
      if (auto l = cd::parse_language(a.substr(7))) lang = l;
    }
  }
  return lang;
}

// Whether the parsed command line asks for JSON (`--json` of any parsed subcommand).
bool json_requested(CLI::App* app) {
  if (const CLI::Option* o = app->get_option_no_throw("--json"); o && o->count() > 0) return true;
  for (CLI::App* sub : app->get_subcommands())
    if (json_requested(sub)) return true;
  return false;
}

// CLI11's own words in --help (its formatter's labels).
void translate_help_labels(CLI::App& app) {
  auto f = app.get_formatter();
  for (const char* word :
       {N_("Usage"), N_("OPTIONS"), N_("SUBCOMMAND"), N_("SUBCOMMANDS"), N_("Positionals"),
        N_("REQUIRED"), N_("Options"), N_("Subcommands"), N_("TEXT"), N_("INT"), N_("UINT"),
        N_("FLOAT"), N_("WORD"), N_("SECONDS"), N_("DIR"), N_("FILE"), N_("PATH"), N_("Needs"),
        N_("Excludes")})
    f->label(word, cd::_(word));
}

// CLI11's group headings of every option and subcommand ("Options:", "Subcommands:").
void translate_groups(CLI::App* app) {
  for (CLI::Option* o : app->get_options())
    if (o->get_group() == "Options") o->group(cd::_("Options"));
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_group() == "Subcommands") sub->group(cd::_("Subcommands"));
    translate_groups(sub);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cd;
  set_language(language_argument(argc, argv).value_or(language_from_environment()));
  CLI::App app{_("conndoctor: which connection resource is running out, why, and what to do")};
  app.require_subcommand(1);
  // Options of conndoctor itself (--lang) may also follow the subcommand.
  app.fallthrough();
  translate_help_labels(app);
  app.set_help_flag("-h,--help", _("Print this help message and exit"));
  app.set_version_flag("--version", std::string("conndoctor ") + CONNDOCTOR_VERSION,
                       _("Display program version information and exit"));
  app.footer(
      _("Exit status: 0 ok, 1 warning, 2 critical, 3 could not diagnose or bad usage.\n"
        "Read-only: nothing changes a host setting (the lab works in namespaces it creates)."));
  std::string lang_word;
  app.add_option("--lang", lang_word,
                 _("language of the text for people: zh (Simplified Chinese) or en; default "
                   "from LC_ALL, LC_MESSAGES, LANG (zh_CN.UTF-8 -> zh). JSON and metrics stay "
                   "English"))
      ->check(CLI::IsMember({"zh", "en"}));

  // Subcommands come from one table (cli/commands.h); each adds its options to its own
  // CLI::App and returns the handler to run once parsing succeeded.
  std::vector<std::pair<CLI::App*, std::function<int()>>> handlers;
  for (const Command& c : commands()) {
    CLI::App* sub = app.add_subcommand(std::string(c.name), _(std::string(c.description).c_str()));
    handlers.emplace_back(sub, c.setup(*sub));
  }

  if (current_language() != Language::kEnglish) translate_groups(&app);

  // CLI11 only says "a subcommand is required" for a misspelt one: name it.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const Command& c : commands()) known = known || c.name == argv[1];
    if (!known) return error_exit(_f("unknown subcommand '{0}' (see conndoctor --help)", argv[1]));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming what is wrong; usage goes to --help, not to the error path.
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return error_exit(what + " (see conndoctor --help)");
  }
  // JSON (and what serve and watch store or export) is machine English whatever the language.
  if (json_requested(&app) || app.got_subcommand("serve") || app.got_subcommand("watch"))
    set_language(Language::kEnglish);

  for (auto& [sub, run] : handlers)
    if (sub->parsed()) return run();
  return error_exit(_("no subcommand given (see conndoctor --help)"));
}
