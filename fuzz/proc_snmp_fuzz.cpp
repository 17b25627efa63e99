// Fuzz target for parse_snmp_pairs (/proc/net/snmp, /proc/net/netstat): any bytes give a value or
// an Error naming the problem; never a crash, a leak or a broken invariant (checked with
// __builtin_trap so that libFuzzer reports it).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collect/proc_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = cd::parse_snmp_pairs(text, "/proc/net/snmp");
  if (!r) {
    if (r.error().message.empty()) __builtin_trap();
    return 0;
  }
  // Every key is "Section.Name": both parts are non-empty, so at least 3 characters.
  for (const auto& [key, value] : *r) {
    if (key.size() < 3 || key.find('.') == std::string_view::npos) __builtin_trap();
    (void)value;
  }
  return 0;
}
