// Fuzz target for parse_socket_link (/proc/PID/fd link targets): an inode only for
// "socket:[N]", 0 for anything else; never a read outside the link.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collect/proc_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view link(reinterpret_cast<const char*>(data), size);
  const uint32_t inode = cd::parse_socket_link(link);
  if (inode != 0 && (!link.starts_with("socket:[") || !link.ends_with("]"))) __builtin_trap();
  return 0;
}
