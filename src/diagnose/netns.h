// Diagnosing other network namespaces: enter one by name (/run/netns/NAME) or by process
// (/proc/PID/ns/net) and come back on scope exit; list every distinct namespace on the host
// (named ones and those of running processes, deduplicated by inode); diagnose them all.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diagnose/diagnose.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/unique_fd.h"

namespace cd {

// One network namespace as the host sees it.
struct NetnsInfo {
  uint64_t inode = 0;         // the nsfs inode: the namespace's identity
  std::string name;           // its /run/netns name, if any
  int32_t pid = 0;            // the lowest pid inside it (0: none)
  std::string comm;           // that process's name
  std::string path;           // what to open to enter it
  bool current = false;       // the caller's own namespace
  std::string label() const;  // "NAME", "pid 1234 (comm)", or "inode N"
};

// Moves the calling process into another network namespace and back again when it goes out of
// scope. setns() moves only the calling thread, while /proc/self/net (and so /proc/net) follows
// the thread-group leader [fs/proc/proc_net.c get_proc_task_net()], so it refuses to run
// anywhere but the main thread of a single-threaded process: a half-moved process would read
// one namespace's sockets against another's /proc/net counters.
class NetnsGuard {
 public:
  // `target`: a /run/netns name, a numeric pid, or a path to an nsfs file.
  static Result<NetnsGuard> enter(const std::string& target);
  static Result<NetnsGuard> enter_path(const std::string& path);
  // An nsfs fd the caller keeps open (the namespace cannot vanish meanwhile).
  static Result<NetnsGuard> enter_fd(int fd, const std::string& what);

  NetnsGuard(NetnsGuard&& o) noexcept = default;
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  ~NetnsGuard();  // back to the original namespace (never fails silently: aborts if it cannot)

  uint64_t inode() const { return inode_; }

 private:
  NetnsGuard() = default;
  UniqueFd original_;
  uint64_t inode_ = 0;
};

// Where to look; tests point these at fixture trees.
struct NetnsRoots {
  std::string proc = "/proc";
  std::string run_netns = "/run/netns";
};

// Every distinct network namespace: /run/netns/* first, then each process's, the lowest pid
// naming a namespace that has no name. Sorted by label; processes that vanish are skipped.
Result<std::vector<NetnsInfo>> list_netns(const NetnsRoots& roots = {});

// `target` as --netns takes it, resolved to a NetnsInfo (label for the report).
Result<NetnsInfo> resolve_netns(const std::string& target, const NetnsRoots& roots = {});

struct NetnsResult {
  NetnsInfo ns;
  std::optional<Diagnosis> diagnosis;  // unset when it could not be diagnosed
  std::string error;                   // why not
};

// cd::diagnose() in every namespace (live sources only), worst status first. The two
// readings of every namespace share one interval: all first readings, one sleep, all second
// readings, so that a node with 100 pods takes one interval, not 100.
Result<std::vector<NetnsResult>> diagnose_all_netns(const DiagnoseOptions& opt, Clock& clock,
                                                    const NetnsRoots& roots = {});

// Worst first: critical, warning, could not diagnose (unknown), ok; within a status the one
// with more critical and warning findings first, then by label.
void sort_worst_first(std::vector<NetnsResult>& results);

}  // namespace cd
