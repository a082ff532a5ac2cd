#include "kiln/frontend/nn/linear.h"

#include <fmt/format.h>

#include <cmath>

#include "kiln/frontend/nn/init.h"

namespace kiln::nn {

namespace {
Tensor checked_empty(const Dims& shape, const char* module) {
  for (int64_t d : shape)
    if (d < 0) raise(ErrorCode::kInvalidArgument, "{}: size {} is negative", module, shape_string(shape));
  return Tensor::zeros(shape, DType::kF32);
}
}  // namespace

LinearImpl::LinearImpl(const LinearOptions& opts)
    : Module("Linear"),
      options(opts),
      weight(
          register_parameter("weight", checked_empty({opts.out_features(), opts.in_features()}, "Linear"))),
      bias(register_parameter("bias",
                              opts.bias() ? Tensor::zeros({opts.out_features()}, DType::kF32) : Tensor())) {
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = options.in_features();
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor LinearImpl::forward(const Tensor& x) {
  if (x.rank() == 0 || x.dim(-1) != options.in_features())
    raise(ErrorCode::kInvalidArgument,
          "Linear: input {} has {} features in its last dim, expected in_features={}",
          shape_string(x.shape()), x.rank() == 0 ? 0 : x.dim(-1), options.in_features());
  if (x.rank() == 2) {
    Attributes attrs;
    attrs.set("transB", int64_t{1});
    if (bias.defined()) return run_op1("Gemm", {x, weight, bias}, attrs);
    return run_op1("Gemm", {x, weight}, attrs);
  }
  Tensor y = matmul(x, weight.transpose(0, 1));
  return bias.defined() ? y + bias : y;
}

std::string LinearImpl::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", options.in_features(),
                     options.out_features(), options.bias());
}

Tensor FlattenImpl::forward(const Tensor& x) { return flatten(x, options.start_dim(), options.end_dim()); }

std::string FlattenImpl::extra_repr() const {
  return fmt::format("start_dim={}, end_dim={}", options.start_dim(), options.end_dim());
}

EmbeddingImpl::EmbeddingImpl(const EmbeddingOptions& opts)
    : Module("Embedding"),
      options(opts),
      weight(register_parameter("weight",
                                checked_empty({opts.num_embeddings(), opts.embedding_dim()}, "Embedding"))) {
  reset_parameters();
}

void EmbeddingImpl::reset_parameters() { init::normal_(weight, 0.0, 1.0); }

Tensor EmbeddingImpl::forward(const Tensor& indices) {
  if (indices.dtype() != DType::kI64 && indices.dtype() != DType::kI32)
    raise(ErrorCode::kInvalidArgument, "Embedding: indices have dtype {}, expected i64 or i32",
          kiln::to_string(indices.dtype()));
  Tensor host = cast(indices, DType::kI64).to(Device::host());
  const int64_t n = options.num_embeddings();
  for (int64_t v : host.to_vector<int64_t>())
    if (v < 0 || v >= n)
      raise(ErrorCode::kInvalidArgument, "Embedding: index {} is out of range for {} embeddings", v, n);
  return gather(weight, indices, 0);
}

std::string EmbeddingImpl::extra_repr() const {
  return fmt::format("{}, {}", options.num_embeddings(), options.embedding_dim());
}

}  // namespace kiln::nn
