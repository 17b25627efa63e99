// Copies the procfs files the collectors read, and records one socket dump, into a directory.
#include "collect/record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/cgroup_memory.h"
#include "collect/conntrack_source.h"
#include "collect/netns_filter.h"
#include "collect/proc_paths.h"
#include "collect/socket_aggregator.h"
#include "collect/sysctls.h"
#include "collect/unix_listeners.h"
#include "util/file.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

namespace pp = proc_paths;

// mkdir -p.
Result<void> make_dirs(const std::string& path) {
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno(prefix);
  }
  return {};
}

Result<void> make_parent_dirs(const std::string& file) {
  std::size_t slash = file.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  return make_dirs(file.substr(0, slash));
}

Result<void> write_file(const std::string& path, std::string_view data) {
  if (auto ok = make_parent_dirs(path); !ok) return ok;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fail_errno(path);
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(path);
    }
    data.remove_prefix(std::size_t(n));
  }
  return {};
}

Result<void> write_link(const std::string& path, const std::string& target,
                        bool make_parents = true) {
  if (make_parents)
    if (auto ok = make_parent_dirs(path); !ok) return ok;
  if (::symlink(target.c_str(), path.c_str()) != 0) return fail_errno(path);
  return {};
}

// Copies one file if it can be read; an unreadable source is simply not recorded.
Result<void> copy_file(const ProcFs& proc, std::string_view rel, const std::string& out_root) {
  auto text = proc.read(rel);
  if (!text) return {};
  return write_file(out_root + "/" + std::string(rel), *text);
}

Result<void> copy_link(const ProcFs& proc, std::string_view rel, const std::string& out_root) {
  auto target = proc.readlink(rel);
  if (!target) return {};
  return write_link(out_root + "/" + std::string(rel), *target);
}

// Lets the recording source wrap a source the caller keeps owning.
class BorrowedSource : public SockSource {
 public:
  explicit BorrowedSource(SockSource& inner) : inner_(inner) {}
  Result<void> dump(const DumpRequest& req, SockSink& sink) override {
    return inner_.dump(req, sink);
  }
  Result<bool> dump_unix_listeners(UnixSockSink& sink) override {
    return inner_.dump_unix_listeners(sink);
  }
  bool set_raw_observer(RawDumpObserver* obs) override { return inner_.set_raw_observer(obs); }

 private:
  SockSource& inner_;
};

Result<void> record_sockets(SockSource& live, const std::string& path) {
  auto rec = open_recording_sock_source(std::make_unique<BorrowedSource>(live), path);
  if (!rec) return std::unexpected(rec.error());
  SocketAggregator agg(AggregatorConfig{});
  auto ok = dump_all(**rec, agg);
  // The unix listeners too. A kernel that refuses them (no unix_diag) is recorded as such and
  // replays as the same refusal; only a failure to write the transcript fails the recording.
  if (ok) {
    auto ux = collect_unix_listeners(**rec);
    if (!ux && ux.error().message.starts_with(path + ": write")) ok = std::unexpected(ux.error());
  }
  rec->reset();  // closes the transcript before we report success
  return ok;
}

// Every conntrack query a reading may make, through the recording transport. Refusals (no
// CAP_NET_ADMIN, module not loaded) are answers too: the replay reports them the same way.
// What matters is that the transcript is whole, so it is read back once written.
class NullConntrackSink : public ConntrackSink {
 public:
  void on_entry(const CtEntry&) override {}
};

Result<void> record_conntrack(std::unique_ptr<NetfilterTransport> live, const std::string& path) {
  {
    auto rec = open_recording_transport(std::move(live), path);
    if (!rec) return std::unexpected(rec.error());
    auto src = make_conntrack_source(std::move(*rec));
    NullConntrackSink sink;
    (void)src->cpu_stats();
    (void)src->global_stats();
    (void)src->dump(sink);
    (void)src->nat_rules();
  }  // closes the transcript
  auto replay = open_recorded_transport(path);
  if (!replay) return std::unexpected(replay.error());
  return {};
}

// The namespace link as the scan would conclude it: when the link itself is unreadable (no
// ptrace access) but NetnsFilter can tell the process shares our namespace, write our link.
Result<void> record_netns(const ProcFs& proc, const NetnsFilter& netns, int32_t pid,
                          const std::string& out_root) {
  const std::string rel = std::to_string(pid) + "/" + std::string(pp::kNetns);
  if (auto target = proc.readlink(rel)) return write_link(out_root + "/" + rel, *target);
  if (!netns.active()) return {};
  if (netns.check(pid) != NetnsVerdict::kSame) return {};
  return write_link(out_root + "/" + rel, *netns.self_link());
}

