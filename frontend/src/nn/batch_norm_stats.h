#pragma once
// PyTorch's running variance from the running_var output of ONNX's BatchNormalization in
// training mode, shared by nn::BatchNorm and GraphModule.

#include "kiln/frontend/tensor.h"

namespace kiln::nn {

/// ONNX's op updates running_var = m * input_var + (1 - m) * biased_var; PyTorch's update (with
/// its momentum 1 - m) uses the unbiased variance, n / (n - 1) * biased_var, n values per channel
/// (N times the spatial size). So PyTorch's value is (n * onnx_running_var - m * input_var) / (n - 1),
/// in the tensors' dtype and on their device. Needs n > 1 (PyTorch refuses training on one value
/// per channel); callers check that first.
inline Tensor pytorch_running_var(const Tensor& onnx_running_var, const Tensor& input_var, double momentum,
                                  int64_t values_per_channel) {
  const double n = static_cast<double>(values_per_channel);
  return (onnx_running_var * n - input_var * momentum) * (1.0 / (n - 1.0));
}

}  // namespace kiln::nn
