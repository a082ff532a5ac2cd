// BatchNormalization (inference with running statistics) and LayerNormalization (with its
// optional Mean and InvStdDev outputs), on oneDNN's normalization primitives; Dropout
// (inference), RMSNormalization, InstanceNormalization, LpNormalization, MeanVarianceNormalization, Hardmax
// and TopK as plain loops.

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "compute_broadcast.h"
#include "dnnl_exec.h"
#include "kernel_families.h"
#include "plain_convert.h"
#include "plain_util.h"

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

// ---- Plain C++ kernels: Dropout, InstanceNormalization, LpNormalization,
// MeanVarianceNormalization, Hardmax, TopK. Statistics are accumulated in double.

// Calls f.template operator()<T>() for the f32/f64/i32/i64 element types.
template <class F>
void visit_plain(int32_t dtype, F&& f) {
  switch (dtype) {
    case KILN_DTYPE_F32: f.template operator()<float>(); break;
    case KILN_DTYPE_F64: f.template operator()<double>(); break;
    case KILN_DTYPE_I64: f.template operator()<int64_t>(); break;
    case KILN_DTYPE_I32: f.template operator()<int32_t>(); break;
    default: break;  // supports() admits only these
  }
}

std::string check_same_shape_out(const NodeView& v) {
  if (v.output_shape(0) != v.input_shape(0)) return "output shape differs from the input's";
  if (v.output_dtype(0) != v.input_dtype(0)) return "output dtype differs from the input's";
  return "";
}

// [outer, dim, inner] view of a shape around axis.
struct AxisSplit {
  int64_t outer = 1, dim = 1, inner = 1;
};

AxisSplit split_at(const Dims& shape, int64_t axis) {
  AxisSplit s;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < axis) s.outer *= shape[d];
    else if (d == axis) s.dim = shape[d];
    else s.inner *= shape[d];
  }
  return s;
}

class DropoutKernel : public Kernel {
 public:
  DropoutKernel(std::string prefix, int64_t bytes, int64_t count, int32_t mask_dtype, float ratio)
      : prefix_(std::move(prefix)), bytes_(bytes), count_(count), mask_dtype_(mask_dtype), ratio_(ratio) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    auto present = [&](size_t i) {
      return i < n_in && in[i].data != nullptr && in[i].dtype != KILN_DTYPE_UNDEFINED && numel(shape_of(in[i])) > 0;
    };
    if (present(2) && static_cast<const uint8_t*>(in[2].data)[0] != 0) {
      double ratio = ratio_;
      if (present(1))
        plain::visit_dtype(in[1].dtype, [&]<class T>() { ratio = static_cast<double>(plain::widen(static_cast<const T*>(in[1].data)[0])); });
      if (ratio != 0)
        throw KernelError(KILN_ERR_UNSUPPORTED, prefix_ + "training-mode dropout with ratio " + std::to_string(ratio) +
                                                    " is not supported (inference only)");
    }
    plain::copy_bytes(out[0].data, in[0].data, bytes_);
    if (mask_dtype_ != KILN_DTYPE_UNDEFINED && n_out > 1 && out[1].data != nullptr) {
      std::array<unsigned char, 8> one{};
      plain::store_as(mask_dtype_, 1.0, one.data());
      plain::fill_elements(out[1].data, one.data(), dtype_size(mask_dtype_), count_);
    }
  }

 private:
  std::string prefix_;
  int64_t bytes_, count_;
  int32_t mask_dtype_;
  float ratio_;
};

std::string supports_dropout(const NodeView& v) {
  if (!v.has_input(0) || v.num_outputs() < 1) return "expects an input and an output";
  if (v.input_dtype(0) != KILN_DTYPE_F32 && v.input_dtype(0) != KILN_DTYPE_F64 && v.input_dtype(0) != KILN_DTYPE_F16 &&
      v.input_dtype(0) != KILN_DTYPE_BF16)
    return std::string("dtype ") + dtype_name(v.input_dtype(0)) + " is not supported";
  if (v.has_input(2) && v.input_dtype(2) != KILN_DTYPE_BOOL) return "training_mode must be bool";
  return check_same_shape_out(v);
}

std::unique_ptr<Kernel> prepare_dropout(const NodeView& v) {
  Dims x = v.input_shape(0);
  int32_t mask = output_wanted(v, 1) ? v.output_dtype(1) : KILN_DTYPE_UNDEFINED;
  if (mask != KILN_DTYPE_UNDEFINED && v.output_shape(1) != x) fail(v, "mask shape differs from the input's");
  return std::make_unique<DropoutKernel>(plain::node_prefix(v), numel(x) * static_cast<int64_t>(dtype_size(v.input_dtype(0))),
                                         numel(x), mask, v.opset() < 12 ? v.attr_float("ratio", 0.5f) : 0.5f);
}

