// Conv and ConvTranspose, 1-D to 3-D: group (incl. depthwise), dilations, strides, pads,
// auto_pad, optional bias; ConvTranspose also output_padding and output_shape. Both run on
// oneDNN's (de)convolution primitive in the layouts oneDNN prefers, with operands reordered
// through per-thread scratch buffers when those differ from the plain ONNX layouts. FusedConv
// (fused.cpp) is Conv with an activation post-op, and its optional input Z (a residual of the
// output's shape) is added through a sum post-op before the activation.

#include <algorithm>
#include <cstring>
#include <vector>

#include "compute_window.h"
#include "dnnl_exec.h"
#include "dnnl_staged.h"
#include "kernel_families.h"
#include "post_ops.h"

namespace kiln::cpu {
namespace {

struct ConvPlan {
  Dims x, w, y;  // x and y as [N, C, spatial...] also when the node is channels-last
  int64_t group = 1, in_channels = 0, out_channels = 0;
  Window win;
  Dims dnnl_pad_end;  // end padding as oneDNN counts it (ConvTranspose: minus output_padding)
  bool transposed = false;
  bool channels_last = false;  // FusedConv's X, Z and Y are [N, spatial..., C]
};

std::string plan_conv(const NodeView& v, ConvPlan& p) {
  p.transposed = v.op_type() == "ConvTranspose";
  p.channels_last = v.op_type() == "FusedConv" && v.attr_int("channels_last", 0) != 0;
  p.x = p.channels_last ? channels_first(v.input_shape(0)) : v.input_shape(0);
  p.w = v.input_shape(1);
  p.y = p.channels_last ? channels_first(v.output_shape(0)) : v.output_shape(0);
  if (p.x.size() < 3 || p.x.size() > 5) return "X must have rank 3 to 5 (N, C and 1 to 3 spatial dims)";
  if (p.w.size() != p.x.size()) return "W must have the rank of X";
  if (p.y.size() != p.x.size()) return "output rank differs from X's";
  p.group = v.attr_int("group", 1);
  if (p.group < 1) return "group must be positive";
  p.in_channels = p.x[1];
  if (p.transposed) {  // W: [C, M / group, k...]
    if (p.w[0] != p.in_channels) return "W dim 0 must equal X's channels";
    p.out_channels = p.w[1] * p.group;
  } else {  // W: [M, C / group, k...]
    if (p.w[1] * p.group != p.in_channels) return "W dim 1 times group must equal X's channels";
    p.out_channels = p.w[0];
  }
  if (p.in_channels % p.group != 0 || p.out_channels % p.group != 0) return "channels are not divisible by group";
  if (v.has_input(2) && v.input_shape(2) != Dims{p.out_channels}) return "B must have shape [M]";
  if (p.y[0] != p.x[0] || p.y[1] != p.out_channels) return "output shape must be [N, M, ...]";
  if (v.has_input(3) && v.input_shape(3) != v.output_shape(0)) return "Z must have the output's shape";
  Dims in(p.x.begin() + 2, p.x.end()), kernel(p.w.begin() + 2, p.w.end());
  if (v.attr_ints("kernel_shape", kernel) != kernel) return "kernel_shape differs from W's spatial dims";
  std::string why = read_window(v, in, kernel, p.win);
  if (!why.empty()) return why;
  size_t n = in.size();
  p.dnnl_pad_end = p.win.pad_end;
  if (!p.transposed) {
    for (size_t d = 0; d < n; ++d)
      if (conv_out_size(p.win, d, in[d]) != p.y[d + 2])
        return "output dim " + std::to_string(d + 2) + " (" + std::to_string(p.y[d + 2]) + ") does not match the window";
    return "";
  }
  Dims out_pad = v.attr_ints("output_padding", Dims(n, 0));
  if (out_pad.size() != n) return "output_padding has " + std::to_string(out_pad.size()) + " entries, expected " + std::to_string(n);
  std::string auto_pad = v.attr_string("auto_pad", "NOTSET");
  bool derive = v.attr("output_shape") || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  for (size_t d = 0; d < n; ++d) {
    int64_t full = p.win.strides[d] * (in[d] - 1) + out_pad[d] + p.win.extent(d);
    if (derive) {  // ONNX: total padding split evenly, the odd one at the end only for SAME_UPPER
      int64_t total = full - p.y[d + 2];  // negative: a longer output, extended at the end
      p.win.pad_begin[d] = total < 0 ? 0 : auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      p.win.pad_end[d] = total - p.win.pad_begin[d];
    } else if (full - p.win.pad_begin[d] - p.win.pad_end[d] != p.y[d + 2]) {
      return "output dim " + std::to_string(d + 2) + " (" + std::to_string(p.y[d + 2]) + ") does not match the window";
    }
    p.dnnl_pad_end[d] = p.win.pad_end[d] - out_pad[d];
  }
  return "";
}

class ConvKernel : public Kernel {
 public:
  ConvKernel(const NodeView& v, const Activation& act) : act_(act) {
    ConvPlan p;
    std::string why = plan_conv(v, p);
    if (!why.empty()) fail(v, why);
    has_bias_ = v.has_input(2);
    has_sum_ = v.has_input(3);
    channels_last_ = p.channels_last;
    y_ = p.y;
    if (numel(p.y) == 0) return;  // nothing to compute
    if (numel(p.x) == 0 || numel(p.w) == 0) {
      fill_bias_ = true;  // no products: the output is the bias (or zero)
      return;
    }
    using Tag = dnnl::memory::format_tag;
    auto dims = [](const Dims& d) { return dnnl::memory::dims(d.begin(), d.end()); };
    auto any = [&](const Dims& d) { return dnnl::memory::desc(dims(d), dnnl::memory::data_type::f32, Tag::any); };
    Dims kernel(p.w.begin() + 2, p.w.end());
    int64_t k_size = numel(kernel), g = p.group;
    int64_t oc = p.out_channels / g, ic = p.in_channels / g;
    // The plain ONNX weights as oneDNN dims ([G,] OC, IC, k...) with the strides of W's layout.
    Dims w_dims = g > 1 ? Dims{g, oc, ic} : Dims{oc, ic};
    w_dims.insert(w_dims.end(), kernel.begin(), kernel.end());
    size_t o = g > 1 ? 1 : 0;  // index of the OC dim
    Dims w_strides(w_dims.size(), 1);
    for (size_t d = w_dims.size() - 1; d-- > o + 2;) w_strides[d] = w_strides[d + 1] * w_dims[d + 1];
    if (p.transposed) {        // W is [G][IC][OC][k]
      w_strides[o] = k_size;
      w_strides[o + 1] = oc * k_size;
    } else {  // W is [G][OC][IC][k]
      w_strides[o] = ic * k_size;
      w_strides[o + 1] = k_size;
    }
    if (g > 1) w_strides[0] = oc * ic * k_size;
    auto x_md = p.channels_last ? channels_last_desc(p.x) : plain_desc(p.x, KILN_DTYPE_F32);
    auto y_md = p.channels_last ? channels_last_desc(p.y) : plain_desc(p.y, KILN_DTYPE_F32);
    auto w_md = strided_desc(w_dims, w_strides, KILN_DTYPE_F32);
    auto b_md = has_bias_ ? plain_desc({p.out_channels}, KILN_DTYPE_F32) : dnnl::memory::desc();
    auto strides = dims(p.win.strides), dil = dims(p.win.dnnl_dilations());
    auto pad_l = dims(p.win.pad_begin), pad_r = dims(p.dnnl_pad_end);
    const auto fwd = dnnl::prop_kind::forward_inference;
    dnnl::primitive_attr attr;
    dnnl::post_ops po;
    if (has_sum_) po.append_sum(1.f);  // Y holds Z when the primitive runs
    act_.append_to(po);
    attr.set_post_ops(po);
    // oneDNN's preferred (blocked) layouts plus reorders beat its plain-layout code: measured on
    // the 3x3, 64-channel, 56x56 benchmark, 1.3x (1 thread) to 1.4x (2 threads) faster on a
    // quiet machine. Constant weights are reordered once, here (see pack_weights).
    if (p.transposed) {
      using Deconv = dnnl::deconvolution_forward;
      auto make = [&](const dnnl::memory::desc& x, const dnnl::memory::desc& w, const dnnl::memory::desc& y) {
        return Deconv::primitive_desc(
            Deconv::desc(fwd, dnnl::algorithm::deconvolution_direct, x, w, b_md, y, strides, dil, pad_l, pad_r), attr,
            engine());
      };
      Deconv::primitive_desc pd = make(any(p.x), any(w_dims), any(p.y));
      finish_setup(pd, Deconv(pd), x_md, w_md, b_md, y_md);
    } else {
      using Conv = dnnl::convolution_forward;
      auto make = [&](const dnnl::memory::desc& x, const dnnl::memory::desc& w, const dnnl::memory::desc& y) {
        return Conv::primitive_desc(
            Conv::desc(fwd, dnnl::algorithm::convolution_direct, x, w, b_md, y, strides, dil, pad_l, pad_r), attr,
            engine());
      };
      Conv::primitive_desc pd = make(any(p.x), any(w_dims), any(p.y));
      // With few input channels oneDNN has direct kernels that read X in its plain layout:
      // no reorder of X, and faster than its pick for a reordered X (on the small CNN's 8->16
      // channel 3x3 conv, 1.4x at batch 32 and 8). For more channels it offers only its slow
      // gemm or reference code on plain X, so its own pick stays.
      if (pd.src_desc() != x_md) {
        try {
          Conv::primitive_desc direct = make(x_md, any(w_dims), any(p.y));
          std::string impl = direct.impl_info_str();
          if (impl.find("gemm") == std::string::npos && impl.find("ref") == std::string::npos) pd = direct;
        } catch (const dnnl::error&) {  // no implementation for plain X: keep the first pick
        }
      }
      finish_setup(pd, Conv(pd), x_md, w_md, b_md, y_md);
    }
    pack_weights(v);
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    if (fill_bias_) return run_fill(in, out);
    if (!ready_) return;
    const void* x = src_.in(in[0].data, 0);
    const void* w = packed_w_.empty() ? wei_.in(in[1].data, 1) : packed_w_.data();
    void* y = dst_.out(out[0].data, 2);
    if (has_sum_) sum_.in_to(in[3].data, y, static_cast<size_t>(numel(y_)) * sizeof(float));
    if (has_bias_) call_.run({x, w, in[2].data, y});
    else call_.run({x, w, y});
    dst_.finish(y, out[0].data);
  }

