// Network namespace identity and the guard that enters one and returns.
#include "util/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "util/thread.h"

namespace cd {

namespace {

constexpr const char* kSelfNet = "/proc/self/ns/net";

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<NetnsId> netns_id_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail_errno("stat " + path);
  return NetnsId{st.st_dev, st.st_ino};
}

Result<NetnsGuard> NetnsGuard::save_original(const std::string& what) {
  if (auto ok = require_single_thread(what); !ok) return std::unexpected(ok.error());
  NetnsGuard g;
  g.original_ = UniqueFd(::open(kSelfNet, O_RDONLY | O_CLOEXEC));
  if (!g.original_) return fail_errno(kSelfNet);
  return g;
}

Result<NetnsGuard> NetnsGuard::enter_fd(int fd, const std::string& what) {
  auto g = save_original("entering a network namespace");
  if (!g) return std::unexpected(g.error());
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno(what);
  // NS_GET_NSTYPE (since 4.11) tells a network namespace from any other file or namespace.
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type >= 0 && type != CLONE_NEWNET) return fail(what + ": not a network namespace");
  if (type < 0 && errno == ENOTTY) return fail(what + ": not a namespace file");
  if (::setns(fd, CLONE_NEWNET) != 0) {
    g->original_.reset();  // nothing to return from
    if (errno == EPERM) return fail_errno("setns " + what + " (needs CAP_SYS_ADMIN)");
    return fail_errno("setns " + what);
  }
  g->id_ = NetnsId{st.st_dev, st.st_ino};
  return g;
}

Result<NetnsGuard> NetnsGuard::enter_path(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(path);
  return enter_fd(fd.get(), path);
}

Result<std::string> netns_target_path(const std::string& target, const std::string& proc,
                                      const std::string& run_netns) {
  if (target.find('/') != std::string::npos) return target;
  if (all_digits(target)) return proc + "/" + target + "/ns/net";
  if (target.empty() || target == "." || target == "..")
    return fail("--netns: '" + target + "' is not a namespace name or pid");
  return run_netns + "/" + target;
}

Result<NetnsGuard> NetnsGuard::enter(const std::string& target) {
  auto path = netns_target_path(target);
  if (!path) return std::unexpected(path.error());
  return enter_path(*path);
}

Result<NetnsGuard> NetnsGuard::enter_new() {
  auto g = save_original("creating a network namespace");
  if (!g) return std::unexpected(g.error());
  if (::unshare(CLONE_NEWNET) != 0) {
    g->original_.reset();
    return fail_errno("unshare(CLONE_NEWNET) (needs root or CAP_SYS_ADMIN)");
  }
  auto id = netns_id_of(kSelfNet);
  if (!id) return std::unexpected(id.error());  // the guard still returns on the way out
  g->id_ = *id;
  return g;
}

NetnsGuard::~NetnsGuard() {
  if (!original_) return;
  if (::setns(original_.get(), CLONE_NEWNET) != 0) {
    std::perror("conndoctor: cannot return to the original network namespace");
    std::abort();
  }
}

}  // namespace cd
