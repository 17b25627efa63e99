// Which language runtime or proxy a process runs (Go, JVM, CPython, Node.js, PHP-FPM, nginx,
// envoy), read-only: the Go build info inside the executable, the executable's name, the
// libraries in its memory map, its comm. Only for the processes a plan names (the owners of
// the hottest tuples), so the cost does not grow with the host's process count.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "collect/proc_fs.h"
#include "snapshot/snapshot.h"

namespace cd {

// Reads `len` bytes at `offset` of a file; nullopt on a short read or an error.
using ReadAt = std::function<std::optional<std::string>(uint64_t offset, std::size_t len)>;

// The bytes (at most `max_len`) of the section called `name` of a 64-bit little-endian ELF
// file; nullopt when the file is not one or has no such section.
std::optional<std::string> elf_section(const ReadAt& read, std::string_view name,
                                       std::size_t max_len);

// The Go version a .go.buildinfo section records ("go1.21.5"); "" for the pre-1.18 layout,
// which keeps it behind pointers; nullopt when the bytes are not a Go build info header.
std::optional<std::string> go_buildinfo_version(std::string_view section);

// From the executable's path, the comm and the text of /proc/PID/maps (any may be empty).
std::optional<RuntimeInfo> runtime_from_names(std::string_view exe, std::string_view comm,
                                              std::string_view maps);

// Reads /proc/PID/exe (and, when its name says nothing, /proc/PID/maps). nullopt when nothing
// is recognised or the process cannot be read (not root, exited).
std::optional<RuntimeInfo> detect_runtime(const ProcFs& proc, int32_t pid, std::string_view comm);

// Sets ProcessInfo::runtime for the top owner of every destination tuple.
void detect_owner_runtimes(const ProcFs& proc, Reading& r);

}  // namespace cd
