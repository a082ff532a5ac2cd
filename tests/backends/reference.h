#pragma once
// Naive reference implementations for the op cases. Plain loops over indices, computed in
// double, written from the ONNX spec and sharing nothing with kiln's kernels.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kiln/runtime/dtype.h"
#include "kiln/runtime/shape.h"
#include "kiln/runtime/tensor.h"

namespace kiln::test {

/// A dense row-major tensor of doubles, tagged with the dtype the op should produce.
struct Ref {
  DType dtype = DType::kF32;
  Dims shape;
  std::vector<double> v;
  bool present = true;  // false for an omitted optional input

  Ref() = default;
  Ref(DType dt, Dims dims);  // zeros
  Ref(DType dt, Dims dims, std::vector<double> values);
  static Ref absent();

  int64_t numel() const { return static_cast<int64_t>(v.size()); }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  double& at(const Dims& index);
  double at(const Dims& index) const;
};

using Refs = std::vector<Ref>;

/// A copy of a host tensor's elements as doubles (any dtype kiln tests use).
Ref to_ref(const Tensor& tensor);

int64_t numel_of(const Dims& shape);
int64_t ravel(const Dims& index, const Dims& shape);
/// Calls f(index) for every index of shape in row-major order (once for rank 0, never for size 0).
void for_each_index(const Dims& shape, const std::function<void(const Dims&)>& f);
/// Normalizes a possibly negative axis.
int64_t norm_axis(int64_t axis, int64_t rank);

// --- Elementwise with numpy broadcasting.
Dims broadcast_shapes(const std::vector<Dims>& shapes);
/// Flat offset into an input of shape `in` for output index `out_index` (numpy rules).
int64_t broadcast_offset(const Dims& out_index, const Dims& in);
Ref map_unary(const Ref& x, const std::function<double(double)>& f, DType out_dtype);
Ref map_broadcast(const std::vector<Ref>& inputs, const std::function<double(const std::vector<double>&)>& f,
                  DType out_dtype);
Ref map_binary(const Ref& a, const Ref& b, const std::function<double(double, double)>& f, DType out_dtype);

// --- Linear algebra.
/// numpy.matmul: 1-D operands are promoted and the added dim removed; batch dims broadcast.
Ref matmul(const Ref& a, const Ref& b);

// --- Convolution and pooling over N spatial dims (layout N, C, spatial...).
struct ConvParams {
  Dims strides;           // empty: all 1
  Dims pads;              // begin..., end...; empty: all 0
  Dims dilations;         // empty: all 1
  int64_t group = 1;
  std::string auto_pad = "NOTSET";
  Dims output_padding;    // ConvTranspose only
};

/// Begin and end padding per spatial dim, resolving auto_pad (SAME_UPPER puts the odd pad at
/// the end, SAME_LOWER at the beginning, VALID pads nothing).
void resolve_pads(const Dims& in, const Dims& kernel, const ConvParams& p, Dims* begin, Dims* end);
/// x [N, C, ...], w [M, C/group, k...], b [M] or absent.
Ref conv(const Ref& x, const Ref& w, const Ref& b, const ConvParams& p);
/// x [N, C, ...], w [C, M/group, k...], b [M] or absent.
Ref conv_transpose(const Ref& x, const Ref& w, const Ref& b, const ConvParams& p);

struct PoolParams {
  Dims kernel;
  Dims strides;  // empty: all 1
  Dims pads;     // begin..., end...; empty: all 0
  bool ceil_mode = false;
  bool count_include_pad = false;  // AveragePool only
  bool is_max = true;
  Dims dilations;  // empty: all 1 (AveragePool from opset 19)
};
/// MaxPool / AveragePool. With ceil_mode a last window must start inside the input or its
/// begin padding.
Ref pool(const Ref& x, const PoolParams& p);

// --- Reductions.
/// Reduces the given (normalized) axes; f folds each element into the accumulator and
/// finish(acc, count) gives the result.
Ref reduce(const Ref& x, const Dims& axes, bool keepdims, double init, const std::function<double(double, double)>& f,
           const std::function<double(double, int64_t)>& finish);

// --- Data movement.
Ref transpose(const Ref& x, const Dims& perm);
/// Reinterprets the elements with a new shape (same count).
Ref reshaped(const Ref& x, const Dims& shape);

}  // namespace kiln::test
