// Fuzz target for runtime detection's binary parsers: the ELF section reader (section headers
// and names from an arbitrary file) and the Go build info decoder. Never a read outside the
// input, and a version is only ever a printable "go..." string.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collect/runtime_detect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const cd::ReadAt read = [&bytes](uint64_t off, std::size_t len) -> std::optional<std::string> {
    if (off > bytes.size() || bytes.size() - off < len) return std::nullopt;
    return bytes.substr(std::size_t(off), len);
  };
  if (auto section = cd::elf_section(read, ".go.buildinfo", 512))
    if (section->size() > 512) __builtin_trap();
  if (auto v = cd::go_buildinfo_version(bytes))
    if (!v->empty() && !v->starts_with("go")) __builtin_trap();
  return 0;
}
