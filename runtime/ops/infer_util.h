#pragma once
// Shared rules for the op definitions' inference: numpy broadcasting over symbolic dims,
// conv/pool output sizes, axis lists, dtype checks and folding of small integer values
// (shape arithmetic such as Shape -> Gather -> Concat -> Reshape).

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "kiln/runtime/op_registry.h"

namespace kiln::ops {

/// Integer values with at most this many elements are folded during inference; matches the
/// ABI's small-constant bound.
inline constexpr int64_t kMaxFoldElements = KILN_SMALL_CONSTANT;

// --- Attribute defaults (std::variant needs the exact alternative types).
inline Attribute int_attr(int64_t v) { return v; }
inline Attribute float_attr(float v) { return v; }
inline Attribute string_attr(std::string v) { return v; }
inline Attribute ints_attr(std::vector<int64_t> v = {}) { return v; }

// --- Errors.
/// Throws Error(kUnsupported) with the node prefixed: a valid ONNX node that kiln cannot run.
[[noreturn]] void fail_unsupported(const InferContext& c, const std::string& message);
/// Fails when the node sets attribute `name`, which ONNX removed at opset `since` (it became
/// an input, or its meaning changed); `instead` says what replaces it.
void forbid_attr_since(const InferContext& c, const char* name, int since, const char* instead);
/// Fails when the node sets attribute `name`, which ONNX added only at opset `since`.
void forbid_attr_before(const InferContext& c, const char* name, int since);
/// Fails when the node has more than max_inputs inputs at this opset (inputs that ONNX added
/// at a later opset).
void limit_inputs(const InferContext& c, size_t max_inputs);

// --- Dims and shapes.
/// Numpy broadcast of two dims; std::nullopt when they are incompatible.
std::optional<Dim> broadcast_dim(const Dim& a, const Dim& b);
/// Multidirectional (numpy) broadcast of shapes; fails naming both shapes when incompatible.
Shape broadcast_shapes(const InferContext& c, const std::vector<Shape>& shapes);
/// Unidirectional broadcast: from must broadcast to `to` (Gemm's C, LayerNorm's scale).
void check_unidirectional(const InferContext& c, const Shape& from, const Shape& to, const std::string& what);
/// Merges two dims that must be equal (Concat's other axes); fails when both are static and differ.
std::optional<Dim> merge_dim(const Dim& a, const Dim& b);
/// a + b and a * b; fail naming the node when the result overflows int64 (corrupt sizes).
int64_t checked_add(const InferContext& c, int64_t a, int64_t b);
int64_t checked_mul(const InferContext& c, int64_t a, int64_t b);
/// Product of dims [begin, end): static when all are static, the dim itself for a single
/// non-static dim, unknown otherwise.
Dim dim_product(const InferContext& c, const Shape& shape, size_t begin, size_t end);
/// a * factor for a static factor; symbolic dims survive a factor of 1.
Dim dim_scale(const InferContext& c, const Dim& a, int64_t factor);
/// a + delta for a static delta; symbolic dims survive a delta of 0.
Dim dim_add(const InferContext& c, const Dim& a, int64_t delta);
/// A shape of the given rank whose dims are all unknown.
Shape unknown_dims(size_t rank);
/// Fails unless the shape has a rank within [min_rank, max_rank]; no-op for unknown rank.
void require_rank(const InferContext& c, size_t input, const Shape& shape, size_t min_rank,
                  size_t max_rank = std::numeric_limits<size_t>::max());

// --- Axes.
/// Normalizes each axis against rank and fails on duplicates.
std::vector<int64_t> normalize_axes(const InferContext& c, const std::vector<int64_t>& axes, int64_t rank);

// --- DTypes.
/// Fails when both dtypes are known and differ.
void require_same_dtype(const InferContext& c, size_t a, size_t b);
/// Fails unless input i is floating point (undefined passes: graph-level partial inference).
void require_floating(const InferContext& c, size_t i);
/// Fails when input i is bool (arithmetic ops).
void require_numeric(const InferContext& c, size_t i);
/// Fails unless input i is i64 (or i32 when allow_i32).
void require_index(const InferContext& c, size_t i, bool allow_i32 = false);
/// Fails unless input i is bool.
void require_bool(const InferContext& c, size_t i);

// --- Shape inputs (Reshape's shape, Pad's pads...).
/// The length of a 1-D shape input when its own shape is static; fails for rank != 1.
std::optional<int64_t> shape_input_length(const InferContext& c, size_t i);
/// The axes a node names, from the `axes` attribute before axes_input_opset and from input
/// axes_input after; std::nullopt when they are an input whose value is unknown. An absent
/// attribute/input gives an empty list.
std::optional<std::vector<int64_t>> read_axes(const InferContext& c, int axes_input_opset, size_t axes_input);

// --- Conv and pool geometry.
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: begins then ends
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
};
/// Reads kernel_shape (or kernel_from_weight when the attribute is absent), strides,
/// dilations, pads and auto_pad for n spatial dims, with ONNX defaults; fails on wrong lengths,
/// non-positive kernel/stride/dilation, negative pads or an unknown auto_pad.
Window read_window(const InferContext& c, size_t n,
                   const std::optional<std::vector<int64_t>>& kernel_from_weight, bool has_dilations = true);
/// Output size of a conv/pool window along spatial axis i.
Dim window_output(const InferContext& c, const Window& w, size_t i, const Dim& in);
/// Output size of ConvTranspose along spatial axis i (no output_shape attribute).
Dim transposed_output(const InferContext& c, const Window& w, size_t i, const Dim& in,
                      int64_t output_padding);

// --- Small integer values (folding of shape arithmetic).
/// A small host integer tensor (i64, i32 or bool) with its elements widened to int64.
struct IntValue {
  DType dtype = DType::kI64;
  Dims shape;
  std::vector<int64_t> data;
};
/// Input i's value when it is a known i64/i32/bool tensor of at most kMaxFoldElements elements.
std::optional<IntValue> small_int_value(const InferContext& c, size_t i);
/// The element count of dims when it is at most kMaxFoldElements; std::nullopt otherwise
/// (including counts that overflow int64).
std::optional<int64_t> foldable_numel(const Dims& dims);
/// Builds a host tensor from an IntValue (narrowing to its dtype).
Tensor to_tensor(const IntValue& value);
/// Sets output i to value's type and value.
void set_int_output(InferContext& c, size_t i, IntValue value);
/// Shape of a 1-D i64 vector value.
Shape shape_from_values(const std::vector<int64_t>& values);
/// Elementwise fold with numpy broadcasting: out[k] = fn(the inputs' elements at k).
/// std::nullopt when the output has more than kMaxFoldElements elements or fn gives up
/// (overflow, division by zero). The shapes must already be known to broadcast.
using FoldFn = std::function<std::optional<int64_t>(const std::vector<int64_t>&)>;
std::optional<IntValue> fold_broadcast(const std::vector<IntValue>& inputs, DType out_dtype,
                                       const FoldFn& fn);
/// Folds an elementwise node whose inputs are all small known integers into output 0.
/// Returns false (and sets nothing) when any input is unknown or the fold gives up.
bool try_fold_elementwise(InferContext& c, size_t num_inputs, DType out_dtype, const FoldFn& fn);

}  // namespace kiln::ops
