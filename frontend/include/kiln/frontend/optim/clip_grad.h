#pragma once
// Gradient clipping as torch.nn.utils (1.13). Gradients are replaced by new tensors, never
// written in place (they may share storage); parameters without a gradient are skipped.

#include <limits>
#include <vector>

#include "kiln/runtime/tensor.h"

namespace kiln::optim {

/// Scales every gradient by clip_coef = max_norm / (total_norm + 1e-6) when clip_coef < 1 (or
/// NaN, which makes the gradients NaN as in PyTorch), where total_norm is the norm_type-norm of
/// all gradients together (norm_type may be infinity). The coefficient is computed in the
/// gradients' dtype, as PyTorch does. Returns total_norm (0 without gradients). Throws
/// Error(kInvalidArgument) for a negative or NaN max_norm, a norm_type that is not > 0, and, with
/// error_if_nonfinite, a NaN or infinite total norm (the gradients are then left unchanged).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

/// Clamps every gradient to [-clip_value, clip_value]. Throws Error(kInvalidArgument) for a
/// negative or NaN clip_value.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace kiln::optim
