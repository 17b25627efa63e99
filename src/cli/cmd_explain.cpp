// `conndoctor explain "TEXT"`: which resource an error message or errno points at.
#include <memory>
#include <string>
#include <vector>

#include "analyse/explain.h"
#include "cli/commands.h"
#include "render/explain_render.h"
#include "util/i18n.h"

namespace cd {

namespace {
struct ExplainArgs {
  std::vector<std::string> words;
  bool json = false;
  ColorMode color = ColorMode::kAuto;
};
}  // namespace

Handler setup_explain(CLI::App& app) {
  auto a = std::make_shared<ExplainArgs>();
  app.add_option("text", a->words,
                 _("the error message, kernel log line or errno (e.g. EADDRNOTAVAIL, 99)"))
      ->required();
  app.add_flag("--json", a->json, _("print the explanation as JSON"));
  add_color_option(app, a->color);
  return [a] {
    std::string text;
    for (const auto& w : a->words) text += (text.empty() ? "" : " ") + w;
    auto e = explain(text);
    if (!e) return error_exit(e.error().message);
    return emit(a->json ? explain_json(*e).dump(2) + "\n" : explain_text(*e, use_color(a->color)));
  };
}

}  // namespace cd
