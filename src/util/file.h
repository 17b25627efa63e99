// Whole-file reads: procfs and sysfs files report st_size 0, so they are read to EOF.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/error.h"

namespace cd {

// Everything in `path`, up to `max_bytes` (a file larger than that is an error, not data).
Result<std::string> read_file(const std::string& path, std::size_t max_bytes = 16u << 20);

// `leaf` of the directory open as `dirfd` (a /proc/PID directory: its files then belong to
// that process or fail, never to a later process that reused the pid); errors name `shown`.
Result<std::string> read_file_at(int dirfd, const char* leaf, const std::string& shown,
                                 std::size_t max_bytes = 16u << 20);

// `s` without trailing blanks and newlines ("1\n" -> "1").
std::string_view trim_right(std::string_view s);

}  // namespace cd
