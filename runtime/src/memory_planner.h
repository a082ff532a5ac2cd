#pragma once
// Static memory planning: buffers whose lifetimes do not overlap share arena space.

#include <cstddef>
#include <vector>

namespace kiln {

struct BufferRequest {
  size_t bytes = 0;
  size_t first_step = 0;  // step that writes it
  size_t last_step = 0;   // last step that reads it (inclusive)
};

struct ArenaPlan {
  std::vector<size_t> offsets;  // one per request
  size_t arena_bytes = 0;
};

inline constexpr size_t kArenaAlignment = 64;

/// Greedy best-fit by decreasing size: each buffer takes the lowest offset that does not
/// overlap a placed buffer alive at the same time. Offsets are kArenaAlignment-aligned.
ArenaPlan plan_arena(const std::vector<BufferRequest>& requests);

}  // namespace kiln
