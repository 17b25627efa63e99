// A throwaway network namespace for the lab: the whole (single-threaded) process moves into
// it, it is named under /run/netns so that `ip netns exec` reaches it, and it is removed
// again -- with every process left inside it -- when the object goes away.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.h"
#include "util/netns.h"

namespace cd {

inline constexpr std::string_view kLabNetnsPrefix = "cdlab-";
inline constexpr const char* kNetnsRunDir = "/run/netns";  // where iproute2 names namespaces

// "net.ipv4.tcp_tw_reuse" (or "net/ipv4/tcp_tw_reuse") -> "/proc/sys/net/ipv4/tcp_tw_reuse".
// Refuses anything outside net.*, empty or ".." segments, odd characters.
Result<std::string> net_sysctl_path(std::string_view key);
// "KEY=VALUE" with KEY accepted by net_sysctl_path -> (key, value).
Result<std::pair<std::string, std::string>> parse_sysctl_assignment(std::string_view text);

class LabNetns {
 public:
  // Saves the current namespace, unshare(CLONE_NEWNET)s the process, names the new namespace
  // /run/netns/<name> and brings loopback up. Fails (leaving nothing behind) when the process
  // has several threads or lacks CAP_SYS_ADMIN.
  static Result<LabNetns> create(const std::string& name);

  LabNetns(LabNetns&& o) noexcept;
  LabNetns& operator=(LabNetns&&) = delete;
  LabNetns(const LabNetns&) = delete;
  // Kills the processes still inside, returns the process to its original namespace and,
  // unless keep() was called, unmounts and unlinks the name so that the namespace dies.
  ~LabNetns();

  const std::string& name() const { return name_; }
  std::string path() const { return std::string(kNetnsRunDir) + "/" + name_; }
  NetnsId id() const { return id_; }

  // Writes a sysctl of this namespace. Only keys the kernel makes writable inside a network
  // namespace are accepted: host-wide ones are absent or read-only there, so they fail with
  // an error that says so. Refuses to write when the process is not inside this namespace.
  Result<void> set_sysctl(std::string_view key, std::string_view value);
  Result<std::string> get_sysctl(std::string_view key) const;

  // Leave the named namespace (and its sockets, sysctls) behind for inspection.
  void keep() { keep_ = true; }

 private:
  LabNetns() = default;
  Result<void> inside() const;

  std::string name_;
  std::optional<NetnsGuard> inside_;  // set while the process is in it; returns on reset
  NetnsId id_;
  bool file_created_ = false;
  bool mounted_ = false;
  bool keep_ = false;
};

// Sends SIGKILL to every process other than the caller whose network namespace is `ns`, reaps
// those that are the caller's children and waits (bounded) for the rest to disappear.
// Returns how many were killed.
int kill_netns_processes(NetnsId ns);

// Removes leftover /run/netns/cdlab-* namespaces of lab runs that are gone (killed, or run
// with --keep): kills the processes inside, unmounts, unlinks. A namespace whose lab process
// is still running inside it is left alone. One line per namespace seen. `prefix` narrows the
// names considered (tests use their own, so that they never touch another run's leftovers).
Result<std::vector<std::string>> remove_leftover_lab_netns(
    std::string_view prefix = kLabNetnsPrefix);

}  // namespace cd