// One process: comm, limits, its namespace link and its fd links (targets only).
Result<void> record_process(const ProcFs& proc, const NetnsFilter& netns, int32_t pid,
                            const std::string& out_root) {
  const std::string dir = std::to_string(pid) + "/";
  for (std::string_view leaf : {pp::kComm, pp::kLimits, pp::kCgroup})
    if (auto ok = copy_file(proc, dir + std::string(leaf), out_root); !ok) return ok;
  if (auto ok = record_netns(proc, netns, pid, out_root); !ok) return ok;

  const std::string fd_rel = dir + std::string(pp::kFdDir);
  auto fds = proc.list(fd_rel);
  if (!fds) {
    if (fds.error().err == ENOENT || fds.error().err == ESRCH) return {};  // exited meanwhile
    // Not ours to read without root. A plain file where the directory would be replays as an
    // fd directory that cannot be opened (ENOTDIR): the process is counted as unreadable in
    // `missing`, instead of vanishing from the replay as a process that exited would.
    return write_file(out_root + "/" + fd_rel,
                      "not readable when recorded: " + fds.error().message + "\n");
  }
  if (auto ok = make_dirs(out_root + "/" + fd_rel); !ok) return ok;
  for (const std::string& fd : *fds) {
    auto target = proc.readlink(fd_rel + "/" + fd);
    if (!target) continue;  // closed meanwhile
    // The directory exists: one symlink() per fd (a host can have 10^5 of them).
    if (auto ok = write_link(out_root + "/" + fd_rel + "/" + fd, *target, false); !ok) return ok;
  }
  return {};
}

// The cgroup mounts (the cgroup lines of self/mountinfo) and the memory cgroup files of the
// recorded processes, under DIR with the same absolute paths (DIR/sys/fs/cgroup/...): a replay
// of DIR/proc reads them below the proc root's parent (collect/cgroup_memory.h).
Result<void> record_cgroups(const ProcFs& proc, const std::vector<int32_t>& pids,
                            const std::string& dir) {
  auto mountinfo = proc.read(pp::kSelfMountinfo);
  if (!mountinfo) return {};
  std::string kept;
  std::string_view rest = *mountinfo;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (line.find(" - cgroup") != std::string_view::npos) (kept += line) += '\n';
  }
  if (auto ok = write_file(dir + "/proc/" + std::string(pp::kSelfMountinfo), kept); !ok) return ok;
  const std::string fs_root = fs_root_of(proc);
  for (const std::string& cg : memory_cgroup_dirs(proc, pids)) {
    for (int version : {1, 2})
      for (std::string_view leaf : cgroup_memory_files(version)) {
        const std::string rel = cg + "/" + std::string(leaf);
        auto text = read_file(fs_root == "/" ? rel : fs_root + rel);
        if (!text) continue;
        if (auto ok = write_file(dir + rel, *text); !ok) return ok;
      }
  }
  return {};
}

}  // namespace

Result<void> record_state(const ProcFs& proc, SockSource& live,
                          std::unique_ptr<NetfilterTransport> conntrack, const std::string& dir) {
  const std::string out_root = dir + "/proc";
  if (auto ok = make_dirs(dir); !ok) return ok;
  if (::mkdir(out_root.c_str(), 0755) != 0) {
    if (errno == EEXIST) return fail(out_root + ": already exists (record into a new directory)");
    return fail_errno(out_root);
  }

  // Same order as collect_reading(): sysctls and counters, sockets, then processes, so that
  // the fd links name sockets that are in the dump.
  for (const std::string& rel : sysctl_files(proc))
    if (auto ok = copy_file(proc, rel, out_root); !ok) return ok;
  for (std::string_view rel : pp::kReadingFiles)
    if (auto ok = copy_file(proc, rel, out_root); !ok) return ok;

  if (auto ok = record_sockets(live, dir + "/sock_diag.bin"); !ok) return ok;
  if (conntrack)
    if (auto ok = record_conntrack(std::move(conntrack), dir + "/conntrack.bin"); !ok) return ok;

  if (auto ok = copy_link(proc, pp::kSelfNetns, out_root); !ok) return ok;
  // Processes of other namespaces are left out: the scan would drop them anyway, and on a
  // host running containers they can hold most of the machine's fds.
  const NetnsFilter netns(proc);
  std::vector<int32_t> recorded;
  for (int32_t pid : proc.pids()) {
    NetnsVerdict v = netns.check(pid);
    if (v == NetnsVerdict::kOther || v == NetnsVerdict::kGone) continue;
    if (auto ok = record_process(proc, netns, pid, out_root); !ok) return ok;
    recorded.push_back(pid);
  }
  return record_cgroups(proc, recorded, dir);
}

}  // namespace cd
