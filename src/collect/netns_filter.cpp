// Compares each process's network namespace with the caller's. Unlike util/netns.h (stat of
// the nsfs file), it compares the ns/net link text ("net:[4026531840]"), which a recorded or
// fixture /proc tree keeps as a plain symlink, and falls back to the net/dev inode below.
#include "collect/netns_filter.h"

#include <sys/stat.h>

#include "collect/proc_paths.h"

namespace cd {

namespace {
bool vanished(int err) {
  return err == ENOENT || err == ESRCH;
}
}  // namespace

NetnsFilter::NetnsFilter(const ProcFs& proc) : proc_(proc) {
  if (auto link = proc.readlink(proc_paths::kSelfNetns)) self_link_ = std::move(*link);
  if (proc.is_procfs()) self_net_dev_ = net_dev_inode("self");
}

// Reading /proc/PID/ns/net needs ptrace access (proc_ns_get_link() ->
// ptrace_may_access(PTRACE_MODE_READ_FSCREDS)): other users' processes without root, and even
// as root a process holding capabilities we lack (a container's init). /proc/PID/net/ has no
// such check (proc_tgid_net_lookup() only takes the task's net namespace), and its entries are
// created per namespace (proc_create_net_data()), so the inode number of net/dev identifies
// the namespace. Checked on 6.18: same inode within a namespace, another one across them.
std::optional<ino_t> NetnsFilter::net_dev_inode(const std::string& dir) const {
  struct stat st {};
  if (::stat(proc_.path(dir + "/net/dev").c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

NetnsVerdict NetnsFilter::check(int32_t pid) const {
  if (!self_link_) return NetnsVerdict::kSame;
  const std::string dir = std::to_string(pid);
  auto link = proc_.readlink(dir + "/" + std::string(proc_paths::kNetns));
  if (link) return *link == *self_link_ ? NetnsVerdict::kSame : NetnsVerdict::kOther;
  if (vanished(link.error().err)) return NetnsVerdict::kGone;
  if (!self_net_dev_) return NetnsVerdict::kUnknown;
  struct stat st {};
  if (::stat(proc_.path(dir + "/net/dev").c_str(), &st) != 0)
    return vanished(errno) ? NetnsVerdict::kGone : NetnsVerdict::kUnknown;
  return st.st_ino == *self_net_dev_ ? NetnsVerdict::kSame : NetnsVerdict::kOther;
}

}  // namespace cd
