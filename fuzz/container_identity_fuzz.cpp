// Fuzz target for what container identity reads from the host: a /proc/PID/cgroup file
// (parse_cgroup_container) and an OCI bundle's config.json (parse_oci_config), which any
// container's owner can write. The same bytes go to both. Any input gives an identity, nothing,
// or an Error naming the problem; never a crash or an exception. Invariants are checked with
// __builtin_trap so that the fuzzer reports them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collect/container_identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto c = cd::parse_cgroup_container(text)) {
    if (c->id.size() != 64) __builtin_trap();
    for (char ch : c->id)
      if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) __builtin_trap();
  }
  auto id = cd::parse_oci_config(text);
  if (!id && id.error().message.empty()) __builtin_trap();
  if (id) {
    if (!id->state_read) __builtin_trap();
    id->container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    if (id->label().empty() || id->container_name().empty()) __builtin_trap();
  }
  return 0;
}
