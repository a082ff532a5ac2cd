#pragma once
// Helpers shared by the gradient formulas of the op definitions (runtime/ops/*.cpp).

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "kiln/runtime/autograd.h"
#include "kiln/runtime/tensor_ops.h"

namespace kiln::ops {

/// An int-list that is an attribute before some opset and input `index` after (Reduce axes,
/// Squeeze axes, Slice starts...): the attribute when set, else the input when given, else
/// std::nullopt.
std::optional<std::vector<int64_t>> attr_or_input_ints(const GradContext& g, std::string_view attr, size_t index);

/// Axes normalized to [0, rank) and sorted.
std::vector<int64_t> normalized_axes(std::vector<int64_t> axes, int64_t rank);

/// A gradient for a one-input elementwise op: the output gradient times derivative(g), the
/// derivative of the output with respect to input 0 (a tensor broadcastable to its shape).
GradFn elementwise_grad(std::function<Tensor(const GradContext&)> derivative);

/// cond (bool) as 0/1 in like's dtype.
Tensor mask_like(const Tensor& cond, const Tensor& like);

/// A gradient of a reduced tensor brought back to the input's shape: size-1 axes reinserted
/// (when keepdims was 0) and broadcast to `shape`.
Tensor unreduce(const Tensor& grad, const Dims& shape, const std::vector<int64_t>& axes, bool keepdims);

}  // namespace kiln::ops
