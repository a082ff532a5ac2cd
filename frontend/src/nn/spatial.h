#pragma once
// Helpers shared by the 2-d layers: unbatched [C, H, W] inputs and PyTorch's pooling sizes.

#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"

namespace kiln::nn {

/// x as [N, C, H, W]: a rank-3 input gets a batch dim of 1, which restore() removes again.
/// Throws Error(kInvalidArgument) naming the module for another rank.
struct Batched4d {
  Batched4d(const char* module, const Tensor& input) : unbatched(input.rank() == 3) {
    if (input.rank() != 3 && input.rank() != 4)
      raise(ErrorCode::kInvalidArgument, "{}: input {} has rank {}, expected 4 ([N,C,H,W]) or 3 ([C,H,W])",
            module, shape_string(input.shape()), input.rank());
    x = unbatched ? input.reshape({1, input.dim(0), input.dim(1), input.dim(2)}) : input;
  }
  Tensor restore(const Tensor& y) const { return unbatched ? y.reshape({y.dim(1), y.dim(2), y.dim(3)}) : y; }
  bool unbatched;
  Tensor x;
};

/// PyTorch's pooling output size along one dim; throws Error(kInvalidArgument) when it is < 1.
inline int64_t pool_output_size(const char* module, const Dims& input_shape, int64_t in, int64_t kernel,
                                int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  int64_t out = span < 0 ? 0 : (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // The last window must start inside the input or its left padding.
  if (ceil_mode && out > 0 && (out - 1) * stride >= in + pad) --out;
  if (out < 1)
    raise(ErrorCode::kInvalidArgument, "{}: input {} is too small for kernel {} (padding {}, dilation {})",
          module, shape_string(input_shape), kernel, pad, dilation);
  return out;
}

}  // namespace kiln::nn
