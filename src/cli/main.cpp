// conndoctor's entry point: parse the command line, run one subcommand from the table, turn
// its result into output and an exit status. The only place that prints errors and picks exit
// codes (0 ok/info, 1 warning, 2 critical, 3 could not diagnose or bad usage), so a report is
// either written whole or not at all.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace cd;
  CLI::App app{"conndoctor: which connection resource is running out, why, and what to do"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("conndoctor ") + CONNDOCTOR_VERSION);
  app.footer(
      "Exit status: 0 ok, 1 warning, 2 critical, 3 could not diagnose or bad usage.\n"
      "Read-only: nothing changes a host setting (the lab works in namespaces it creates).");

  // Subcommands come from one table (cli/commands.h); each adds its options to its own
  // CLI::App and returns the handler to run once parsing succeeded.
  std::vector<std::pair<CLI::App*, std::function<int()>>> handlers;
  for (const Command& c : commands()) {
    CLI::App* sub = app.add_subcommand(std::string(c.name), std::string(c.description));
    handlers.emplace_back(sub, c.setup(*sub));
  }

  // CLI11 only says "a subcommand is required" for a misspelt one: name it.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const Command& c : commands()) known = known || c.name == argv[1];
    if (!known)
      return error_exit(std::string("unknown subcommand '") + argv[1] +
                        "' (see conndoctor --help)");
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

  for (auto& [sub, run] : handlers)
    if (sub->parsed()) return run();
  return error_exit("no subcommand given (see conndoctor --help)");
}