std::string supports_float(const NodeView& v) {
  std::string why = check_dtypes(v, {KILN_DTYPE_F32, KILN_DTYPE_F64});
  if (!why.empty()) return why;
  if (!v.has_input(0) || v.num_outputs() < 1) return "expects an input and an output";
  return check_same_shape_out(v);
}

class InstanceNormKernel : public Kernel {
 public:
  InstanceNormKernel(std::string prefix, int32_t dtype, int64_t n, int64_t c, int64_t s, double eps)
      : prefix_(std::move(prefix)), dtype_(dtype), n_(n), c_(c), s_(s), eps_(eps) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 3, n_out, 1);
    visit_plain(dtype_, [&]<class T>() {
      const T* x = static_cast<const T*>(in[0].data);
      const T* scale = static_cast<const T*>(in[1].data);
      const T* bias = static_cast<const T*>(in[2].data);
      T* y = static_cast<T*>(out[0].data);
      plain::parallel_range(n_ * c_, n_ * c_ * s_ * static_cast<int64_t>(sizeof(T)), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const T* row = x + r * s_;
          double mean = 0, var = 0;
          for (int64_t i = 0; i < s_; ++i) mean += static_cast<double>(row[i]);
          mean /= static_cast<double>(std::max<int64_t>(s_, 1));
          for (int64_t i = 0; i < s_; ++i) var += (static_cast<double>(row[i]) - mean) * (static_cast<double>(row[i]) - mean);
          var /= static_cast<double>(std::max<int64_t>(s_, 1));
          const double a = static_cast<double>(scale[r % c_]) / std::sqrt(var + eps_), sh = static_cast<double>(bias[r % c_]);
          for (int64_t i = 0; i < s_; ++i) y[r * s_ + i] = static_cast<T>((static_cast<double>(row[i]) - mean) * a + sh);
        }
      });
    });
  }

 private:
  std::string prefix_;
  int32_t dtype_;
  int64_t n_, c_, s_;
  double eps_;
};

std::string supports_instance_norm(const NodeView& v) {
  std::string why = supports_float(v);
  if (!why.empty()) return why;
  if (!v.has_input(1) || !v.has_input(2)) return "needs input, scale and B";
  Dims x = v.input_shape(0);
  if (x.size() < 3) return "input must have rank >= 3 (N, C, spatial...)";
  if (v.input_shape(1) != Dims{x[1]} || v.input_shape(2) != Dims{x[1]}) return "scale and B must have shape [C]";
  return "";
}

std::unique_ptr<Kernel> prepare_instance_norm(const NodeView& v) {
  Dims x = v.input_shape(0);
  return std::make_unique<InstanceNormKernel>(plain::node_prefix(v), v.input_dtype(0), x[0], x[1],
                                              numel(Dims(x.begin() + 2, x.end())), v.attr_float("epsilon", 1e-5f));
}

// LpNormalization (mode 0), Hardmax (mode 1) over the `dim` axis of [outer, dim, inner].
class AxisKernel : public Kernel {
 public:
  enum Mode { kLp1, kLp2, kHardmax };
  AxisKernel(std::string prefix, int32_t dtype, AxisSplit split, Mode mode)
      : prefix_(std::move(prefix)), dtype_(dtype), s_(split), mode_(mode) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    visit_plain(dtype_, [&]<class T>() {
      const T* x = static_cast<const T*>(in[0].data);
      T* y = static_cast<T*>(out[0].data);
      plain::parallel_range(s_.outer * s_.inner, s_.outer * s_.dim * s_.inner * static_cast<int64_t>(sizeof(T)),
                            [&](int64_t b, int64_t e) {
        for (int64_t item = b; item < e; ++item) {
          const int64_t base = (item / s_.inner) * s_.dim * s_.inner + item % s_.inner;
          if (mode_ == kHardmax) {
            int64_t best = 0;
            for (int64_t i = 1; i < s_.dim; ++i)
              if (x[base + i * s_.inner] > x[base + best * s_.inner]) best = i;
            for (int64_t i = 0; i < s_.dim; ++i) y[base + i * s_.inner] = static_cast<T>(i == best ? 1 : 0);
          } else {
            double norm = 0;
            for (int64_t i = 0; i < s_.dim; ++i) {
              const auto v = static_cast<double>(x[base + i * s_.inner]);
              norm += mode_ == kLp1 ? std::abs(v) : v * v;
            }
            if (mode_ == kLp2) norm = std::sqrt(norm);
            if (norm == 0) norm = 1;  // an all-zero vector stays zero (ONNX's reference), not 0/0
            for (int64_t i = 0; i < s_.dim; ++i)
              y[base + i * s_.inner] = static_cast<T>(static_cast<double>(x[base + i * s_.inner]) / norm);
          }
        }
      });
    });
  }

 private:
  std::string prefix_;
  int32_t dtype_;
  AxisSplit s_;
  Mode mode_;
};

