// Directory handles and numeric directory walks.
#include "util/dir.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace cd {

Result<UniqueDir> open_dir(const std::string& path) {
  UniqueDir d(::opendir(path.c_str()));
  if (!d) return fail_errno(path);
  return d;
}

Result<UniqueDir> open_dir_fd(int fd, const std::string& what) {
  UniqueDir d(::fdopendir(fd));
  if (!d) {
    int e = errno;
    ::close(fd);
    return fail_errno(what, e);
  }
  return d;
}

std::vector<int32_t> numeric_entries(const std::string& path) {
  std::vector<int32_t> out;
  UniqueDir d(::opendir(path.c_str()));
  if (!d) return out;
  while (const dirent* e = ::readdir(d.get())) {
    const char* end = e->d_name + std::strlen(e->d_name);
    int32_t n = 0;
    auto [ptr, ec] = std::from_chars(e->d_name, end, n);
    if (ec == std::errc() && ptr == end && ptr != e->d_name && n > 0) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cd
