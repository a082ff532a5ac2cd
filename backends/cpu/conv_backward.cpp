// kiln.ConvGradWeight(X, dY) -> dW [, dB], the weight (and bias) gradient of Conv (dW also of
// ConvTranspose, with its operands swapped): oneDNN's convolution_backward_weights for f32, a plain loop
// accumulating in double for f64. The input gradients of Conv and ConvTranspose are the
// other op (runtime/ops/conv.cpp) and need no kernel here.

#include <cstring>

#include "dnnl_exec.h"
#include "dnnl_staged.h"
#include "kernel_families.h"
#include "plain_util.h"
#include "window_taps.h"

namespace kiln::cpu {
namespace {

struct GradWeightPlan {
  Dims x, dy, dw;
  int64_t group = 1;
  Window win;
};

std::string plan_grad_weight(const NodeView& v, GradWeightPlan& p) {
  p.x = v.input_shape(0);
  p.dy = v.input_shape(1);
  p.dw = v.output_shape(0);
  p.group = v.attr_int("group", 1);
  if (p.x.size() < 3 || p.x.size() > 5 || p.dy.size() != p.x.size() || p.dw.size() != p.x.size())
    return "X, dY and dW must have the same rank, 3 to 5";
  if (p.group < 1 || p.x[1] % p.group != 0 || p.dy[1] % p.group != 0)
    return "channels are not divisible by group";
  if (p.dy[0] != p.x[0] || p.dw[0] != p.dy[1] || p.dw[1] * p.group != p.x[1])
    return "dW must be [M, C / group, k...]";
  Dims kernel = spatial_dims(p.dw);
  if (v.attr_ints("kernel_shape", kernel) != kernel) return "kernel_shape differs from dW's spatial dims";
  std::string why = read_window(v, spatial_dims(p.x), kernel, p.win);
  if (!why.empty()) return why;
  for (size_t d = 0; d + 2 < p.x.size(); ++d)
    if (conv_out_size(p.win, d, p.x[d + 2]) != p.dy[d + 2])
      return "dY's spatial dims do not match the window";
  return "";
}

std::string supports_grad_weight(const NodeView& v) {
  std::string why = same_float_dtypes(v);
  if (!why.empty()) return why;
  GradWeightPlan p;
  return plan_grad_weight(v, p);
}

// f32: oneDNN in the layouts it prefers (format any), with the operands reordered around it;
// its plain-layout code (gemm) is several times slower. With a second output it also gives the
// bias gradient, the sum of dY over N and space, in the same pass.
class ConvGradWeightF32 : public Kernel {
 public:
  ConvGradWeightF32(const GradWeightPlan& p, bool with_bias)
      : dw_bytes_(static_cast<size_t>(numel(p.dw)) * sizeof(float)),
        db_bytes_(with_bias ? static_cast<size_t>(p.dy[1]) * sizeof(float) : 0) {
    if (numel(p.x) == 0 || numel(p.dy) == 0 || numel(p.dw) == 0) return;  // dW and dB are zero
    Dims w = p.dw;
    if (p.group > 1) {
      w[0] /= p.group;
      w.insert(w.begin(), p.group);
    }
    auto dims = [](const Dims& d) { return dnnl::memory::dims(d.begin(), d.end()); };
    auto any = [&](const Dims& d) { return dnnl::memory::desc(dims(d), dnnl::memory::data_type::f32, dnnl::memory::format_tag::any); };
    auto b_md = plain_desc({p.dy[1]}, KILN_DTYPE_F32);
    auto strides = dims(p.win.strides), dil = dims(p.win.dnnl_dilations());
    auto pad_l = dims(p.win.pad_begin), pad_r = dims(p.win.pad_end);
    using Fwd = dnnl::convolution_forward;
    using Bwd = dnnl::convolution_backward_weights;
    const auto prop = dnnl::prop_kind::forward_training;
    const auto alg = dnnl::algorithm::convolution_direct;
    Fwd::primitive_desc hint(with_bias ? Fwd::desc(prop, alg, any(p.x), any(w), b_md, any(p.dy), strides, dil, pad_l, pad_r)
                                       : Fwd::desc(prop, alg, any(p.x), any(w), any(p.dy), strides, dil, pad_l, pad_r),
                             engine());
    Bwd::primitive_desc pd(with_bias ? Bwd::desc(alg, any(p.x), any(w), b_md, any(p.dy), strides, dil, pad_l, pad_r)
                                     : Bwd::desc(alg, any(p.x), any(w), any(p.dy), strides, dil, pad_l, pad_r),
                           engine(), hint);
    x_.setup(plain_desc(p.x, KILN_DTYPE_F32), pd.src_desc(), true);
    dy_.setup(plain_desc(p.dy, KILN_DTYPE_F32), pd.diff_dst_desc(), true);
    dw_.setup(plain_desc(w, KILN_DTYPE_F32), pd.diff_weights_desc(), false);
    call_.set_primitive(Bwd(pd));
    call_.bind(DNNL_ARG_SRC, pd.src_desc());
    call_.bind(DNNL_ARG_DIFF_DST, pd.diff_dst_desc());
    call_.bind(DNNL_ARG_DIFF_WEIGHTS, pd.diff_weights_desc());
    if (with_bias) call_.bind(DNNL_ARG_DIFF_BIAS, b_md);
    ready_ = true;
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t n_out) override {
    if (!ready_) {
      std::memset(out[0].data, 0, dw_bytes_);
      if (n_out > 1) std::memset(out[1].data, 0, db_bytes_);
      return;
    }
    const void* x = x_.in(in[0].data, 0);
    const void* dy = dy_.in(in[1].data, 1);
    void* dw = dw_.out(out[0].data, 2);
    if (db_bytes_) call_.run({x, dy, dw, out[1].data});
    else call_.run({x, dy, dw});
    dw_.finish(dw, out[0].data);
  }

