// BatchNormalization (inference with running statistics) and LayerNormalization (with its
// optional Mean and InvStdDev outputs), on oneDNN's normalization primitives.

#include <cmath>
#include <limits>

#include "compute_broadcast.h"
#include "dnnl_exec.h"
#include "kernel_families.h"

namespace kiln::cpu {
namespace {

using Flags = dnnl::normalization_flags;

bool output_wanted(const NodeView& v, size_t i) {
  return i < v.num_outputs() && v.output_dtype(i) != KILN_DTYPE_UNDEFINED;
}

// ---- BatchNormalization ----

std::string supports_batchnorm(const NodeView& v) {
  std::string why = check_dtypes(v, {KILN_DTYPE_F32});
  if (!why.empty()) return why;
  if (v.attr_int("training_mode", 0) != 0) return "training_mode=1 is not supported (inference only)";
  if (v.attr_int("spatial", 1) != 1) return "spatial=0 is not supported";
  for (size_t i = 1; i < v.num_outputs(); ++i)
    if (output_wanted(v, i)) return "the running-statistics outputs (training) are not supported";
  for (size_t i = 1; i < 5; ++i)
    if (!v.has_input(i)) return "needs X, scale, B, mean and var";
  Dims x = v.input_shape(0);
  if (x.size() < 2) return "X must have rank >= 2 (N, C, ...)";
  for (size_t i = 1; i < 5; ++i)
    if (v.input_shape(i) != Dims{x[1]}) return "scale, B, mean and var must have shape [C]";
  if (v.output_shape(0) != x) return "output shape differs from X";
  return "";
}

// X is viewed as [N, C, S] with S the product of the spatial dims.
class BatchNormKernel : public Kernel {
 public:
  explicit BatchNormKernel(const NodeView& v) {
    Dims x = v.input_shape(0);
    int64_t spatial = 1;
    for (size_t d = 2; d < x.size(); ++d) spatial *= x[d];
    numel_ = numel(x);
    if (numel_ == 0) return;  // oneDNN rejects empty tensors
    auto data = plain_desc({x[0], x[1], spatial}, KILN_DTYPE_F32);
    auto channel = plain_desc({x[1]}, KILN_DTYPE_F32);
    float eps = v.attr_float("epsilon", 1e-5f);
    dnnl::batch_normalization_forward::primitive_desc pd(
        dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_inference, data, eps,
                                                Flags::use_global_stats | Flags::use_scale | Flags::use_shift),
        engine());
    call_.set_primitive(dnnl::batch_normalization_forward(pd));
    call_.bind(DNNL_ARG_SRC, data);
    call_.bind(DNNL_ARG_SCALE, channel);
    call_.bind(DNNL_ARG_SHIFT, channel);
    call_.bind(DNNL_ARG_MEAN, channel);
    call_.bind(DNNL_ARG_VARIANCE, channel);
    call_.bind(DNNL_ARG_DST, data);
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    if (numel_ > 0) call_.run({in[0].data, in[1].data, in[2].data, in[3].data, in[4].data, out[0].data});
  }

