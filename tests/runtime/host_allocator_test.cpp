// Host memory: 64-byte alignment, and large blocks handed out again for the same size.
#include "host_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace kiln {
namespace {

TEST(HostAllocator, AlignedAndNeverNull) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{100}, size_t{1} << 20}) {
    void* p = host_allocate(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    host_release(p, bytes);
  }
}

TEST(HostAllocator, LargeBlocksAreReusedForTheSameSize) {
  const size_t bytes = (size_t{3} << 20) + 12;  // an odd size: rounded to pages both times
  void* first = host_allocate(bytes);
  static_cast<char*>(first)[bytes - 1] = 1;  // the whole block is usable
  host_release(first, bytes);
  void* again = host_allocate(bytes);
  EXPECT_EQ(again, first);
  void* other = host_allocate(bytes);  // the cached block is taken: a fresh one
  EXPECT_NE(other, first);
  host_release(again, bytes);
  host_release(other, bytes);
}

}  // namespace
}  // namespace kiln