 private:
  size_t dw_bytes_, db_bytes_;
  bool ready_ = false;
  Staged x_, dy_, dw_;
  DnnlCall call_;
};

// f64: dW[m, c, k] = sum over n and output positions o of dY[n, m, o] * X[n, c of m's group, tap(o, k)].
class ConvGradWeightF64 : public Kernel {
 public:
  explicit ConvGradWeightF64(const GradWeightPlan& p)
      : taps_(window_taps(spatial_dims(p.x), spatial_dims(p.dy), p.win)),
        batch_(p.x[0]),
        in_channels_(p.x[1]),
        out_channels_(p.dy[1]),
        group_(p.group) {}
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t n_out) override {
    const auto* x = static_cast<const double*>(in[0].data);
    const auto* dy = static_cast<const double*>(in[1].data);
    auto* dw = static_cast<double*>(out[0].data);
    const int64_t cpg = in_channels_ / group_, mpg = out_channels_ / group_, k_size = taps_.taps;
    plain::parallel_range(out_channels_, batch_ * out_channels_ * taps_.out_plane * cpg * k_size * 8,
                          [&](int64_t begin, int64_t end) {
                            for (int64_t m = begin; m < end; ++m) {
                              double* acc = dw + m * cpg * k_size;
                              std::fill(acc, acc + cpg * k_size, 0.0);
                              for (int64_t n = 0; n < batch_; ++n) {
                                const double* dyp = dy + (n * out_channels_ + m) * taps_.out_plane;
                                for (int64_t c = 0; c < cpg; ++c) {
                                  const double* xp =
                                      x + (n * in_channels_ + m / mpg * cpg + c) * taps_.in_plane;
                                  double* ac = acc + c * k_size;
                                  for (int64_t o = 0; o < taps_.out_plane; ++o) {
                                    const int64_t* off = taps_.offset.data() + o * k_size;
                                    for (int64_t k = 0; k < k_size; ++k)
                                      if (off[k] >= 0) ac[k] += dyp[o] * xp[off[k]];
                                  }
                                }
                              }
                            }
                          });
    if (n_out < 2) return;
    auto* db = static_cast<double*>(out[1].data);  // the bias gradient: dY summed over N and space
    for (int64_t m = 0; m < out_channels_; ++m) {
      double sum = 0;
      for (int64_t n = 0; n < batch_; ++n) {
        const double* dyp = dy + (n * out_channels_ + m) * taps_.out_plane;
        for (int64_t o = 0; o < taps_.out_plane; ++o) sum += dyp[o];
      }
      db[m] = sum;
    }
  }

 private:
  WindowTaps taps_;
  int64_t batch_, in_channels_, out_channels_, group_;
};

}  // namespace

void register_conv_backward_kernels(KernelTable& table) {
  table.add("ConvGradWeight", supports_grad_weight, [](const NodeView& v) -> std::unique_ptr<Kernel> {
    GradWeightPlan p;
    std::string why = plan_grad_weight(v, p);
    if (!why.empty()) fail(v, why);
    if (v.input_dtype(0) == KILN_DTYPE_F64) return std::make_unique<ConvGradWeightF64>(p);
    return std::make_unique<ConvGradWeightF32>(p, v.num_outputs() > 1);
  });
}

}  // namespace kiln::cpu
