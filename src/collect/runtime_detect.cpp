#include "collect/runtime_detect.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "util/unique_fd.h"

namespace cd {

namespace {

// Section headers and the section-name table of real binaries are a few KiB; anything larger
// is not worth reading for a hint.
constexpr std::size_t kMaxSectionTable = 256 * 1024;
constexpr std::string_view kGoMagic = "\xff Go buildinf:";
constexpr std::size_t kGoHeaderSize = 32;
constexpr uint8_t kGoFlagVersionInline = 0x2;
constexpr std::size_t kGoBuildinfoRead = 512;

template <typename T>
bool load(std::string_view bytes, std::size_t at, T& out) {
  if (at > bytes.size() || bytes.size() - at < sizeof(T)) return false;
  std::memcpy(&out, bytes.data() + at, sizeof(T));
  return true;
}

std::string_view basename(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "python3.11" -> "3.11", "python3" -> "3"
std::string python_version(std::string_view name) {
  std::string_view v = name.substr(std::string_view("python").size());
  return std::all_of(v.begin(), v.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })
             ? std::string(v)
             : std::string();
}

RuntimeInfo info(std::string name, std::string version, std::string how) {
  return RuntimeInfo{std::move(name), std::move(version), std::move(how)};
}

// The path of a mapped library whose file name starts with `lib` ("libjvm.so").
std::optional<std::string> mapped(std::string_view maps, std::string_view lib) {
  std::size_t at = 0;
  while ((at = maps.find(lib, at)) != std::string_view::npos) {
    if (at > 0 && maps[at - 1] == '/') {
      std::size_t begin = maps.rfind(' ', at);
      std::size_t end = maps.find('\n', at);
      begin = begin == std::string_view::npos ? 0 : begin + 1;
      return std::string(maps.substr(begin, end == std::string_view::npos ? end : end - begin));
    }
    at += lib.size();
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> elf_section(const ReadAt& read, std::string_view name,
                                       std::size_t max_len) {
  auto head = read(0, sizeof(Elf64_Ehdr));
  Elf64_Ehdr eh;
  if (!head || !load(*head, 0, eh)) return std::nullopt;
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr) ||
      eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
    return std::nullopt;
  std::size_t table_len = std::size_t(eh.e_shnum) * sizeof(Elf64_Shdr);
  if (table_len > kMaxSectionTable) return std::nullopt;
  auto table = read(eh.e_shoff, table_len);
  if (!table) return std::nullopt;
  Elf64_Shdr names;
  if (!load(*table, std::size_t(eh.e_shstrndx) * sizeof(Elf64_Shdr), names) ||
      names.sh_size > kMaxSectionTable)
    return std::nullopt;
  auto strtab = read(names.sh_offset, std::size_t(names.sh_size));
  if (!strtab) return std::nullopt;
  for (std::size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!load(*table, i * sizeof(Elf64_Shdr), sh) || sh.sh_name >= strtab->size()) continue;
    const char* at = strtab->data() + sh.sh_name;
    std::string_view section_name(at, strnlen(at, strtab->size() - sh.sh_name));
    if (section_name != name || sh.sh_type == SHT_NOBITS) continue;
    return read(sh.sh_offset, std::size_t(std::min<uint64_t>(sh.sh_size, max_len)));
  }
  return std::nullopt;
}

std::optional<std::string> go_buildinfo_version(std::string_view section) {
  if (section.size() < kGoHeaderSize || !starts_with(section, kGoMagic)) return std::nullopt;
  const auto flags = uint8_t(section[kGoMagic.size() + 1]);
  if (!(flags & kGoFlagVersionInline)) return std::string();
  // The version string: its length as an unsigned varint, then its bytes.
  uint64_t len = 0;
  std::size_t at = kGoHeaderSize;
  for (int shift = 0; at < section.size() && shift < 64; shift += 7) {
    const auto b = uint8_t(section[at++]);
    len |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (len > section.size() - at || len > 64) return std::nullopt;
      std::string v(section.substr(at, std::size_t(len)));
      bool printable = std::all_of(v.begin(), v.end(), [](char c) { return c > ' ' && c < 127; });
      return printable && starts_with(v, "go") ? std::optional(v) : std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<RuntimeInfo> runtime_from_names(std::string_view exe, std::string_view comm,
                                              std::string_view maps) {
  const std::string_view name = basename(exe);
  const std::string how_exe = "executable " + std::string(exe);
  if (!name.empty()) {
    if (name == "java") return info("jvm", "", how_exe);
    if (starts_with(name, "python")) return info("cpython", python_version(name), how_exe);
    if (name == "node" || name == "nodejs") return info("nodejs", "", how_exe);
    if (starts_with(name, "php-fpm")) return info("php-fpm", "", how_exe);
    if (name == "nginx") return info("nginx", "", how_exe);
    if (name == "envoy") return info("envoy", "", how_exe);
  }
  // Launchers and embedders: the runtime's library in the memory map.
  if (auto lib = mapped(maps, "libjvm.so")) return info("jvm", "", *lib + " mapped");
  if (auto lib = mapped(maps, "libpython3")) return info("cpython", "", *lib + " mapped");
  if (auto lib = mapped(maps, "libnode.so")) return info("nodejs", "", *lib + " mapped");
  const std::string how_comm = "comm " + std::string(comm);
  if (starts_with(comm, "php-fpm")) return info("php-fpm", "", how_comm);
  if (comm == "nginx") return info("nginx", "", how_comm);
  if (comm == "envoy") return info("envoy", "", how_comm);
  return std::nullopt;
}

std::optional<RuntimeInfo> detect_runtime(const ProcFs& proc, int32_t pid, std::string_view comm) {
  const std::string dir = std::to_string(pid);
  auto exe = proc.readlink(dir + "/exe");
  std::string exe_path = exe ? *exe : std::string();
  if (exe) {
    UniqueFd fd(::open(proc.path(dir + "/exe").c_str(), O_RDONLY | O_CLOEXEC));
    if (fd) {
      ReadAt read = [&fd](uint64_t offset, std::size_t len) -> std::optional<std::string> {
        std::string buf(len, '\0');
        std::size_t got = 0;
        while (got < len) {
          ssize_t n = ::pread(fd.get(), buf.data() + got, len - got, off_t(offset + got));
          if (n <= 0) break;
          got += std::size_t(n);
        }
        if (got < len) buf.resize(got);
        return got == 0 && len > 0 ? std::nullopt : std::optional(buf);
      };
      if (auto section = elf_section(read, ".go.buildinfo", kGoBuildinfoRead))
        if (auto version = go_buildinfo_version(*section))
          return info("go", *version, "ELF section .go.buildinfo of " + exe_path);
    }
  }
  if (auto by_name = runtime_from_names(exe_path, comm, {})) return by_name;
  auto maps = proc.read(dir + "/maps");
  return runtime_from_names({}, comm, maps ? std::string_view(*maps) : std::string_view());
}

void detect_owner_runtimes(const ProcFs& proc, Reading& r) {
  std::set<int32_t> owners;
  for (const TupleOwner& o : r.tuple_owners) {
    auto top = std::max_element(o.pids.begin(), o.pids.end(),
                                [](const auto& a, const auto& b) { return a.second < b.second; });
    if (top != o.pids.end()) owners.insert(top->first);
  }
  for (ProcessInfo& p : r.processes)
    if (owners.count(p.pid)) p.runtime = detect_runtime(proc, p.pid, p.comm);
}

}  // namespace cd
