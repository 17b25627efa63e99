// Socket inodes seen in the dump, so that /proc/PID/fd links (or the BPF fd table) can be
// joined to socket state and destination in one pass over the processes (attribution).
// 8 bytes a live socket: at a million sockets this index is most of what attribution costs in
// memory. TIME_WAIT sockets have inode 0 and are not stored.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace cd {

inline constexpr uint32_t kNoTuple = std::numeric_limits<uint32_t>::max();

// Inode, then state (4 bits: TCP states are 1..13) and tuple number (28 bits) in one word.
// 2^28 - 1 tuples would need more than 25 GiB of TupleUsage in the summary: a tuple number
// past that cannot occur, and is stored as "no tuple" rather than wrapping onto another tuple.
class InodeEntry {
 public:
  static constexpr uint32_t kStateBits = 4;
  static constexpr uint32_t kPackedNoTuple = (uint32_t{1} << (32 - kStateBits)) - 1;

  InodeEntry() = default;
  InodeEntry(uint32_t inode, uint8_t state, uint32_t tuple) : inode(inode) {
    packed_ = (state & ((1u << kStateBits) - 1)) | (pack_tuple(tuple) << kStateBits);
  }
  uint8_t state() const { return uint8_t(packed_ & ((1u << kStateBits) - 1)); }
  uint32_t tuple() const {
    const uint32_t t = packed_ >> kStateBits;
    return t == kPackedNoTuple ? kNoTuple : t;
  }
  void set_tuple(uint32_t tuple) {
    packed_ = (packed_ & ((1u << kStateBits) - 1)) | (pack_tuple(tuple) << kStateBits);
  }

  uint32_t inode = 0;

 private:
  static uint32_t pack_tuple(uint32_t t) { return t >= kPackedNoTuple ? kPackedNoTuple : t; }
  uint32_t packed_ = kPackedNoTuple << kStateBits;
};
static_assert(sizeof(InodeEntry) == 8);

class InodeIndex {
 public:
  InodeIndex() = default;
  // Takes entries built elsewhere (the aggregator fills its vector during the dump and hands
  // it over without a copy: a second 8 MB vector at 1M sockets would double the peak).
  explicit InodeIndex(std::vector<InodeEntry>&& entries) : entries_(std::move(entries)) {
    std::erase_if(entries_, [](const InodeEntry& e) { return e.inode == 0; });
  }
  void add(uint32_t inode, uint8_t state, uint32_t tuple) {
    if (inode != 0) entries_.emplace_back(inode, state, tuple);
  }
  // Sorts in place (introsort: no extra memory, unlike a stable merge sort).
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
