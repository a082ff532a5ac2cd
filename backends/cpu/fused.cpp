// kiln's fused ops (domain "kiln"): FusedConv, FusedGemm and FusedMatMul run on the Conv, Gemm
// and MatMul kernels of conv.cpp and matmul.cpp with the activation as a oneDNN eltwise
// post-op, so the output is written once instead of once per op.

#include <cmath>
#include <string>

#include "kernel_families.h"
#include "post_ops.h"

namespace kiln::cpu {

Activation Activation::of(const NodeView& v) {
  Activation a;
  std::string name = v.attr_string("activation", "");
  a.lo = v.attr_float("activation_min", a.lo);
  a.hi = v.attr_float("activation_max", a.hi);
  if (name == "Relu")
    a.kind = kRelu;
  else if (name == "Clip")
    a.kind = kClip;
  else if (name == "Gelu")
    a.kind = kGelu;
  else if (!name.empty())
    fail(v, "activation '" + name + "' is not supported (expected Relu, Clip or Gelu)");
  // oneDNN's clip differs from ONNX's numpy order when min > max; the op definition rejects it.
  if (a.kind == kClip && !(a.lo <= a.hi)) fail(v, "activation_min is above activation_max");
  return a;
}

void Activation::append_to(dnnl::post_ops& po) const {
  if (kind == kRelu)
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  else if (kind == kClip)
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, lo, hi);
  else if (kind == kGelu)
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
}

void Activation::apply(float* data, int64_t n) const {
  if (kind == kNone) return;
  if (kind == kGelu) {
    for (int64_t i = 0; i < n; ++i) data[i] = 0.5f * data[i] * (1.f + std::erf(data[i] * 0.70710678f));
    return;
  }
  float low = kind == kRelu ? 0.f : lo, high = kind == kRelu ? std::numeric_limits<float>::max() : hi;
  for (int64_t i = 0; i < n; ++i) data[i] = std::min(std::max(data[i], low), high);
}

namespace {

// The base op's checks, plus a valid activation.
SupportsFn with_activation(std::string (*base)(const NodeView&)) {
  return [base](const NodeView& v) -> std::string {
    try {
      Activation::of(v);
    } catch (const KernelError& e) {
      return e.what();
    }
    return base(v);
  };
}

}  // namespace

void register_fused_kernels(KernelTable& table) {
  table.add("FusedConv", with_activation(supports_conv),
            [](const NodeView& v) { return make_conv_kernel(v, Activation::of(v)); });
  table.add("FusedGemm", with_activation(supports_gemm),
            [](const NodeView& v) { return make_gemm_kernel(v, Activation::of(v)); });
  table.add("FusedMatMul", with_activation(supports_matmul),
            [](const NodeView& v) { return make_matmul_kernel(v, Activation::of(v)); });
}

}  // namespace kiln::cpu
