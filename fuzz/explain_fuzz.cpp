// Fuzz target for explain(): any bytes (the user's text) give matches or a one-line Error; the
// text and JSON renderings never throw, and the JSON is always valid UTF-8 that parses back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "analyse/explain.h"
#include "render/explain_render.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = cd::explain(text);
  if (!e) {
    const std::string& m = e.error().message;
    if (m.empty() || m.find('\n') != std::string::npos || m.find('\x1b') != std::string::npos)
      __builtin_trap();
    return 0;
  }
  if (e->matches.empty()) __builtin_trap();  // success means something matched
  for (const cd::ExplainMatch& m : e->matches)
    if (m.entry == nullptr || m.matched.empty()) __builtin_trap();
  std::string out = cd::explain_text(*e, true);
  if (out.empty()) __builtin_trap();
  try {
    std::string j = cd::explain_json(*e).dump();
    if (nlohmann::json::parse(j)["matches"].size() != e->matches.size()) __builtin_trap();
  } catch (...) {
    __builtin_trap();  // dump() throws on invalid UTF-8: the query must have been repaired
  }
  return 0;
}
