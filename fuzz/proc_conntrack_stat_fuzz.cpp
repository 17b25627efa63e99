// Fuzz target for parse_conntrack_stat (/proc/net/stat/nf_conntrack): any bytes give a value or an
// Error naming the problem; never a crash, a leak or a broken invariant (checked with
// __builtin_trap so that libFuzzer reports it).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collect/proc_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = cd::parse_conntrack_stat(text);
  if (!r) {
    if (r.error().message.empty()) __builtin_trap();
    return 0;
  }
  if (r->empty()) __builtin_trap();
  for (const auto& [name, value] : *r)
    if (name.empty() || value < 0) __builtin_trap();  // sums of hex counters never go negative
  return 0;
}
