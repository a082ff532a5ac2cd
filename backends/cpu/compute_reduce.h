#pragma once
// The f32 reduction kernel shared by ReduceSum/Mean/Max and GlobalAveragePool/GlobalMaxPool.

#include <memory>

#include "kernel.h"

namespace kiln::cpu {

enum class Red { kSum, kMean, kMax };

/// Reduces `in` to `kept` (same rank, reduced dims set to 1) on oneDNN's reduction primitive.
/// identity copies the input (noop_with_empty_axes). An empty input gives 0 (sum), NaN (mean)
/// or -inf (max), without a primitive, since oneDNN rejects empty tensors.
std::unique_ptr<Kernel> make_float_reduce(const Dims& in, const Dims& kept, Red r, bool identity = false);

}  // namespace kiln::cpu
