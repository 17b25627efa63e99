// Socket inodes seen in the dump, so that /proc/PID/fd links can be joined to socket state
// and destination in one pass over /proc (attribution). 8 bytes a live socket; TIME_WAIT
// sockets have inode 0 and are not stored.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace cd {

inline constexpr uint32_t kNoTuple = std::numeric_limits<uint32_t>::max();

struct InodeEntry {
  uint32_t inode = 0;
  uint8_t state = 0;
  uint32_t tuple = kNoTuple;  // index into SocketSummary::tuples, or kNoTuple
};

class InodeIndex {
 public:
  void add(uint32_t inode, uint8_t state, uint32_t tuple) {
    if (inode != 0) entries_.push_back({inode, state, tuple});
  }
  void seal() {
    std::sort(entries_.begin(), entries_.end(),
              [](const InodeEntry& a, const InodeEntry& b) { return a.inode < b.inode; });
  }
  const InodeEntry* find(uint32_t inode) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), inode,
                               [](const InodeEntry& e, uint32_t v) { return e.inode < v; });
    return it != entries_.end() && it->inode == inode ? &*it : nullptr;
  }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<InodeEntry> entries_;
};

}  // namespace cd