 private:
  template <class PD>
  void finish_setup(const PD& pd, dnnl::primitive prim, const dnnl::memory::desc& x_md,
                    const dnnl::memory::desc& w_md, const dnnl::memory::desc& b_md, const dnnl::memory::desc& y_md) {
    src_.setup(x_md, pd.src_desc(), true);
    wei_.setup(w_md, pd.weights_desc(), true);
    dst_.setup(y_md, pd.dst_desc(), false);
    if (has_sum_) sum_.setup(y_md, pd.dst_desc(), true);
    call_.set_primitive(std::move(prim));
    call_.bind(DNNL_ARG_SRC, src_.inner());
    call_.bind(DNNL_ARG_WEIGHTS, wei_.inner());
    if (has_bias_) call_.bind(DNNL_ARG_BIAS, b_md);
    call_.bind(DNNL_ARG_DST, dst_.inner());
    ready_ = true;
  }

  // Weights known at prepare time (initializers: constant for the kernel's life, per the ABI)
  // are reordered into the primitive's layout once instead of on every run; at batch 1 that
  // reorder would otherwise cost as much as the convolution.
  void pack_weights(const NodeView& v) {
    const kiln_tensor* w = v.input_value(1);
    if (!ready_ || !w) return;
    packed_w_.resize((wei_.inner().get_size() + sizeof(float) - 1) / sizeof(float));
    wei_.in_to(w->data, packed_w_.data(), static_cast<size_t>(numel(shape_of(*w))) * sizeof(float));
  }

