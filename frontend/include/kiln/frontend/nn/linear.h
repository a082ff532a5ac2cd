#pragma once
// Linear, Identity, Flatten and Embedding.

#include <optional>

#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"

namespace kiln::nn {

class LinearOptions {
 public:
  LinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  KILN_ARG(int64_t, in_features);
  KILN_ARG(int64_t, out_features);
  KILN_ARG(bool, bias) = true;
};

/// y = x W^T + b over the last dim of x. weight [out, in] and bias [out] start as PyTorch's:
/// kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)) for both, drawn from the
/// default generator (seed it with kiln::manual_seed).
class LinearImpl : public Module {
 public:
  /// Throws Error(kInvalidArgument) for a negative feature count.
  LinearImpl(int64_t in_features, int64_t out_features)
      : LinearImpl(LinearOptions(in_features, out_features)) {}
  explicit LinearImpl(const LinearOptions& options);
  /// Draws weight and bias again.
  void reset_parameters();
  /// Throws Error(kInvalidArgument) when x's last dim is not in_features ("Linear: input
  /// [4,3] has 3 features in its last dim, expected in_features=2").
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  LinearOptions options;
  Tensor& weight;
  Tensor& bias;  // undefined without bias
};
KILN_MODULE(Linear);

/// Returns its input.
class IdentityImpl : public Module {
 public:
  IdentityImpl() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};
KILN_MODULE(Identity);

class FlattenOptions {
 public:
  KILN_ARG(int64_t, start_dim) = 1;
  KILN_ARG(int64_t, end_dim) = -1;
};

/// Flattens dims start_dim..end_dim into one (default: all but the batch dim).
class FlattenImpl : public Module {
 public:
  explicit FlattenImpl(const FlattenOptions& opts = {}) : Module("Flatten"), options(opts) {}
  FlattenImpl(int64_t start_dim, int64_t end_dim = -1)
      : FlattenImpl(FlattenOptions().start_dim(start_dim).end_dim(end_dim)) {}
  /// Throws Error(kInvalidArgument) when the dims do not exist in x.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  FlattenOptions options;
};
KILN_MODULE(Flatten);

class EmbeddingOptions {
 public:
  EmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  KILN_ARG(int64_t, num_embeddings);
  KILN_ARG(int64_t, embedding_dim);
};

/// A lookup table: forward(indices of any shape, i64 or i32) gives [..., embedding_dim] rows
/// of weight [num_embeddings, embedding_dim], which starts as N(0, 1) like PyTorch's.
class EmbeddingImpl : public Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim)
      : EmbeddingImpl(EmbeddingOptions(num_embeddings, embedding_dim)) {}
  explicit EmbeddingImpl(const EmbeddingOptions& options);
  void reset_parameters();
  /// Throws Error(kInvalidArgument) for floating indices or an index outside [0, num_embeddings).
  Tensor forward(const Tensor& indices) override;
  std::string extra_repr() const override;

  EmbeddingOptions options;
  Tensor& weight;
};
KILN_MODULE(Embedding);

}  // namespace kiln::nn
