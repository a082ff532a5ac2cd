#include "kiln/frontend/nn/dropout.h"

#include <fmt/format.h>

namespace kiln::nn {

DropoutImpl::DropoutImpl(const DropoutOptions& opts) : Module("Dropout"), options(opts) {
  if (!(opts.p() >= 0.0 && opts.p() <= 1.0))
    raise(ErrorCode::kInvalidArgument, "Dropout: probability p={} is outside [0, 1]", opts.p());
  if (opts.seed()) own_generator_ = std::make_unique<Generator>(*opts.seed());
}

Generator& DropoutImpl::generator() {
  if (own_generator_) return *own_generator_;
  if (options.generator()) return *options.generator();
  return default_generator();
}

Tensor DropoutImpl::forward(const Tensor& x) {
  if (!is_floating(x.dtype()))
    raise(ErrorCode::kInvalidArgument, "Dropout: input has dtype {}, expected a floating dtype",
          kiln::to_string(x.dtype()));
  const double p = options.p();
  if (!is_training() || p == 0.0) return x;
  // Keep each element with probability 1 - p; kept elements are scaled by 1 / (1 - p).
  const double scale = p == 1.0 ? 0.0 : 1.0 / (1.0 - p);
  Tensor u = rand(x.shape(), generator(), DType::kF64);
  std::vector<double> mask = u.to_vector<double>();
  for (double& m : mask) m = m < p ? 0.0 : scale;
  Tensor m = Tensor::from_vector<double>(x.shape(), mask);
  if (x.dtype() != DType::kF64) m = cast(m, x.dtype());
  return x * m.to(x.device());
}

std::string DropoutImpl::extra_repr() const { return fmt::format("p={}", options.p()); }

}  // namespace kiln::nn