std::unique_ptr<Kernel> prepare_lp_norm(const NodeView& v) {
  Dims x = v.input_shape(0);
  if (x.empty()) fail(v, "input must have rank >= 1");
  int64_t axis = plain::normalize_axis(v, v.attr_int("axis", -1), static_cast<int64_t>(x.size()));
  int64_t p = v.attr_int("p", 2);
  if (p != 1 && p != 2) fail(v, "p " + std::to_string(p) + " is not 1 or 2");
  return std::make_unique<AxisKernel>(plain::node_prefix(v), v.input_dtype(0), split_at(x, axis),
                                      p == 1 ? AxisKernel::kLp1 : AxisKernel::kLp2);
}

std::unique_ptr<Kernel> prepare_hardmax(const NodeView& v) {
  Dims x = v.input_shape(0);
  if (x.empty()) fail(v, "input must have rank >= 1");
  const bool coerce = v.opset() < 13;
  int64_t axis = plain::normalize_axis(v, v.attr_int("axis", coerce ? 1 : -1), static_cast<int64_t>(x.size()));
  AxisSplit s = split_at(x, axis);
  if (coerce) s = {s.outer, s.dim * s.inner, 1};  // 2-D: rows before axis, one row of the rest
  return std::make_unique<AxisKernel>(plain::node_prefix(v), v.input_dtype(0), s, AxisKernel::kHardmax);
}

// MeanVarianceNormalization: (x - mean) / (sqrt(var) + 1e-9) over `axes` (ONNX's function body).
class MvnKernel : public Kernel {
 public:
  MvnKernel(std::string prefix, int32_t dtype, std::vector<int64_t> group, int64_t groups)
      : prefix_(std::move(prefix)), dtype_(dtype), group_(std::move(group)), groups_(groups) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    visit_plain(dtype_, [&]<class T>() {
      const T* x = static_cast<const T*>(in[0].data);
      T* y = static_cast<T*>(out[0].data);
      std::vector<double> sum(static_cast<size_t>(groups_), 0.0), sq(static_cast<size_t>(groups_), 0.0);
      std::vector<int64_t> count(static_cast<size_t>(groups_), 0);
      for (size_t i = 0; i < group_.size(); ++i) {
        const auto v = static_cast<double>(x[i]);
        sum[group_[i]] += v;
        sq[group_[i]] += v * v;
        ++count[group_[i]];
      }
      for (int64_t g = 0; g < groups_; ++g) {
        const auto n = static_cast<double>(std::max<int64_t>(count[g], 1));
        sum[g] /= n;
        sq[g] = std::sqrt(std::max(0.0, sq[g] / n - sum[g] * sum[g])) + 1e-9;
      }
      for (size_t i = 0; i < group_.size(); ++i)
        y[i] = static_cast<T>((static_cast<double>(x[i]) - sum[group_[i]]) / sq[group_[i]]);
    });
  }

 private:
  std::string prefix_;
  int32_t dtype_;
  std::vector<int64_t> group_;  // each element's statistics group
  int64_t groups_;
};

std::unique_ptr<Kernel> prepare_mvn(const NodeView& v) {
  Dims x = v.input_shape(0);
  const auto rank = static_cast<int64_t>(x.size());
  std::vector<bool> reduced(x.size(), false);
  for (int64_t a : v.attr_ints("axes", {0, 2, 3})) {
    int64_t n = plain::normalize_axis(v, a, rank, "axis");
    if (reduced[n]) fail(v, "axis " + std::to_string(a) + " appears twice");
    reduced[n] = true;
  }
  Dims kept;  // group dims: reduced axes collapse to 1
  for (size_t d = 0; d < x.size(); ++d) kept.push_back(reduced[d] ? 1 : x[d]);
  Dims kept_strides = plain::strides_of(kept), pos(x.size(), 0);
  std::vector<int64_t> group(static_cast<size_t>(numel(x)));
  for (size_t i = 0; i < group.size(); ++i) {
    int64_t g = 0;
    for (size_t d = 0; d < x.size(); ++d) g += reduced[d] ? 0 : pos[d] * kept_strides[d];
    group[i] = g;
    for (size_t d = x.size(); d-- > 0;) {
      if (++pos[d] < x[d]) break;
      pos[d] = 0;
    }
  }
  return std::make_unique<MvnKernel>(plain::node_prefix(v), v.input_dtype(0), std::move(group), numel(kept));
}

