// Network namespace identity and switching, the one way every stage does it: a namespace is
// its nsfs (device, inode); NetnsGuard moves the process into another namespace (or a new
// one) and back on scope exit, and a failed return aborts, everywhere alike.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "util/error.h"
#include "util/unique_fd.h"

namespace cd {

// A network namespace as the kernel identifies it: the nsfs device and inode.
struct NetnsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NetnsId&) const = default;
};

// "/proc/self/ns/net", "/proc/PID/ns/net", a /run/netns file. Reading another process's link
// needs ptrace access to it [fs/proc/namespaces.c proc_ns_get_link()].
Result<NetnsId> netns_id_of(const std::string& path);

// Where --netns TARGET points: a path as given (has a '/'), <proc>/PID/ns/net for a pid, else
// <run_netns>/NAME. Fails on "", "." and "..".
Result<std::string> netns_target_path(const std::string& target, const std::string& proc = "/proc",
                                      const std::string& run_netns = "/run/netns");

// Moves the calling process into another network namespace and back again when it goes out of
// scope. Only the main thread of a single-threaded process may switch (util/thread.h says why).
class NetnsGuard {
 public:
  // `target`: a /run/netns name, a numeric pid, or a path to an nsfs file.
  static Result<NetnsGuard> enter(const std::string& target);
  static Result<NetnsGuard> enter_path(const std::string& path);
  // An nsfs fd the caller keeps open (the namespace cannot vanish meanwhile).
  static Result<NetnsGuard> enter_fd(int fd, const std::string& what);
  // A new, empty namespace (unshare(CLONE_NEWNET)): loopback exists but is down.
  static Result<NetnsGuard> enter_new();

  NetnsGuard(NetnsGuard&& o) noexcept = default;
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  // Back to the original namespace. Carrying on in the wrong one would report one namespace's
  // figures as another's (or let the lab touch the host), so a failure aborts the process.
  ~NetnsGuard();

  // The namespace entered.
  NetnsId id() const { return id_; }
  uint64_t inode() const { return uint64_t(id_.ino); }

 private:
  NetnsGuard() = default;
  static Result<NetnsGuard> save_original(const std::string& what);
  UniqueFd original_;
  NetnsId id_;
};

}  // namespace cd
