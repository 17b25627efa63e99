// `conndoctor rules`: the rule table, one line each (docs/findings.md has the details).
#include <fmt/format.h>

#include <memory>

#include "analyse/rules.h"
#include "cli/commands.h"
#include "util/i18n.h"

namespace cd {

namespace {

// The rule's description in the language of the text (JSON keeps the English, as `lab
// --list --json` does). The table marks them with N_: string literals, so data() ends with NUL.
std::string description(const Rule& r) {
  return _(r.description.data());
}

}  // namespace

Handler setup_rules(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  app.add_flag("--json", *json, _("print the list as JSON"));
  return [json] {
    std::string out;
    if (*json) {
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (const Rule& r : all_rules())
        arr.push_back({{"name", r.name}, {"description", r.description}});
      out = arr.dump(2) + "\n";
    } else {
      for (const Rule& r : all_rules()) out += fmt::format("{:<20} {}\n", r.name, description(r));
    }
    return emit(out);
  };
}

}  // namespace cd
