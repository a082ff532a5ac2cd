#pragma once
// LayerNorm (ONNX LayerNormalization) and BatchNorm1d/BatchNorm2d (ONNX BatchNormalization:
// training_mode=1 with batch statistics in training, running statistics in eval).

#include <optional>
#include <vector>

#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"

namespace kiln::nn {

class LayerNormOptions {
 public:
  LayerNormOptions(std::vector<int64_t> normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}
  KILN_ARG(std::vector<int64_t>, normalized_shape);
  KILN_ARG(double, eps) = 1e-5;
  KILN_ARG(bool, elementwise_affine) = true;
};

/// Normalizes over the trailing dims given by normalized_shape; weight (ones) and bias (zeros)
/// of that shape when elementwise_affine.
class LayerNormImpl : public Module {
 public:
  /// Throws Error(kInvalidArgument) for an empty normalized_shape or a size < 1.
  explicit LayerNormImpl(const LayerNormOptions& options);
  LayerNormImpl(std::vector<int64_t> normalized_shape)
      : LayerNormImpl(LayerNormOptions(std::move(normalized_shape))) {}
  void reset_parameters();
  /// Throws Error(kInvalidArgument) when x's trailing dims differ from normalized_shape.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  LayerNormOptions options;
  Tensor& weight;  // undefined without elementwise_affine
  Tensor& bias;
};
KILN_MODULE(LayerNorm);

class BatchNormOptions {
 public:
  BatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  KILN_ARG(int64_t, num_features);
  KILN_ARG(double, eps) = 1e-5;
  /// PyTorch's momentum m: running = (1 - m) * running + m * batch statistic (the unbiased
  /// variance). std::nullopt: a cumulative average (m = 1 / num_batches_tracked).
  KILN_ARG(std::optional<double>, momentum) = 0.1;
  KILN_ARG(bool, affine) = true;
  KILN_ARG(bool, track_running_stats) = true;
};

/// Shared by BatchNorm1d and BatchNorm2d: parameters weight (ones) and bias (zeros) when affine;
/// buffers running_mean (zeros), running_var (ones) and num_batches_tracked (i64 0) when tracking.
class BatchNormImplBase : public Module {
 public:
  /// Throws Error(kInvalidArgument) for num_features < 1 or momentum outside [0, 1].
  BatchNormImplBase(const char* type_name, const BatchNormOptions& options);
  void reset_running_stats();
  void reset_parameters();
  /// In training (or without running statistics): normalizes with the batch's mean and biased
  /// variance and, when tracking, updates the running statistics and num_batches_tracked.
  /// In eval: normalizes with the running statistics. Throws Error(kInvalidArgument) naming
  /// the module when x's shape does not fit, or in training with one value per channel.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  BatchNormOptions options;
  Tensor& weight;  // undefined without affine
  Tensor& bias;
  Tensor& running_mean;  // undefined without track_running_stats
  Tensor& running_var;
  Tensor& num_batches_tracked;

 protected:
  /// Throws when x's rank is not one this module accepts.
  virtual void check_input(const Tensor& x) const = 0;
};

/// Over [N, C] or [N, C, L].
class BatchNorm1dImpl : public BatchNormImplBase {
 public:
  BatchNorm1dImpl(const BatchNormOptions& opts) : BatchNormImplBase("BatchNorm1d", opts) {}
  BatchNorm1dImpl(int64_t num_features) : BatchNorm1dImpl(BatchNormOptions(num_features)) {}

 protected:
  void check_input(const Tensor& x) const override;
};
KILN_MODULE(BatchNorm1d);

/// Over [N, C, H, W].
class BatchNorm2dImpl : public BatchNormImplBase {
 public:
  BatchNorm2dImpl(const BatchNormOptions& opts) : BatchNormImplBase("BatchNorm2d", opts) {}
  BatchNorm2dImpl(int64_t num_features) : BatchNorm2dImpl(BatchNormOptions(num_features)) {}

 protected:
  void check_input(const Tensor& x) const override;
};
KILN_MODULE(BatchNorm2d);

}  // namespace kiln::nn
