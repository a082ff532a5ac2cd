#include "kiln/runtime/tensor_ops.h"

#include "kiln/runtime/autograd.h"

namespace kiln {
namespace {

Attributes attr(const std::string& name, Attribute value) {
  Attributes a;
  a.set(name, std::move(value));
  return a;
}

Tensor unary(std::string_view op, const Tensor& t, const Attributes& attrs = {}) { return run_op1(op, {t}, attrs); }

Tensor reduce(std::string_view op, const Tensor& t, const std::vector<int64_t>& axes, bool keepdim) {
  Attributes a = attr("keepdims", int64_t{keepdim});
  // ReduceSum takes axes as an input since opset 13, the others since opset 18 (kLatestOpset).
  return run_op1(op, {t, axes.empty() ? Tensor() : int_tensor(axes)}, a);
}

}  // namespace

Tensor int_tensor(const std::vector<int64_t>& values) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values);
}

Tensor add(const Tensor& a, const Tensor& b) { return run_op1("Add", {a, b}); }
Tensor sub(const Tensor& a, const Tensor& b) { return run_op1("Sub", {a, b}); }
Tensor mul(const Tensor& a, const Tensor& b) { return run_op1("Mul", {a, b}); }
Tensor div(const Tensor& a, const Tensor& b) { return run_op1("Div", {a, b}); }
Tensor pow(const Tensor& a, const Tensor& b) { return run_op1("Pow", {a, b}); }
Tensor maximum(const Tensor& a, const Tensor& b) { return run_op1("Max", {a, b}); }
Tensor minimum(const Tensor& a, const Tensor& b) { return run_op1("Min", {a, b}); }
Tensor greater(const Tensor& a, const Tensor& b) { return run_op1("Greater", {a, b}); }
Tensor less(const Tensor& a, const Tensor& b) { return run_op1("Less", {a, b}); }
Tensor equal(const Tensor& a, const Tensor& b) { return run_op1("Equal", {a, b}); }
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) { return run_op1("Where", {cond, a, b}); }

Tensor scalar_like(double value, const Tensor& like) {
  Tensor t;
  switch (like.dtype()) {
    case DType::kF32: t = Tensor::scalar<float>(static_cast<float>(value)); break;
    case DType::kF64: t = Tensor::scalar<double>(value); break;
    case DType::kI64: t = Tensor::scalar<int64_t>(static_cast<int64_t>(value)); break;
    case DType::kI32: t = Tensor::scalar<int32_t>(static_cast<int32_t>(value)); break;
    default:
      raise(ErrorCode::kInvalidArgument, "a scalar of dtype {} is not supported", to_string(like.dtype()));
  }
  return like.device().host_accessible() ? t : t.to(like.device());
}

