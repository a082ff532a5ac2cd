#include "kiln/frontend/nn/activation.h"

#include <fmt/format.h>

namespace kiln::nn {

namespace {
int64_t checked_dim(const char* module, const Tensor& x, int64_t dim) {
  const auto rank = static_cast<int64_t>(x.rank());
  if (dim < -rank || dim >= rank || rank == 0)
    raise(ErrorCode::kInvalidArgument, "{}: dim {} is out of range for input {}", module, dim,
          shape_string(x.shape()));
  return dim < 0 ? dim + rank : dim;
}
}  // namespace

std::string LeakyReLUImpl::extra_repr() const {
  return fmt::format("negative_slope={}", options.negative_slope());
}

GELUImpl::GELUImpl(const GELUOptions& opts) : Module("GELU"), options(opts) {
  if (opts.approximate() != "none" && opts.approximate() != "tanh")
    raise(ErrorCode::kInvalidArgument, "GELU: approximate is '{}', expected 'none' or 'tanh'",
          opts.approximate());
}

Tensor SoftmaxImpl::forward(const Tensor& x) { return softmax(x, checked_dim("Softmax", x, options.dim())); }
std::string SoftmaxImpl::extra_repr() const { return fmt::format("dim={}", options.dim()); }

Tensor LogSoftmaxImpl::forward(const Tensor& x) {
  return log_softmax(x, checked_dim("LogSoftmax", x, options.dim()));
}
std::string LogSoftmaxImpl::extra_repr() const { return fmt::format("dim={}", options.dim()); }

}  // namespace kiln::nn
