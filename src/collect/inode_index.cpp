// InodeIndex::seal(): a radix sort of the dump's socket inodes and a directory of buckets of a
// few entries each (see inode_index.h for why), or a plain sort when the inodes are sparse.
#include "collect/inode_index.h"

#include <bit>

namespace cd {

namespace {

// Below this many entries a comparison sort is as fast and the directory not worth its bytes.
constexpr std::size_t kMinBucketed = 4096;
// Aim: about this many entries per bucket.
constexpr std::size_t kPerBucket = 8;
// Inodes more than this many numbers apart on average: a directory over the span would be
// mostly empty buckets; sort and binary-search instead.
constexpr uint64_t kMaxSpanPerEntry = 64;

bool by_inode(const InodeEntry& a, const InodeEntry& b) {
  return a.inode < b.inode;
}

}  // namespace

void InodeIndex::seal() {
  buckets_.clear();
  const std::size_t n = entries_.size();
  if (n < kMinBucketed) {
    std::sort(entries_.begin(), entries_.end(), by_inode);
    return;
  }
  auto [lo, hi] = std::minmax_element(entries_.begin(), entries_.end(), by_inode);
  const uint32_t min = lo->inode;
  const uint32_t span = hi->inode - min;
  if (uint64_t(span) > kMaxSpanPerEntry * n) {
    std::sort(entries_.begin(), entries_.end(), by_inode);
    return;
  }
  // The smallest shift that leaves at most ~n / kPerBucket buckets over the span.
  const uint64_t want = std::max<uint64_t>(1, n / kPerBucket);
  uint32_t shift = 0;
  while ((uint64_t(span) >> shift) + 1 > want) ++shift;
  const std::size_t nb = std::size_t(span >> shift) + 1;

  // MSD radix, two levels. First ~1024 coarse buckets in place (American flag sort: each
  // misplaced entry is swapped into the next free slot of its own bucket, so it moves once;
  // 1024 write cursors stay in cache, unlike one per fine bucket), then each coarse bucket,
  // a few thousand entries that fit in L1, is sorted on its own.
  uint32_t coarse_shift = shift;
  while ((uint64_t(span) >> coarse_shift) + 1 > 1024) ++coarse_shift;
  const std::size_t nc = std::size_t(span >> coarse_shift) + 1;
  std::vector<uint32_t> start(nc + 1, 0);
  for (const InodeEntry& e : entries_) ++start[((e.inode - min) >> coarse_shift) + 1];
  for (std::size_t c = 1; c <= nc; ++c) start[c] += start[c - 1];
  std::vector<uint32_t> next(start.begin(), start.end() - 1);
  for (std::size_t c = 0; c < nc; ++c) {
    while (next[c] < start[c + 1]) {
      InodeEntry& e = entries_[next[c]];
      const std::size_t d = (e.inode - min) >> coarse_shift;
      if (d == c)
        ++next[c];
      else
        std::swap(e, entries_[next[d]++]);
    }
  }
  for (std::size_t c = 0; c < nc; ++c)
    std::sort(entries_.begin() + start[c], entries_.begin() + start[c + 1], by_inode);

  // The fine directory over the sorted entries: buckets_[b] = first entry of bucket b or later.
  buckets_.assign(nb + 1, uint32_t(n));
  std::size_t i = 0;
  for (std::size_t b = 0; b < nb; ++b) {
    while (i < n && ((entries_[i].inode - min) >> shift) < b) ++i;
    buckets_[b] = uint32_t(i);
  }
  buckets_[nb] = uint32_t(n);

  min_ = min;
  span_ = span;
  shift_ = shift;
}

}  // namespace cd