  void run_fill(const kiln_tensor* in, kiln_tensor* out) const {
    auto* y = static_cast<float*>(out[0].data);
    int64_t channels = y_[1], inner = numel(y_) / (y_[0] * channels);
    const auto* bias = has_bias_ ? static_cast<const float*>(in[2].data) : nullptr;
    if (channels_last_) {
      for (int64_t i = 0; i < numel(y_); ++i) y[i] = bias ? bias[i % channels] : 0.f;
    } else {
      for (int64_t n = 0; n < y_[0]; ++n)
        for (int64_t c = 0; c < channels; ++c) std::fill_n(y + (n * channels + c) * inner, inner, bias ? bias[c] : 0.f);
    }
    if (has_sum_)
      for (int64_t i = 0; i < numel(y_); ++i) y[i] += static_cast<const float*>(in[3].data)[i];
    act_.apply(y, numel(y_));
  }

  Activation act_;
  Dims y_;
  bool has_bias_ = false, has_sum_ = false, channels_last_ = false, fill_bias_ = false, ready_ = false;
  Staged src_, wei_, dst_, sum_;
  std::vector<float> packed_w_;  // W in the primitive's layout, when W was known at prepare
  DnnlCall call_;
};

}  // namespace

std::string supports_conv(const NodeView& v) {
  std::string why = check_dtypes(v, {KILN_DTYPE_F32});
  if (!why.empty()) return why;
  ConvPlan p;
  return plan_conv(v, p);
}

std::unique_ptr<Kernel> make_conv_kernel(const NodeView& v, const Activation& act) {
  return std::make_unique<ConvKernel>(v, act);
}

void register_conv_kernels(KernelTable& table) {
  auto prepare = [](const NodeView& v) { return make_conv_kernel(v, Activation{}); };
  table.add("Conv", supports_conv, prepare);
  table.add("ConvTranspose", supports_conv, prepare);
}

}  // namespace kiln::cpu
