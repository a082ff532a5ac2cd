#include "kiln/frontend/optim/clip_grad.h"

#include <cmath>

#include "kiln/runtime/autograd.h"
#include "kiln/runtime/tensor_ops.h"

namespace kiln::optim {

namespace {

/// The norm_type-norm of t (all elements), as a rank-0 tensor of t's dtype.
Tensor norm(const Tensor& t, double norm_type) {
  if (std::isinf(norm_type)) return amax(abs(t));
  if (norm_type == 2) return sqrt(sum(t * t));
  if (norm_type == 1) return sum(abs(t));
  return pow(sum(pow(abs(t), scalar_like(norm_type, t))), scalar_like(1.0 / norm_type, t));
}

/// torch's clip_coef = max_norm / (total_norm + 1e-6) in the gradients' dtype T.
template <class T>
double clip_coef(double max_norm, double total_norm) {
  T denom = static_cast<T>(total_norm) + static_cast<T>(1e-6);
  return static_cast<double>(static_cast<T>(max_norm) / denom);
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  if (!(max_norm >= 0)) raise(ErrorCode::kInvalidArgument, "clip_grad_norm_: invalid max_norm {} (must be >= 0)", max_norm);
  if (!(norm_type > 0))
    raise(ErrorCode::kInvalidArgument, "clip_grad_norm_: invalid norm_type {} (must be > 0 or infinity)", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> with_grad, norms;
  for (const Tensor& p : params) {
    if (!p.defined()) raise(ErrorCode::kInvalidArgument, "clip_grad_norm_: a parameter is undefined");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!is_floating(g.dtype()))
      raise(ErrorCode::kInvalidArgument, "clip_grad_norm_: a gradient has dtype {}", to_string(g.dtype()));
    with_grad.push_back(p);
    Tensor n = norm(g.detach(), norm_type);
    const DType first = with_grad[0].grad().dtype();
    norms.push_back(reshape(n.dtype() == first ? n : cast(n, first), {1}));
  }
  if (with_grad.empty()) return 0.0;
  const DType dtype = with_grad[0].grad().dtype();
  Tensor total = norms.size() == 1 ? norms[0] : norm(concat(norms, 0), norm_type);
  double total_norm = total.item<double>();
  if (error_if_nonfinite && !std::isfinite(total_norm))
    raise(ErrorCode::kInvalidArgument,
          "clip_grad_norm_: the total norm of order {} of the gradients is non-finite ({}), so it cannot be clipped "
          "(pass error_if_nonfinite = false to scale the gradients by it anyway)",
          norm_type, total_norm);
  double coef = dtype == DType::kF64 ? clip_coef<double>(max_norm, total_norm) : clip_coef<float>(max_norm, total_norm);
  if (!(coef >= 1.0)) {  // torch multiplies by clamp(coef, max=1): a no-op at 1, NaN when coef is NaN
    for (Tensor p : with_grad) p.set_grad(p.grad().detach() * coef);
  }
  return total_norm;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  if (!(clip_value >= 0))
    raise(ErrorCode::kInvalidArgument, "clip_grad_value_: invalid clip_value {} (must be >= 0)", clip_value);
  NoGradGuard no_grad;
  for (Tensor p : params) {
    if (!p.defined()) raise(ErrorCode::kInvalidArgument, "clip_grad_value_: a parameter is undefined");
    Tensor g = p.grad();
    if (g.defined()) p.set_grad(clamp(g.detach(), -clip_value, clip_value));
  }
}

}  // namespace kiln::optim
