// Fuzz target for parse_tcp_mem (net.ipv4.tcp_mem): three page counts or an Error naming the
// sysctl; never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collect/sysctls.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = cd::parse_tcp_mem(text);
  if (!r && r.error().message.find("tcp_mem") == std::string::npos) __builtin_trap();
  return 0;
}
