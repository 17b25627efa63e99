// InodeIndex: whatever path seal() takes (small: plain sort; dense: bucket directory; sparse:
// plain sort over a wide span), find() answers like a linear search over what was added.
#include "collect/inode_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace cd {
namespace {

// Adds `n` inodes drawn from [base, base + span) (no duplicates), checks every one and a set
// of absent inodes (in gaps, below, above) against a map of what was added.
void check_index(std::size_t n, uint32_t base, uint32_t span, uint32_t seed) {
  std::mt19937 rng(seed);
  std::map<uint32_t, std::pair<uint8_t, uint32_t>> added;
  InodeIndex idx;
  while (added.size() < n) {
    const uint32_t inode = base + rng() % span;
    if (inode == 0 || added.count(inode)) continue;
    const uint8_t state = uint8_t(1 + rng() % 13);
    const uint32_t tuple = rng() % 3 == 0 ? kNoTuple : rng() % 1000;
    added[inode] = {state, tuple};
    idx.add(inode, state, tuple);
  }
  idx.seal();
  ASSERT_EQ(idx.size(), n);
  for (const auto& [inode, st] : added) {
    const InodeEntry* e = idx.find(inode);
    ASSERT_NE(e, nullptr) << inode;
    EXPECT_EQ(e->inode, inode);
    EXPECT_EQ(e->state(), st.first) << inode;
    EXPECT_EQ(e->tuple(), st.second) << inode;
  }
  std::size_t absent = 0;
  for (uint32_t probe = base > 10 ? base - 10 : 1; probe < base + span + 10 && absent < 5000;
       probe += 1 + rng() % 7) {
    if (added.count(probe)) continue;
    ++absent;
    EXPECT_EQ(idx.find(probe), nullptr) << probe;
  }
  EXPECT_EQ(idx.find(0), nullptr);
  EXPECT_EQ(idx.find(UINT32_MAX), nullptr);
}

TEST(InodeIndex, SmallIndexSortsAndSearches) {
  check_index(100, 5000, 1000, 1);
}

TEST(InodeIndex, DenseIndexUsesBucketsAndFindsEveryInode) {
  check_index(50'000, 1'000'000, 120'000, 2);  // ~2.4 numbers per socket, as get_next_ino gives
  check_index(20'000, 1, 20'000, 3);           // every number taken, starting at 1
}

TEST(InodeIndex, SparseIndexFallsBackToBinarySearch) {
  check_index(10'000, 7, 4'000'000'000u, 4);  // far beyond 64 numbers per socket
}

TEST(InodeIndex, EmptyIndexFindsNothing) {
  InodeIndex idx;
  idx.seal();
  EXPECT_TRUE(idx.empty());
  EXPECT_EQ(idx.find(1), nullptr);
}

}  // namespace
}  // namespace cd
