// `conndoctor rules`: the rule table, one line each (docs/findings.md has the details).
#include <fmt/format.h>

#include <memory>

#include "analyse/rules.h"
#include "cli/commands.h"
#include "util/i18n.h"

namespace cd {

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
      for (const Rule& r : all_rules()) out += fmt::format("{:<20} {}\n", r.name, r.description);
    }
    return emit(out);
  };
}

}  // namespace cd
