// Whole-file reads to EOF, with a size cap.
#include "util/file.h"

#include <fcntl.h>
#include <unistd.h>

#include "util/format.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

Result<std::string> read_all(UniqueFd fd, const std::string& path, std::size_t max_bytes) {
  std::string out;
  std::size_t used = 0;
  out.resize(4096);
  for (;;) {
    if (used == out.size()) {
      if (out.size() >= max_bytes)
        return fail(path + ": larger than " + with_commas(max_bytes >> 20) + " MiB");
      out.resize(out.size() * 2);
    }
    ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(path);
    }
    if (n == 0) break;
    used += std::size_t(n);
  }
  out.resize(used);
  return out;
}

}  // namespace

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(path);
  return read_all(std::move(fd), path, max_bytes);
}

Result<std::string> read_file_at(int dirfd, const char* leaf, const std::string& shown,
                                 std::size_t max_bytes) {
  UniqueFd fd(::openat(dirfd, leaf, O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(shown);
  return read_all(std::move(fd), shown, max_bytes);
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace cd
