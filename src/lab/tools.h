// The lab's subprocess runner (ip, nft) and the veth wiring its multi-namespace scenarios
// share. Tools run as subprocesses here on purpose: the no-subprocess rule is the collectors'.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "util/error.h"

namespace cd {

// Runs `argv` (searched in PATH) in the caller's network namespace with `input` on stdin;
// bounded to 10 s. The lab blocks its signals: the tool gets a clean mask. The error names
// the command and the first line it printed.
Result<void> run_tool(const std::vector<std::string>& argv, const std::string& input = {});
// Each command in turn; stops at the first failure.
Result<void> run_all(const std::vector<std::vector<std::string>>& cmds);
// The commands inside worker `pid`'s network namespace, then back (util/netns.h NetnsGuard).
Result<void> run_in(pid_t pid, const std::vector<std::vector<std::string>>& cmds);

// A worker unshare()s right after fork: waits (bounded) until its namespace is its own before
// an interface is moved into it (else the interface would land in the lab's).
Result<void> wait_own_netns(pid_t pid);

// One veth pair between the lab namespace and worker `pid`'s: `host_if` with `host_addr` on
// this side, "eth0" with `peer_addr` on the worker's (and its loopback up), and a default route
// via `peer_gateway` there unless it is empty. Addresses in CIDR form, in 198.18.0.0/15.
struct VethLink {
  std::string host_if;
  std::string host_addr;
  std::string peer_addr;
  std::string peer_gateway;
};
Result<void> wire_veth(pid_t pid, const VethLink& link);

}  // namespace cd
