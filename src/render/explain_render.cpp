// Renders an explanation as text and JSON.
#include "render/explain_render.h"

#include <fmt/format.h>

#include "util/i18n.h"
#include "util/text_style.h"

namespace cd {

std::string explain_text(const Explanation& ex, bool color) {
  constexpr std::size_t kWidth = 96;
  std::string out;
  for (std::size_t i = 0; i < ex.matches.size(); ++i) {
    const ExplainEntry& e = *ex.matches[i].entry;
    if (i) out += "\n";
    std::string head = e.errno_name.empty()
                           ? std::string(_(std::string(e.title).c_str()))
                           : fmt::format("{0} (errno {1}): {2}", e.errno_name, e.errno_value,
                                         _(std::string(e.title).c_str()));
    out += paint(head, Tone::kBold, color) + "\n";
    std::string res = _f("resource: {0}", e.resources.empty() ? "?" : e.resources[0]);
    if (e.resources.size() > 1) {
      res += _(" (also");
      for (std::size_t k = 1; k < e.resources.size(); ++k)
        res += (k > 1 ? ", " : " ") + std::string(e.resources[k]);
      res += ")";
    }
    out += "  " + paint(res, Tone::kWarning, color) + "\n";
    out += "  " + paint(_f("matched \"{0}\"", ex.matches[i].matched), Tone::kDim, color) + "\n\n";
    out += wrap(_(std::string(e.meaning).c_str()), kWidth, "  ", "  ") + "\n\n";
    out += "  " +
           paint(std::string(_(std::string(e.causes_heading).c_str())) + ":", Tone::kBold, color) +
           "\n";
    for (std::size_t k = 0; k < e.causes.size(); ++k)
      out += wrap(_(e.causes[k].data()), kWidth, fmt::format("    {}. ", k + 1), "       ") + "\n";
    if (!e.findings.empty()) {
      std::string f = _("look at in `conndoctor check`:");
      for (std::size_t k = 0; k < e.findings.size(); ++k)
        f += (k ? ", " : " ") + std::string(e.findings[k]);
      out += wrap(f, kWidth, "  ", "    ") + "\n";
    }
    if (!e.commands.empty()) {
      out += "  " + paint(_("first commands:"), Tone::kBold, color) + "\n";
      for (std::string_view c : e.commands) out += fmt::format("    $ {}\n", c);
    }
    for (std::string_view n : e.notes)
      out += wrap(_(n.data()), kWidth, _("  note: "), "        ") + "\n";
  }
  return out;
}

nlohmann::ordered_json explain_json(const Explanation& ex) {
  using json = nlohmann::ordered_json;
  auto strings = [](const std::vector<std::string_view>& v) {
    json a = json::array();
    for (std::string_view s : v) a.push_back(std::string(s));
    return a;
  };
  json matches = json::array();
  for (const ExplainMatch& m : ex.matches) {
    const ExplainEntry& e = *m.entry;
    json errno_j = e.errno_name.empty()
                       ? json(nullptr)
                       : json{{"name", std::string(e.errno_name)}, {"number", e.errno_value}};
    matches.push_back(
        {{"id", std::string(e.id)},
         {"title", std::string(e.title)},
         {"matched", m.matched},
         {"errno", std::move(errno_j)},
         {"resource", e.resources.empty() ? json(nullptr) : json(std::string(e.resources[0]))},
         {"resources", strings(e.resources)},
         {"meaning", std::string(e.meaning)},
         {"causes_heading", std::string(e.causes_heading)},
         {"causes", strings(e.causes)},
         {"findings", strings(e.findings)},
         {"commands", strings(e.commands)},
         {"notes", strings(e.notes)}});
  }
  return {
      {"schema", "conndoctor/explain/v1"}, {"query", ex.query}, {"matches", std::move(matches)}};
}

}  // namespace cd