Tensor full_like(const Tensor& like, double value) {
  return run_op1("Expand", {scalar_like(value, like), int_tensor(like.shape())});
}
Tensor zeros_like(const Tensor& like) { return Tensor::zeros(like.shape(), like.dtype(), like.device()); }
Tensor ones_like(const Tensor& like) { return full_like(like, 1.0); }
Tensor cast(const Tensor& t, DType dtype) { return unary("Cast", t, attr("to", onnx_code(dtype))); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }
Tensor operator>(const Tensor& a, double b) { return greater(a, scalar_like(b, a)); }
Tensor operator<(const Tensor& a, double b) { return less(a, scalar_like(b, a)); }
Tensor operator>(const Tensor& a, const Tensor& b) { return greater(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return less(a, b); }

Tensor neg(const Tensor& t) { return unary("Neg", t); }
Tensor abs(const Tensor& t) { return unary("Abs", t); }
Tensor exp(const Tensor& t) { return unary("Exp", t); }
Tensor log(const Tensor& t) { return unary("Log", t); }
Tensor sqrt(const Tensor& t) { return unary("Sqrt", t); }
Tensor erf(const Tensor& t) { return unary("Erf", t); }
Tensor sign(const Tensor& t) { return unary("Sign", t); }
Tensor reciprocal(const Tensor& t) { return unary("Reciprocal", t); }
Tensor relu(const Tensor& t) { return unary("Relu", t); }
Tensor sigmoid(const Tensor& t) { return unary("Sigmoid", t); }
Tensor tanh(const Tensor& t) { return unary("Tanh", t); }
Tensor leaky_relu(const Tensor& t, double negative_slope) {
  return unary("LeakyRelu", t, attr("alpha", static_cast<float>(negative_slope)));
}
Tensor gelu(const Tensor& t, const std::string& approximate) { return unary("Gelu", t, attr("approximate", approximate)); }
Tensor clamp(const Tensor& t, std::optional<double> min, std::optional<double> max) {
  return run_op1("Clip", {t, min ? scalar_like(*min, t) : Tensor(), max ? scalar_like(*max, t) : Tensor()});
}
Tensor softmax(const Tensor& t, int64_t axis) { return unary("Softmax", t, attr("axis", axis)); }
Tensor log_softmax(const Tensor& t, int64_t axis) { return unary("LogSoftmax", t, attr("axis", axis)); }

Tensor matmul(const Tensor& a, const Tensor& b) { return run_op1("MatMul", {a, b}); }

Tensor sum(const Tensor& t, const std::vector<int64_t>& axes, bool keepdim) {
  return reduce("ReduceSum", t, axes, keepdim);
}
Tensor mean(const Tensor& t, const std::vector<int64_t>& axes, bool keepdim) {
  return reduce("ReduceMean", t, axes, keepdim);
}
Tensor amax(const Tensor& t, const std::vector<int64_t>& axes, bool keepdim) {
  return reduce("ReduceMax", t, axes, keepdim);
}

Tensor sum_to(const Tensor& t, const Dims& shape) {
  if (t.shape() == shape) return t;
  const size_t rank = t.rank();
  if (shape.size() > rank) {
    raise(ErrorCode::kInvalidArgument, "sum_to: shape {} has more axes than {}", to_string(shape),
          to_string(t.shape()));
  }
  const size_t lead = rank - shape.size();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < rank; ++i) {
    if (i < lead) {
      axes.push_back(static_cast<int64_t>(i));
    } else if (shape[i - lead] == 1 && t.shape()[i] != 1) {
      axes.push_back(static_cast<int64_t>(i));
    } else if (shape[i - lead] != t.shape()[i]) {
      raise(ErrorCode::kInvalidArgument, "sum_to: {} does not broadcast from {}", to_string(t.shape()),
            to_string(shape));
    }
  }
  Tensor summed = sum(t, axes, /*keepdim=*/true);
  return reshape(summed, shape);
}

Tensor reshape(const Tensor& t, const Dims& shape) { return run_op1("Reshape", {t, int_tensor(shape)}); }
Tensor transpose(const Tensor& t, const std::vector<int64_t>& perm) {
  return perm.empty() ? unary("Transpose", t) : unary("Transpose", t, attr("perm", perm));
}
Tensor unsqueeze(const Tensor& t, const std::vector<int64_t>& axes) { return run_op1("Unsqueeze", {t, int_tensor(axes)}); }
Tensor squeeze(const Tensor& t, const std::vector<int64_t>& axes) {
  return run_op1("Squeeze", {t, axes.empty() ? Tensor() : int_tensor(axes)});
}
Tensor expand(const Tensor& t, const Dims& shape) { return run_op1("Expand", {t, int_tensor(shape)}); }
Tensor concat(const std::vector<Tensor>& tensors, int64_t axis) { return run_op1("Concat", tensors, attr("axis", axis)); }
Tensor slice(const Tensor& t, int64_t axis, int64_t start, int64_t end, int64_t step) {
  return run_op1("Slice", {t, int_tensor({start}), int_tensor({end}), int_tensor({axis}), int_tensor({step})});
}
Tensor gather(const Tensor& t, const Tensor& indices, int64_t axis) {
  return run_op1("Gather", {t, indices}, attr("axis", axis));
}

}  // namespace kiln
