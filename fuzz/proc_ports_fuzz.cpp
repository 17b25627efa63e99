// Fuzz target for parse_port_range and parse_port_list (ip_local_port_range,
// ip_local_reserved_ports): any bytes give a value or an Error naming the problem; never a crash,
// a leak or a broken invariant (checked with __builtin_trap so that libFuzzer reports it).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collect/proc_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto range = cd::parse_port_range(text);
  if (range && range->lo > range->hi) __builtin_trap();
  if (!range && range.error().message.empty()) __builtin_trap();
  auto list = cd::parse_port_list(text);
  if (list) {
    for (const auto& r : *list)
      if (r.lo > r.hi) __builtin_trap();
  } else if (list.error().message.empty()) {
    __builtin_trap();
  }
  return 0;
}
