// Tests of runtime detection: the ELF section reader and the Go build info decoder on
// synthesised and real binaries, the name and memory-map rules, and a live process.
#include "collect/runtime_detect.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "no_skip.h"

namespace cd {
namespace {

// A .go.buildinfo section as Go >= 1.18 writes it: magic, pointer size, flags, padding to 32
// bytes, then the version and the module path as varint-prefixed strings.
std::string go_section(std::string_view version, uint8_t flags = 0x2) {
  std::string s = "\xff Go buildinf:";
  s += char(8);
  s += char(flags);
  s.resize(32, '\0');
  s += char(version.size());
  s += version;
  s += char(0);
  return s;
}

// A minimal ELF64 file: a null section, one named section holding `body`, .shstrtab.
std::string elf_with(std::string_view name, std::string_view body) {
  const std::string names = std::string("\0", 1) + std::string(name) + '\0' + ".shstrtab" + '\0';
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = 3;
  eh.e_shstrndx = 2;
  const uint64_t body_at = sizeof eh, names_at = body_at + body.size();
  eh.e_shoff = names_at + names.size();
  Elf64_Shdr sh[3]{};
  sh[1].sh_name = 1;
  sh[1].sh_type = SHT_PROGBITS;
  sh[1].sh_offset = body_at;
  sh[1].sh_size = body.size();
  sh[2].sh_name = uint32_t(1 + name.size() + 1);
  sh[2].sh_type = SHT_STRTAB;
  sh[2].sh_offset = names_at;
  sh[2].sh_size = names.size();
  std::string out(reinterpret_cast<const char*>(&eh), sizeof eh);
  out += body;
  out += names;
  out.append(reinterpret_cast<const char*>(sh), sizeof sh);
  return out;
}

ReadAt over(const std::string& bytes) {
  return [&bytes](uint64_t off, std::size_t len) -> std::optional<std::string> {
    if (off > bytes.size() || bytes.size() - off < len) return std::nullopt;
    return bytes.substr(std::size_t(off), len);
  };
}

ReadAt over_file(int fd) {
  return [fd](uint64_t off, std::size_t len) -> std::optional<std::string> {
    std::string buf(len, '\0');
    ssize_t n = ::pread(fd, buf.data(), len, off_t(off));
    if (n != ssize_t(len)) return std::nullopt;
    return buf;
  };
}

TEST(RuntimeDetect, GoBuildInfoVersion) {
  EXPECT_EQ(go_buildinfo_version(go_section("go1.21.5")), "go1.21.5");
  EXPECT_EQ(go_buildinfo_version(go_section("go1.21.5", 0x0)), "");  // pre-1.18: pointers
  EXPECT_EQ(go_buildinfo_version("not a go binary at all, but long enough to look"), std::nullopt);
  std::string truncated = go_section("go1.21.5");
  truncated.resize(36);
  EXPECT_EQ(go_buildinfo_version(truncated), std::nullopt);
  EXPECT_EQ(go_buildinfo_version(go_section("\x01\x02")), std::nullopt);  // not printable
}

TEST(RuntimeDetect, ElfSectionFindsTheNamedSection) {
  const std::string elf = elf_with(".go.buildinfo", go_section("go1.22.0"));
  auto s = elf_section(over(elf), ".go.buildinfo", 512);
  ASSERT_TRUE(s);
  EXPECT_EQ(go_buildinfo_version(*s), "go1.22.0");
  EXPECT_FALSE(elf_section(over(elf), ".text", 512));
  // Truncated files and non-ELF bytes are "no section", never a crash.
  EXPECT_FALSE(elf_section(over(elf.substr(0, 70)), ".go.buildinfo", 512));
  EXPECT_FALSE(elf_section(over(std::string(200, 'x')), ".go.buildinfo", 512));
}

TEST(RuntimeDetect, ThisTestBinaryIsNoGoBinary) {
  int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(elf_section(over_file(fd), ".text", 16));
  EXPECT_FALSE(elf_section(over_file(fd), ".go.buildinfo", 512));
  ::close(fd);
}

TEST(RuntimeDetect, RealGoBinary) {
  // promtool (Debian's prometheus, installed by scripts/install-deps.sh) is built with Go.
  int fd = ::open("/usr/bin/promtool", O_RDONLY | O_CLOEXEC);
  if (fd < 0) CD_SKIP() << "no /usr/bin/promtool (a Go binary) here";
  auto s = elf_section(over_file(fd), ".go.buildinfo", 512);
  ::close(fd);
  ASSERT_TRUE(s);
  auto v = go_buildinfo_version(*s);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->rfind("go1.", 0), 0u) << *v;
}

TEST(RuntimeDetect, NamesAndMemoryMaps) {
  auto java = runtime_from_names("/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "java", "");
  ASSERT_TRUE(java);
  EXPECT_EQ(java->name, "jvm");
  EXPECT_EQ(java->how, "executable /usr/lib/jvm/java-17-openjdk-amd64/bin/java");

  auto py = runtime_from_names("/usr/bin/python3.11", "python3", "");
  ASSERT_TRUE(py);
  EXPECT_EQ(py->name, "cpython");
  EXPECT_EQ(py->version, "3.11");

  const std::string maps =
      "55d4c0a00000-55d4c0a01000 r--p 00000000 08:01 131 /opt/shop/bin/checkout\n"
      "7f1c2a000000-7f1c2b000000 r-xp 00000000 08:01 942 "
      "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n";
  auto launcher = runtime_from_names("/opt/shop/bin/checkout", "checkout", maps);
  ASSERT_TRUE(launcher);
  EXPECT_EQ(launcher->name, "jvm");
  EXPECT_EQ(launcher->how, "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so mapped");

  EXPECT_EQ(runtime_from_names("", "php-fpm8.2", "")->name, "php-fpm");
  EXPECT_EQ(runtime_from_names("/usr/sbin/nginx", "nginx", "")->name, "nginx");
  EXPECT_EQ(runtime_from_names("/usr/local/bin/envoy", "envoy", "")->name, "envoy");
  EXPECT_EQ(runtime_from_names("/usr/bin/node", "node", "")->name, "nodejs");
  // "libjvm.so" inside another name is no match; nothing known is nullopt.
  EXPECT_FALSE(runtime_from_names("/usr/bin/curl", "curl", "... /opt/x/notlibjvm.so.txt\n"));
}

TEST(RuntimeDetect, LiveProcess) {
  const char* python = "/usr/bin/python3";
  if (::access(python, X_OK) != 0) CD_SKIP() << "no " << python;
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(ready[1], 3);
    ::execl(python, python, "-c", "import os,time; os.write(3, b'x'); time.sleep(30)", nullptr);
    ::_exit(127);
  }
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);  // the interpreter runs
  ::close(ready[0]);
  auto rt = detect_runtime(ProcFs(), child, "python3");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(rt);
  EXPECT_EQ(rt->name, "cpython");
  EXPECT_EQ(rt->how.rfind("executable /usr/bin/python3", 0), 0u) << rt->how;

  // Gone: nothing, no error.
  EXPECT_FALSE(detect_runtime(ProcFs(), child, ""));
}

}  // namespace
}  // namespace cd
