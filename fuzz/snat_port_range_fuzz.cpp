// Fuzz target for parse_snat_port_range (--snat-port-range LO-HI): a range with 1 <= lo <= hi,
// or an Error; never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collect/conntrack_collect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = cd::parse_snat_port_range(text);
  if (r && (r->lo < 1 || r->lo > r->hi)) __builtin_trap();
  if (!r && r.error().message.empty()) __builtin_trap();
  return 0;
}
