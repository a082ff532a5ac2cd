#pragma once
// Losses as modules (criterion(input, target)) and as functions (functional::mse_loss...),
// with PyTorch's formulas and reductions.
//
// Shapes: the elementwise losses (MSE, L1, Huber, BCEWithLogits) need input and target of the
// same shape. PyTorch silently broadcasts e.g. a prediction [N,1] against a target [N] to
// [N,N]; kiln raises Error(kInvalidArgument) instead, unless the options opt in with
// allow_broadcast(true).

#include <string>

#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"

namespace kiln::nn {

/// How per-element losses are combined.
enum class Reduction { kNone, kMean, kSum };
/// "none", "mean" or "sum".
std::string to_string(Reduction reduction);
/// Throws Error(kInvalidArgument) for another name.
Reduction reduction_from_string(const std::string& name);

class MSELossOptions {
 public:
  MSELossOptions(Reduction reduction = Reduction::kMean) : reduction_(reduction) {}
  KILN_ARG(Reduction, reduction);
  /// Broadcast input and target with numpy rules instead of requiring equal shapes.
  KILN_ARG(bool, allow_broadcast) = false;
};
using L1LossOptions = MSELossOptions;

class HuberLossOptions {
 public:
  HuberLossOptions(Reduction reduction = Reduction::kMean) : reduction_(reduction) {}
  KILN_ARG(Reduction, reduction);
  /// Where the loss turns from quadratic to linear (> 0).
  KILN_ARG(double, delta) = 1.0;
  KILN_ARG(bool, allow_broadcast) = false;
};

class NLLLossOptions {
 public:
  NLLLossOptions(Reduction reduction = Reduction::kMean) : reduction_(reduction) {}
  KILN_ARG(Reduction, reduction);
  /// Per-class weights [C] (undefined: all 1).
  KILN_ARG(Tensor, weight);
  /// Targets equal to this contribute nothing (and do not count in the mean).
  KILN_ARG(int64_t, ignore_index) = -100;
};

class CrossEntropyLossOptions {
 public:
  CrossEntropyLossOptions(Reduction reduction = Reduction::kMean) : reduction_(reduction) {}
  KILN_ARG(Reduction, reduction);
  KILN_ARG(Tensor, weight);
  KILN_ARG(int64_t, ignore_index) = -100;
  /// In [0, 1]: the target mixes the class with the uniform distribution, as torch 1.13's.
  KILN_ARG(double, label_smoothing) = 0.0;
};

class BCEWithLogitsLossOptions {
 public:
  BCEWithLogitsLossOptions(Reduction reduction = Reduction::kMean) : reduction_(reduction) {}
  KILN_ARG(Reduction, reduction);
  /// Weights broadcast to the input's shape (undefined: all 1).
  KILN_ARG(Tensor, weight);
  /// Weights of the positive term, broadcast along the last dim (e.g. [C] for [N, C]).
  KILN_ARG(Tensor, pos_weight);
  KILN_ARG(bool, allow_broadcast) = false;
};

namespace functional {

// Each throws Error(kInvalidArgument) naming the loss for mismatched shapes (see above),
// non-floating inputs, or different dtypes of input and target.

/// (input - target)^2.
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options = {});
/// |input - target| (gradient sign(input - target), 0 where equal).
Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options = {});
/// 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta), d = input - target.
Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options = {});
/// input: log-probabilities [N, C, d1..] (or [C]); target: class indices [N, d1..] (or []),
/// i64 or i32. Loss -weight[t] * input[t]; "mean" divides by the sum of the weights of the
/// targets that are not ignored. Throws Error(kInvalidArgument) for a target shape that does
/// not fit (e.g. [N,1] for input [N,C]), a floating target, or a class index out of range.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {});
/// nll_loss(log_softmax(input, 1), target) with label smoothing. A floating target of the
/// input's shape holds class probabilities instead ("mean" then divides by N * d1 * ..).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options = {});
/// -[pos_weight * y * log sigmoid(x) + (1 - y) * log(1 - sigmoid(x))] * weight, computed as
/// (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x) without overflow.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& options = {});

}  // namespace functional

#define KILN_LOSS_MODULE(Name, Options, Function)                                   \
  class Name##Impl : public Module {                                                \
   public:                                                                          \
    explicit Name##Impl(const Options& opts = {}) : Module(#Name), options(opts) {} \
    Tensor forward(const Tensor& input, const Tensor& target) {                     \
      return functional::Function(input, target, options);                          \
    }                                                                               \
    using Module::forward;                                                          \
    std::string extra_repr() const override {                                       \
      return "reduction=" + ::kiln::nn::to_string(options.reduction());             \
    }                                                                               \
    Options options;                                                                \
  };                                                                                \
  KILN_MODULE(Name)

KILN_LOSS_MODULE(MSELoss, MSELossOptions, mse_loss);
KILN_LOSS_MODULE(L1Loss, L1LossOptions, l1_loss);
KILN_LOSS_MODULE(HuberLoss, HuberLossOptions, huber_loss);
KILN_LOSS_MODULE(NLLLoss, NLLLossOptions, nll_loss);
KILN_LOSS_MODULE(CrossEntropyLoss, CrossEntropyLossOptions, cross_entropy);
KILN_LOSS_MODULE(BCEWithLogitsLoss, BCEWithLogitsLossOptions, binary_cross_entropy_with_logits);

#undef KILN_LOSS_MODULE

}  // namespace kiln::nn
