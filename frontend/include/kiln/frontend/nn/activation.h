#pragma once
// Activation modules: ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax.

#include <string>

#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"

namespace kiln::nn {

class ReLUImpl : public Module {
 public:
  ReLUImpl() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
};
KILN_MODULE(ReLU);

class LeakyReLUOptions {
 public:
  KILN_ARG(double, negative_slope) = 0.01;
};

class LeakyReLUImpl : public Module {
 public:
  explicit LeakyReLUImpl(const LeakyReLUOptions& opts = {}) : Module("LeakyReLU"), options(opts) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, options.negative_slope()); }
  std::string extra_repr() const override;
  LeakyReLUOptions options;
};
KILN_MODULE(LeakyReLU);

class SigmoidImpl : public Module {
 public:
  SigmoidImpl() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};
KILN_MODULE(Sigmoid);

class TanhImpl : public Module {
 public:
  TanhImpl() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override { return tanh(x); }
};
KILN_MODULE(Tanh);

class GELUOptions {
 public:
  /// "none" (exact, with erf) or "tanh".
  KILN_ARG(std::string, approximate) = "none";
};

class GELUImpl : public Module {
 public:
  /// Throws Error(kInvalidArgument) for an approximate other than "none" or "tanh".
  explicit GELUImpl(const GELUOptions& opts = {});
  Tensor forward(const Tensor& x) override { return gelu(x, options.approximate()); }
  std::string extra_repr() const override { return "approximate='" + options.approximate() + "'"; }
  GELUOptions options;
};
KILN_MODULE(GELU);

class SoftmaxOptions {
 public:
  SoftmaxOptions(int64_t dim) : dim_(dim) {}
  KILN_ARG(int64_t, dim);
};

/// Softmax along dim (negative counts from the end).
class SoftmaxImpl : public Module {
 public:
  SoftmaxImpl(const SoftmaxOptions& opts) : Module("Softmax"), options(opts) {}
  SoftmaxImpl(int64_t dim) : SoftmaxImpl(SoftmaxOptions(dim)) {}
  /// Throws Error(kInvalidArgument) when dim is out of range for x.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  SoftmaxOptions options;
};
KILN_MODULE(Softmax);

using LogSoftmaxOptions = SoftmaxOptions;

/// log(softmax(x)) along dim, computed stably.
class LogSoftmaxImpl : public Module {
 public:
  LogSoftmaxImpl(const LogSoftmaxOptions& opts) : Module("LogSoftmax"), options(opts) {}
  LogSoftmaxImpl(int64_t dim) : LogSoftmaxImpl(LogSoftmaxOptions(dim)) {}
  /// Throws Error(kInvalidArgument) when dim is out of range for x.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  LogSoftmaxOptions options;
};
KILN_MODULE(LogSoftmax);

}  // namespace kiln::nn
