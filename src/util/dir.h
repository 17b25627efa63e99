// A directory handle that closes itself, and the walks built on it.
#pragma once

#include <dirent.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/error.h"

namespace cd {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

// opendir(path), or the errno.
Result<UniqueDir> open_dir(const std::string& path);
// fdopendir(fd): the handle owns `fd` from here on, also when it fails (fd is closed then).
Result<UniqueDir> open_dir_fd(int fd, const std::string& what);

// The entries of `path` whose names are positive decimal numbers (pids in a procfs root,
// tids in /proc/PID/task), sorted. Empty when the directory cannot be read.
std::vector<int32_t> numeric_entries(const std::string& path);

}  // namespace cd
