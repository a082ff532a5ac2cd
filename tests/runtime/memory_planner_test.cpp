// The arena planner on its own: offsets never overlap for buffers alive at the same time.

#include "memory_planner.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

bool overlaps(const BufferRequest& a, size_t a_off, const BufferRequest& b, size_t b_off) {
  bool in_time = a.first_step <= b.last_step && b.first_step <= a.last_step;
  bool in_space = a_off < b_off + b.bytes && b_off < a_off + a.bytes;
  return in_time && in_space;
}

TEST(MemoryPlanner, DisjointLifetimesShareOneBuffer) {
  std::vector<BufferRequest> r = {{1000, 0, 1}, {1000, 2, 3}, {1000, 4, 5}};
  ArenaPlan p = plan_arena(r);
  EXPECT_EQ(p.arena_bytes, 1024u);  // one aligned buffer
  EXPECT_EQ(p.offsets, (std::vector<size_t>{0, 0, 0}));
}

TEST(MemoryPlanner, OverlappingLifetimesGetDisjointSpace) {
  std::vector<BufferRequest> r = {{100, 0, 2}, {300, 1, 3}, {50, 2, 2}, {400, 3, 5}, {64, 6, 6}};
  ArenaPlan p = plan_arena(r);
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(p.offsets[i] % kArenaAlignment, 0u);
    EXPECT_LE(p.offsets[i] + r[i].bytes, p.arena_bytes);
    for (size_t j = i + 1; j < r.size(); ++j) EXPECT_FALSE(overlaps(r[i], p.offsets[i], r[j], p.offsets[j])) << i << j;
  }
  size_t sum = 0;
  for (const auto& b : r) sum += b.bytes;
  EXPECT_LT(p.arena_bytes, sum + r.size() * kArenaAlignment);
}

TEST(MemoryPlanner, ZeroByteBuffersStillGetDistinctAddresses) {
  std::vector<BufferRequest> r = {{0, 0, 1}, {0, 0, 1}};
  ArenaPlan p = plan_arena(r);
  EXPECT_NE(p.offsets[0], p.offsets[1]);
}

}  // namespace
}  // namespace kiln
