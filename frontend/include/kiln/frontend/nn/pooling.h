#pragma once
// MaxPool2d, AvgPool2d and AdaptiveAvgPool2d over [N, C, H, W] (or unbatched [C, H, W]), with
// PyTorch's output sizes (ceil_mode included).

#include <optional>

#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"

namespace kiln::nn {

class MaxPool2dOptions {
 public:
  MaxPool2dOptions(ExpandingArray<2> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}
  KILN_ARG(ExpandingArray<2>, kernel_size);
  /// Defaults to kernel_size.
  KILN_ARG(ExpandingArray<2>, stride);
  KILN_ARG(ExpandingArray<2>, padding) = 0;
  KILN_ARG(ExpandingArray<2>, dilation) = 1;
  KILN_ARG(bool, ceil_mode) = false;
};

class MaxPool2dImpl : public Module {
 public:
  /// Throws Error(kInvalidArgument) when padding exceeds half the kernel (as PyTorch).
  explicit MaxPool2dImpl(const MaxPool2dOptions& options);
  MaxPool2dImpl(ExpandingArray<2> kernel_size) : MaxPool2dImpl(MaxPool2dOptions(std::move(kernel_size))) {}
  /// Throws Error(kInvalidArgument) for a rank other than 3 or 4 or an input smaller than the window.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  MaxPool2dOptions options;
};
KILN_MODULE(MaxPool2d);

class AvgPool2dOptions {
 public:
  AvgPool2dOptions(ExpandingArray<2> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}
  KILN_ARG(ExpandingArray<2>, kernel_size);
  /// Defaults to kernel_size.
  KILN_ARG(ExpandingArray<2>, stride);
  KILN_ARG(ExpandingArray<2>, padding) = 0;
  KILN_ARG(bool, ceil_mode) = false;
  /// Whether zero padding counts in the divisor (PyTorch's default: true).
  KILN_ARG(bool, count_include_pad) = true;
};

class AvgPool2dImpl : public Module {
 public:
  /// Throws Error(kInvalidArgument) when padding exceeds half the kernel (as PyTorch).
  explicit AvgPool2dImpl(const AvgPool2dOptions& options);
  AvgPool2dImpl(ExpandingArray<2> kernel_size) : AvgPool2dImpl(AvgPool2dOptions(std::move(kernel_size))) {}
  /// Throws Error(kInvalidArgument) for a rank other than 3 or 4 or an input smaller than the window.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  AvgPool2dOptions options;
};
KILN_MODULE(AvgPool2d);

class AdaptiveAvgPool2dOptions {
 public:
  AdaptiveAvgPool2dOptions(ExpandingArray<2> output_size) : output_size_(std::move(output_size)) {}
  KILN_ARG(ExpandingArray<2>, output_size);
};

/// Averages to output_size. Output 1x1 is a global average; other sizes need input sizes that
/// are multiples of the output sizes (then it is AvgPool with kernel = stride = input/output).
class AdaptiveAvgPool2dImpl : public Module {
 public:
  AdaptiveAvgPool2dImpl(const AdaptiveAvgPool2dOptions& opts) : Module("AdaptiveAvgPool2d"), options(opts) {}
  AdaptiveAvgPool2dImpl(ExpandingArray<2> output_size)
      : AdaptiveAvgPool2dImpl(AdaptiveAvgPool2dOptions(std::move(output_size))) {}
  /// Throws Error(kUnsupported) when the input sizes are not multiples of the output sizes
  /// (and the output is not 1x1), and Error(kInvalidArgument) for a rank other than 3 or 4.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  AdaptiveAvgPool2dOptions options;
};
KILN_MODULE(AdaptiveAvgPool2d);

}  // namespace kiln::nn
