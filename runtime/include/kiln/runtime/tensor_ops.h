#pragma once
// Tensor math as eager calls of registry ops (kiln/runtime/eager.h): what gradient formulas are
// written with, and the core of the frontend's tensor API. Every function records the tape
// when an input requires grad. Each throws kiln::Error naming the op on bad dtypes or shapes.

#include <optional>
#include <vector>

#include "kiln/runtime/eager.h"
#include "kiln/runtime/tensor.h"

namespace kiln {

// ---- Elementwise, with numpy broadcasting ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
/// Boolean results.
Tensor greater(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);
/// cond ? a : b elementwise (cond is bool).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

/// A rank-0 tensor holding value in like's dtype, on like's device.
Tensor scalar_like(double value, const Tensor& like);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, double value);
/// A copy converted to dtype (ONNX Cast).
Tensor cast(const Tensor& t, DType dtype);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator>(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);

// ---- Unary math and activations ----
Tensor neg(const Tensor& t);
Tensor abs(const Tensor& t);
Tensor exp(const Tensor& t);
Tensor log(const Tensor& t);
Tensor sqrt(const Tensor& t);
Tensor erf(const Tensor& t);
Tensor sign(const Tensor& t);
Tensor reciprocal(const Tensor& t);
Tensor relu(const Tensor& t);
Tensor sigmoid(const Tensor& t);
Tensor tanh(const Tensor& t);
Tensor leaky_relu(const Tensor& t, double negative_slope = 0.01);
/// approximate: "none" (erf) or "tanh", as torch.nn.GELU.
Tensor gelu(const Tensor& t, const std::string& approximate = "none");
/// Clamps to [min, max]; std::nullopt leaves a side open.
Tensor clamp(const Tensor& t, std::optional<double> min, std::optional<double> max);
Tensor softmax(const Tensor& t, int64_t axis);
Tensor log_softmax(const Tensor& t, int64_t axis);

// ---- Linear algebra ----
/// numpy matmul: batched and broadcasting.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- Reductions (empty axes: all axes) ----
Tensor sum(const Tensor& t, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& t, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor amax(const Tensor& t, const std::vector<int64_t>& axes = {}, bool keepdim = false);
/// Sums a broadcast gradient back to shape (leading axes and size-1 axes), the inverse of
/// numpy broadcasting. Throws Error(kInvalidArgument) when t does not broadcast from shape.
Tensor sum_to(const Tensor& t, const Dims& shape);

// ---- Shape and data movement (copies through kernels; Tensor's members give views) ----
/// Like Tensor::reshape, but always a fresh tensor.
Tensor reshape(const Tensor& t, const Dims& shape);
/// perm empty: reverse the axes.
Tensor transpose(const Tensor& t, const std::vector<int64_t>& perm = {});
Tensor unsqueeze(const Tensor& t, const std::vector<int64_t>& axes);
/// axes empty: every size-1 axis.
Tensor squeeze(const Tensor& t, const std::vector<int64_t>& axes = {});
Tensor expand(const Tensor& t, const Dims& shape);
Tensor concat(const std::vector<Tensor>& tensors, int64_t axis);
/// Slices [start, end) with step along axis (ONNX Slice, negative indices count from the end).
Tensor slice(const Tensor& t, int64_t axis, int64_t start, int64_t end, int64_t step = 1);
/// Picks entries of t along axis by integer indices (ONNX Gather).
Tensor gather(const Tensor& t, const Tensor& indices, int64_t axis = 0);

/// An i64 tensor of shape [n] holding values; the shape inputs of ops.
Tensor int_tensor(const std::vector<int64_t>& values);

}  // namespace kiln