 private:
  int64_t numel_ = 0;
  DnnlCall call_;
};

// ---- LayerNormalization ----

struct LayerNormShapes {
  int64_t outer = 1, inner = 1;
  Dims normalized;  // X's dims from axis on
};

std::string layernorm_shapes(const NodeView& v, LayerNormShapes& s) {
  Dims x = v.input_shape(0);
  int64_t rank = static_cast<int64_t>(x.size());
  if (rank == 0) return "X must have rank >= 1";
  int64_t axis = v.attr_int("axis", -1);
  if (axis < -rank || axis >= rank) return "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank);
  if (axis < 0) axis += rank;
  for (int64_t d = 0; d < rank; ++d) (d < axis ? s.outer : s.inner) *= x[static_cast<size_t>(d)];
  s.normalized.assign(x.begin() + axis, x.end());
  if (!broadcastable(v.input_shape(1), s.normalized)) return "Scale does not broadcast to X's normalized dims";
  if (v.has_input(2) && !broadcastable(v.input_shape(2), s.normalized)) return "B does not broadcast to X's normalized dims";
  if (v.output_shape(0) != x) return "output shape differs from X";
  for (size_t i = 1; i < 3; ++i)
    if (output_wanted(v, i) && numel(v.output_shape(i)) != s.outer) return "Mean/InvStdDev shape does not match";
  return "";
}

std::string supports_layernorm(const NodeView& v) {
  std::string why = check_dtypes(v, {KILN_DTYPE_F32});
  if (!why.empty()) return why;
  if (!v.has_input(1)) return "needs X and Scale";
  LayerNormShapes s;
  return layernorm_shapes(v, s);
}

// X is viewed as [outer, inner]. oneDNN's training mode writes mean and variance; the variance
// lands in the InvStdDev output and is turned into 1 / sqrt(var + epsilon) in place.
class LayerNormKernel : public Kernel {
 public:
  explicit LayerNormKernel(const NodeView& v) {
    LayerNormShapes s;
    std::string why = layernorm_shapes(v, s);
    if (!why.empty()) fail(v, why);
    outer_ = s.outer;
    inner_ = s.inner;
    normalized_ = s.normalized;
    scale_shape_ = v.input_shape(1);
    has_bias_ = v.has_input(2);
    if (has_bias_) bias_shape_ = v.input_shape(2);
    want_mean_ = output_wanted(v, 1);
    want_inv_std_ = output_wanted(v, 2);
    eps_ = v.attr_float("epsilon", 1e-5f);
    if (outer_ * inner_ == 0) return;  // oneDNN rejects empty tensors
    auto data = plain_desc({outer_, inner_}, KILN_DTYPE_F32);
    auto stat = plain_desc({outer_}, KILN_DTYPE_F32);
    auto channel = plain_desc({inner_}, KILN_DTYPE_F32);
    bool stats = want_mean_ || want_inv_std_;
    Flags flags = has_bias_ ? Flags::use_scale | Flags::use_shift : Flags::use_scale;
    dnnl::layer_normalization_forward::primitive_desc pd(
        dnnl::layer_normalization_forward::desc(
            stats ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, data, stat, eps_, flags),
        engine());
    call_.set_primitive(dnnl::layer_normalization_forward(pd));
    call_.bind(DNNL_ARG_SRC, data);
    call_.bind(DNNL_ARG_SCALE, channel);
    if (has_bias_) call_.bind(DNNL_ARG_SHIFT, channel);
    call_.bind(DNNL_ARG_DST, data);
    if (stats) {
      call_.bind(DNNL_ARG_MEAN, stat);
      call_.bind(DNNL_ARG_VARIANCE, stat);
    }
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t n_out) override {
    if (outer_ * inner_ == 0) {  // statistics of an empty row are undefined: NaN
      for (size_t i = 1; i < 3 && i < n_out; ++i)
        if (out[i].data) std::fill_n(static_cast<float*>(out[i].data), outer_, std::numeric_limits<float>::quiet_NaN());
      return;
    }
    // Scale and B that broadcast to the normalized dims are expanded to [inner] first.
    std::vector<float> scale_buf, bias_buf;
    const void* scale = channel_param(in[1], scale_shape_, scale_buf);
    const void* bias = has_bias_ ? channel_param(in[2], bias_shape_, bias_buf) : nullptr;
    std::vector<float> mean_buf, var_buf;
    float* mean = want_mean_ ? static_cast<float*>(out[1].data) : nullptr;
    float* inv_std = want_inv_std_ ? static_cast<float*>(out[2].data) : nullptr;
    if (want_mean_ || want_inv_std_) {
      if (!mean) {
        mean_buf.resize(static_cast<size_t>(outer_));
        mean = mean_buf.data();
      }
      float* var = inv_std;
      if (!var) {
        var_buf.resize(static_cast<size_t>(outer_));
        var = var_buf.data();
      }
      if (has_bias_) call_.run({in[0].data, scale, bias, out[0].data, mean, var});
      else call_.run({in[0].data, scale, out[0].data, mean, var});
      if (inv_std)
        for (int64_t i = 0; i < outer_; ++i) inv_std[i] = 1.f / std::sqrt(inv_std[i] + eps_);
    } else if (has_bias_) {
      call_.run({in[0].data, scale, bias, out[0].data});
    } else {
      call_.run({in[0].data, scale, out[0].data});
    }
  }

 private:
  const void* channel_param(const kiln_tensor& t, const Dims& shape, std::vector<float>& buf) const {
    if (numel(shape) == inner_) return t.data;
    buf.resize(static_cast<size_t>(inner_));
    expand_into(static_cast<const float*>(t.data), shape, buf.data(), normalized_);
    return buf.data();
  }

  int64_t outer_ = 1, inner_ = 1;
  Dims normalized_, scale_shape_, bias_shape_;
  bool has_bias_ = false, want_mean_ = false, want_inv_std_ = false;
  float eps_ = 1e-5f;
  DnnlCall call_;
};

}  // namespace

void register_norm_kernels(KernelTable& table) {
  table.add("BatchNormalization", supports_batchnorm,
            [](const NodeView& v) { return std::make_unique<BatchNormKernel>(v); });
  table.add("LayerNormalization", supports_layernorm,
            [](const NodeView& v) { return std::make_unique<LayerNormKernel>(v); });
}

}  // namespace kiln::cpu
