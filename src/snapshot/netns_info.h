// One network namespace as the host sees it: plain data for the reports of --netns and
// --all-netns (diagnose/netns lists and enters them; render shows them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "snapshot/container_identity.h"

namespace cd {

struct NetnsInfo {
  uint64_t inode = 0;    // the nsfs inode: the namespace's identity
  std::string name;      // its /run/netns name, if any
  int32_t pid = 0;       // the lowest pid inside it (0: none)
  std::string comm;      // that process's name
  std::string path;      // what to open to enter it
  bool current = false;  // the caller's own namespace
  // The pod whose sandbox holds it (or the container of its first member that is in one).
  std::optional<ContainerIdentity> pod;
  std::string label() const;  // "NAME", "pid 1234 (comm)", or "inode N"
};

}  // namespace cd
