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

// Sorted by inode, with a bucket directory on top: socket inodes come from one counter
// (get_next_ino()), so a million sockets span a few million numbers, and splitting that span
// into ~n/8 equal buckets leaves a handful of entries per bucket. seal() is then a radix sort
// (an in-place counting pass into ~1024 ranges, then a sort of each range in cache) instead of
// one comparison sort over 8 MB, and find() reads the directory and one bucket instead of ~20
// binary-search probes: the sort and the join run after the dump, on the critical path. A span
// too sparse for that (inodes far apart) falls back to a plain sort and binary search.
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
  // Sorts in place; must be called once all entries are added, before find().
  void seal();
  const InodeEntry* find(uint32_t inode) const {
    auto first = entries_.begin();
    auto last = entries_.end();
    if (!buckets_.empty()) {
      if (inode < min_ || inode - min_ > span_) return nullptr;
      const uint32_t b = (inode - min_) >> shift_;
      first = entries_.begin() + buckets_[b];
      last = entries_.begin() + buckets_[b + 1];
    }
    auto it = std::lower_bound(first, last, inode,
                               [](const InodeEntry& e, uint32_t v) { return e.inode < v; });
    return it != last && it->inode == inode ? &*it : nullptr;
  }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<InodeEntry> entries_;
  // Bucket directory (empty: plain binary search). Bucket b holds inodes min_ + [b << shift_,
  // (b + 1) << shift_) at entries_[buckets_[b] .. buckets_[b + 1]).
  std::vector<uint32_t> buckets_;
  uint32_t min_ = 0;
  uint32_t span_ = 0;  // max - min
  uint32_t shift_ = 0;
};

}  // namespace cd
