#pragma once
// Small work runs on the calling thread. oneDNN parallelizes every primitive and fixes some
// thread counts when a primitive is created; waking OpenMP threads for a few KiB of data costs
// more than the work itself (a whole scheduler slice when the cores are shared), so both
// creating and running small primitives happen with OpenMP limited to one thread.

#include <omp.h>

#include <cstddef>

namespace kiln::cpu {

/// Below this many bytes of inputs plus outputs, a kernel runs single-threaded.
inline constexpr size_t kParallelMinBytes = size_t{1} << 16;

/// Limits OpenMP to the calling thread while alive when `on`; restores the setting after.
class SerialScope {
 public:
  explicit SerialScope(bool on) : saved_(on ? omp_get_max_threads() : 0) {
    if (saved_ > 1) omp_set_num_threads(1);
  }
  ~SerialScope() {
    if (saved_ > 1) omp_set_num_threads(saved_);
  }
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  int saved_;
};

}  // namespace kiln::cpu
