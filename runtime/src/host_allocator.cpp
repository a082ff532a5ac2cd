#include "host_allocator.h"

#include <cstdlib>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kiln/runtime/error.h"

namespace kiln {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kCachedMin = size_t{64} << 10;   // smaller blocks: malloc keeps them well
constexpr size_t kCacheLimit = size_t{1} << 30;   // bytes kept for reuse, at most

size_t rounded(size_t bytes) {
  if (bytes > std::numeric_limits<size_t>::max() - 4096) {
    raise(ErrorCode::kOutOfMemory, "cannot allocate {} bytes on host", bytes);
  }
  const size_t unit = bytes >= kCachedMin ? 4096 : kAlignment;  // page multiples reuse better
  return std::max<size_t>((bytes + unit - 1) / unit * unit, kAlignment);
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  size_t kept = 0;
};

// Never destroyed: tensors may be released by other static objects at exit.
Cache& cache() {
  static auto* c = new Cache();
  return *c;
}

}  // namespace

void* host_allocate(size_t bytes) {
  const size_t size = rounded(bytes);
  if (size >= kCachedMin) {
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.kept -= size;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlignment, size);
  if (!p) raise(ErrorCode::kOutOfMemory, "cannot allocate {} bytes on host", bytes);
  return p;
}

void host_release(void* data, size_t bytes) noexcept {
  const size_t size = bytes > std::numeric_limits<size_t>::max() - 4096 ? 0 : rounded(bytes);
  if (size >= kCachedMin) {
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    if (c.kept + size <= kCacheLimit) {
      c.free_blocks[size].push_back(data);
      c.kept += size;
      return;
    }
  }
  std::free(data);
}

}  // namespace kiln
