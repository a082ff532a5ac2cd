#pragma once
// Conv2d: ONNX Conv with PyTorch's options and default initialization.

#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"

namespace kiln::nn {

class Conv2dOptions {
 public:
  Conv2dOptions(int64_t in_channels, int64_t out_channels, ExpandingArray<2> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(std::move(kernel_size)) {}
  KILN_ARG(int64_t, in_channels);
  KILN_ARG(int64_t, out_channels);
  KILN_ARG(ExpandingArray<2>, kernel_size);
  KILN_ARG(ExpandingArray<2>, stride) = 1;
  /// Zero padding on both sides of each spatial dim.
  KILN_ARG(ExpandingArray<2>, padding) = 0;
  KILN_ARG(ExpandingArray<2>, dilation) = 1;
  KILN_ARG(int64_t, groups) = 1;
  KILN_ARG(bool, bias) = true;
};

/// 2-d convolution over [N, C, H, W] (or unbatched [C, H, W]). weight [out, in/groups, kh, kw]
/// and bias [out] start as PyTorch's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in/groups*kh*kw.
class Conv2dImpl : public Module {
 public:
  Conv2dImpl(int64_t in_channels, int64_t out_channels, ExpandingArray<2> kernel_size)
      : Conv2dImpl(Conv2dOptions(in_channels, out_channels, std::move(kernel_size))) {}
  /// Throws Error(kInvalidArgument) for channels not divisible by groups or sizes < 1.
  explicit Conv2dImpl(const Conv2dOptions& options);
  void reset_parameters();
  /// Throws Error(kInvalidArgument) naming both when x's rank or channel count does not fit,
  /// or when the padded input is smaller than the dilated kernel.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Conv2dOptions options;
  Tensor& weight;
  Tensor& bias;  // undefined without bias
};
KILN_MODULE(Conv2d);

}  // namespace kiln::nn