class TopKKernel : public Kernel {
 public:
  TopKKernel(std::string prefix, int32_t dtype, AxisSplit split, int64_t k, bool largest)
      : prefix_(std::move(prefix)), dtype_(dtype), s_(split), k_(k), largest_(largest) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 2);
    visit_plain(dtype_, [&]<class T>() {
      const T* x = static_cast<const T*>(in[0].data);
      T* values = static_cast<T*>(out[0].data);
      auto* indices = static_cast<int64_t*>(out[1].data);
      plain::parallel_range(s_.outer * s_.inner, s_.outer * s_.dim * s_.inner * static_cast<int64_t>(sizeof(T)),
                            [&](int64_t b, int64_t e) {
        std::vector<int64_t> order(static_cast<size_t>(s_.dim));
        for (int64_t item = b; item < e; ++item) {
          const int64_t o = item / s_.inner, i = item % s_.inner;
          const T* row = x + o * s_.dim * s_.inner + i;
          std::iota(order.begin(), order.end(), 0);
          // Ties keep the lower index first; NaN ranks above every number (a strict weak order
          // even with NaNs, as partial_sort needs).
          std::partial_sort(order.begin(), order.begin() + k_, order.end(), [&](int64_t p, int64_t q) {
            const T a = row[p * s_.inner], c = row[q * s_.inner];
            const bool a_nan = a != a, c_nan = c != c;
            if (a_nan || c_nan) {
              if (a_nan && c_nan) return p < q;
              return largest_ ? a_nan : c_nan;
            }
            if (a != c) return largest_ ? a > c : a < c;
            return p < q;
          });
          for (int64_t j = 0; j < k_; ++j) {
            const int64_t at = (o * k_ + j) * s_.inner + i;
            values[at] = row[order[j] * s_.inner];
            indices[at] = order[j];
          }
        }
      });
    });
  }

 private:
  std::string prefix_;
  int32_t dtype_;
  AxisSplit s_;
  int64_t k_;
  bool largest_;
};

std::string supports_top_k(const NodeView& v) {
  if (!v.has_input(0) || v.num_outputs() < 2) return "expects an input and two outputs";
  int32_t dt = v.input_dtype(0);
  if (dt != KILN_DTYPE_F32 && dt != KILN_DTYPE_F64 && dt != KILN_DTYPE_I64 && dt != KILN_DTYPE_I32)
    return std::string("dtype ") + dtype_name(dt) + " is not supported";
  if (v.output_dtype(0) != dt || v.output_dtype(1) != KILN_DTYPE_I64) return "outputs must be the input's dtype and i64";
  if (v.opset() >= 10 && (!v.has_input(1) || !plain::is_index_dtype(v.input_dtype(1)))) return "k must be an i64 input";
  return "";
}

std::unique_ptr<Kernel> prepare_top_k(const NodeView& v) {
  Dims x = v.input_shape(0);
  if (x.empty()) fail(v, "input must have rank >= 1");
  int64_t axis = plain::normalize_axis(v, v.attr_int("axis", -1), static_cast<int64_t>(x.size()));
  int64_t k = 0;
  if (v.opset() < 10) {
    k = v.attr_int("k", -1);
  } else {
    Dims ks = v.input_ints(1);
    if (ks.size() != 1) fail(v, "k must hold one value");
    k = ks[0];
  }
  if (k < 0 || k > x[axis])
    fail(v, "k " + std::to_string(k) + " is out of range for axis " + std::to_string(axis) + " of " + plain::dims_str(x));
  Dims out = x;
  out[axis] = k;
  if (v.output_shape(0) != out || v.output_shape(1) != out)
    fail(v, "output shapes should be " + plain::dims_str(out));
  bool largest = v.opset() < 11 || v.attr_int("largest", 1) != 0;
  return std::make_unique<TopKKernel>(plain::node_prefix(v), v.input_dtype(0), split_at(x, axis), k, largest);
}

