#pragma once
// The activation that kiln's fused ops (domain "kiln") apply after their base op, as a oneDNN
// eltwise post-op; and the conv/matmul kernel builders of conv.cpp and matmul.cpp, which take
// it so that fused.cpp reuses them rather than copying them.

#include <algorithm>
#include <limits>
#include <memory>
#include <string>

#include "dnnl_context.h"
#include "kernel.h"

namespace kiln::cpu {

struct Activation {
  enum Kind { kNone, kRelu, kClip, kGelu } kind = kNone;  // kGelu: the exact (erf) GELU
  float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();

  /// Reads activation, activation_min and activation_max; throws KernelError on an unknown
  /// activation or min > max.
  static Activation of(const NodeView& v);
  /// Appends the eltwise post-op (nothing for kNone).
  void append_to(dnnl::post_ops& po) const;
  /// Applies it in place, for the paths that compute without a primitive (empty reductions).
  void apply(float* data, int64_t n) const;
};

/// "" when a Conv-like node (Conv, ConvTranspose, FusedConv) can run, else the reason.
std::string supports_conv(const NodeView& v);
/// Conv (or ConvTranspose) with the activation as a post-op.
std::unique_ptr<Kernel> make_conv_kernel(const NodeView& v, const Activation& act);

/// "" when MatMul's operands (inputs 0 and 1) can run, else the reason. FusedMatMul's bias
/// (input 2) must be [N].
std::string supports_matmul(const NodeView& v);
/// MatMul plus the optional bias input 2 (through the primitive's bias argument) and the
/// activation as a post-op.
std::unique_ptr<Kernel> make_matmul_kernel(const NodeView& v, const Activation& act);

/// "" when a Gemm-like node can run, else the reason.
std::string supports_gemm(const NodeView& v);
/// Gemm with the activation as a post-op after the beta * C sum.
std::unique_ptr<Kernel> make_gemm_kernel(const NodeView& v, const Activation& act);

}  // namespace kiln::cpu
