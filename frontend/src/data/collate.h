#pragma once
// Making one batch: the examples at some indices, stacked along a new dim 0.

#include <cstdint>
#include <span>

#include "kiln/frontend/data/dataset.h"

namespace kiln::data {

/// Stacks dataset's examples at indices into contiguous host tensors [indices.size(), ...].
/// Throws what dataset.get throws, and Error(kInvalidArgument) naming batch and the dataset
/// indices when examples differ in shape or dtype, or only some have a target.
Example make_batch(const Dataset& dataset, std::span<const int64_t> indices, int64_t batch);

}  // namespace kiln::data
