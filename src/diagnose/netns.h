// Diagnosing other network namespaces: list every distinct namespace on the host (named ones
// and those of running processes, deduplicated by inode), resolve --netns, diagnose them all.
// Entering one is util/netns.h's NetnsGuard.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "analyse/diagnosis.h"
#include "diagnose/diagnose.h"
#include "snapshot/netns_info.h"
#include "util/clock.h"
#include "util/error.h"

namespace cd {

// Where to look; tests point these at fixture trees.
struct NetnsRoots {
  std::string proc = "/proc";
  std::string run_netns = "/run/netns";
  // Test seam: called with each listed namespace just before diagnose_all_netns opens it, so
  // that tests can delete it there (the race with `ip netns del` or its last process's exit).
  std::function<void(const NetnsInfo&)> before_open;
  // Name each namespace's pod (the sandbox holding it): collect/container_identity.h.
  bool identity = false;
  std::vector<std::string> runtime_roots;  // empty: the runtimes' default state directories
};

// What diagnose_all_netns found: one result per namespace it could enter, and a line per
// namespace that was listed but had vanished before it could be entered.
struct AllNetns {
  std::vector<NetnsResult> results;
  std::vector<std::string> missing;
};

// Every distinct network namespace: /run/netns/* first, then each process's, the lowest pid
// naming a namespace that has no name. Sorted by label; processes that vanish are skipped.
Result<std::vector<NetnsInfo>> list_netns(const NetnsRoots& roots = {});

// `target` as --netns takes it, resolved to a NetnsInfo (label for the report).
Result<NetnsInfo> resolve_netns(const std::string& target, const NetnsRoots& roots = {});

// cd::diagnose() in every namespace (live sources only), worst status first. The two
// readings of every namespace share one interval: all first readings, one sleep, all second
// readings, so that a node with 100 pods takes one interval, not 100. Each namespace is held
// by an nsfs fd from the moment it is opened, so it cannot vanish between its readings; one
// whose listed path is gone when it is opened (its process exited, `ip netns del`) is looked
// for again under another path (another of its processes) and, if it no longer exists, named
// in `missing`, never silently dropped.
Result<AllNetns> diagnose_all_netns(const DiagnoseOptions& opt, Clock& clock,
                                    const NetnsRoots& roots = {});

}  // namespace cd
