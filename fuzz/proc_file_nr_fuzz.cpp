// Fuzz target for parse_file_nr (/proc/sys/fs/file-nr): any bytes give a value or an Error naming
// the problem; never a crash, a leak or a broken invariant (checked with __builtin_trap so that
// libFuzzer reports it).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collect/proc_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = cd::parse_file_nr(text);
  if (!r) {
    if (r.error().message.empty()) __builtin_trap();
    return 0;
  }
  if (!r->allocated || !r->max) __builtin_trap();  // parsed means both known
  return 0;
}
