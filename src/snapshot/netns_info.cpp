// How a network namespace is named for people.
#include "snapshot/netns_info.h"

namespace cd {

std::string NetnsInfo::label() const {
  if (!name.empty()) return name;
  if (pid > 0) return "pid " + std::to_string(pid) + " (" + comm + ")";
  return "inode " + std::to_string(inode);
}

}  // namespace cd