// ---- RMSNormalization: y = x / sqrt(mean(x^2) + eps) * scale over the dims from axis on
// (rows of `inner` elements), the statistics in double. scale broadcasts to the normalized dims.
class RmsNormKernel : public Kernel {
 public:
  RmsNormKernel(std::string prefix, int32_t dtype, int64_t rows, int64_t inner,
                std::vector<int64_t> scale_index, double eps)
      : prefix_(std::move(prefix)),
        dtype_(dtype),
        rows_(rows),
        inner_(inner),
        scale_index_(std::move(scale_index)),
        eps_(eps) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 2, n_out, 1);
    visit_plain(dtype_, [&]<class T>() {
      const T* x = static_cast<const T*>(in[0].data);
      const T* scale = static_cast<const T*>(in[1].data);
      T* y = static_cast<T*>(out[0].data);
      plain::parallel_range(
          rows_, rows_ * inner_ * static_cast<int64_t>(sizeof(T)), [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) {
              const T* row = x + r * inner_;
              double ss = 0;
              for (int64_t i = 0; i < inner_; ++i)
                ss += static_cast<double>(row[i]) * static_cast<double>(row[i]);
              const double inv = 1.0 / std::sqrt(ss / static_cast<double>(inner_) + eps_);
              T* out_row = y + r * inner_;
              for (int64_t i = 0; i < inner_; ++i)
                out_row[i] = static_cast<T>(static_cast<double>(row[i]) * inv *
                                            static_cast<double>(scale[scale_index_[static_cast<size_t>(i)]]));
            }
          });
    });
  }

 private:
  std::string prefix_;
  int32_t dtype_;
  int64_t rows_, inner_;
  std::vector<int64_t> scale_index_;  // scale's element for each normalized position
  double eps_;
};

std::string supports_rms_norm(const NodeView& v) {
  std::string why = check_dtypes(v, {KILN_DTYPE_F32, KILN_DTYPE_F64});
  if (!why.empty()) return why;
  if (v.num_inputs() < 2 || !v.has_input(1)) return "needs X and scale";
  if (v.input_dtype(1) != v.input_dtype(0)) return "scale dtype differs from X's";
  const int64_t stash = v.attr_int("stash_type", 1);
  if (stash != 1 && stash != 11) return "stash_type " + std::to_string(stash) + " not supported";
  return check_same_shape_out(v);
}

std::unique_ptr<Kernel> prepare_rms_norm(const NodeView& v) {
  const Dims x = v.input_shape(0), scale = v.input_shape(1);
  if (x.empty()) fail(v, "input X must have rank >= 1");
  const int64_t axis = plain::normalize_axis(v, v.attr_int("axis", -1), static_cast<int64_t>(x.size()));
  const Dims normalized(x.begin() + axis, x.end());
  if (scale.size() > normalized.size())
    fail(v,
         "scale shape " + plain::dims_str(scale) + " does not broadcast to " + plain::dims_str(normalized));
  // Right-aligned numpy broadcast of scale to the normalized dims.
  const size_t lead = normalized.size() - scale.size();
  Dims stride(normalized.size(), 0);
  const Dims scale_strides = plain::strides_of(scale);
  for (size_t d = 0; d < scale.size(); ++d) {
    if (scale[d] != 1 && scale[d] != normalized[lead + d])
      fail(v,
           "scale shape " + plain::dims_str(scale) + " does not broadcast to " + plain::dims_str(normalized));
    stride[lead + d] = scale[d] == 1 ? 0 : scale_strides[d];
  }
  const int64_t inner = numel(normalized);
  std::vector<int64_t> index(static_cast<size_t>(inner));
  Dims pos(normalized.size(), 0);
  for (int64_t i = 0; i < inner; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < pos.size(); ++d) off += pos[d] * stride[d];
    index[static_cast<size_t>(i)] = off;
    for (size_t d = pos.size(); d-- > 0;) {
      if (++pos[d] < normalized[d]) break;
      pos[d] = 0;
    }
  }
  return std::make_unique<RmsNormKernel>(plain::node_prefix(v), v.input_dtype(0),
                                         numel(Dims(x.begin(), x.begin() + axis)), inner, std::move(index),
                                         v.attr_float("epsilon", 1e-5f));
}

}  // namespace

void register_norm_kernels(KernelTable& table) {
  table.add("BatchNormalization", supports_batchnorm,
            [](const NodeView& v) { return std::make_unique<BatchNormKernel>(v); });
  table.add("LayerNormalization", supports_layernorm,
            [](const NodeView& v) { return std::make_unique<LayerNormKernel>(v); });
  table.add("RMSNormalization", supports_rms_norm, prepare_rms_norm);
  table.add("Dropout", supports_dropout, prepare_dropout);
  table.add("InstanceNormalization", supports_instance_norm, prepare_instance_norm);
  table.add("LpNormalization", supports_float, prepare_lp_norm);
  table.add("MeanVarianceNormalization", supports_float, prepare_mvn);
  table.add("Hardmax", supports_float, prepare_hardmax);
  table.add("TopK", supports_top_k, prepare_top_k);
}

}  // namespace kiln::cpu
