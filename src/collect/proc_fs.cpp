// Reads files, links and directories under a procfs root (the live /proc or a fixture tree).
#include "collect/proc_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "util/dir.h"
#include "util/file.h"

namespace cd {

namespace {

// A /proc text file larger than this is not one we read (netstat is ~5 KiB); a fixture that
// big is a mistake, not data.
constexpr std::size_t kMaxFileBytes = 16u << 20;

}  // namespace

ProcFs::ProcFs(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  struct statfs sfs {};
  is_procfs_ = ::statfs(root_.c_str(), &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

std::string ProcFs::path(std::string_view rel) const {
  std::string p;
  p.reserve(root_.size() + 1 + rel.size());
  p += root_;
  p += '/';
  p += rel;
  return p;
}

Result<std::string> ProcFs::read(std::string_view rel) const {
  return read_file(path(rel), kMaxFileBytes);
}

Result<int64_t> ProcFs::read_int(std::string_view rel) const {
  auto text = read(rel);
  if (!text) return std::unexpected(text.error());
  std::string_view s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty())
    return fail(path(rel) + ": not an integer ('" + std::string(s.substr(0, 40)) + "')");
  return v;
}

Result<std::string> ProcFs::readlink(std::string_view rel) const {
  const std::string p = path(rel);
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size());
    if (n < 0) return fail_errno(p);
    if (std::size_t(n) < buf.size()) {
      buf.resize(std::size_t(n));
      return buf;
    }
    if (buf.size() >= 65536) return fail(p + ": link target too long");
    buf.resize(buf.size() * 4);
  }
}

bool ProcFs::exists(std::string_view rel) const {
  struct stat st {};
  return ::lstat(path(rel).c_str(), &st) == 0;
}

Result<std::vector<std::string>> ProcFs::list(std::string_view rel) const {
  const std::string p = path(rel);
  auto d = open_dir(p);
  if (!d) return std::unexpected(d.error());
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d->get())) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  if (errno != 0) return fail_errno(p);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<int32_t> ProcFs::pids() const {
  return numeric_entries(root_);
}

}  // namespace cd
