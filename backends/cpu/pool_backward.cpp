// kiln.MaxPoolGrad(dY, X) -> dX and kiln.AveragePoolGrad(dY, X) -> dX with the forward op's
// attributes: oneDNN's pooling backward for f32 (MaxPool's forward runs again in training
// mode for the workspace that records each window's argmax), plain loops in double for f64.
// Both route dY of a max window to its first maximum; average windows divide as the forward
// does (count_include_pad counts the explicit pads, never ceil_mode's extra end padding).

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "compute_broadcast.h"
#include "dnnl_exec.h"
#include "kernel_families.h"
#include "plain_util.h"
#include "pool_plan.h"
#include "window_taps.h"

namespace kiln::cpu {
namespace {

std::string plan(const NodeView& v, PoolPlan& p) {
  std::string why = plan_pool(v, v.input_shape(1), v.input_shape(0), p);
  if (why.empty() && v.output_shape(0) != p.x) why = "dX must have X's shape";
  return why;
}

std::string supports_pool_grad(const NodeView& v) {
  std::string why = same_float_dtypes(v);
  if (!why.empty()) return why;
  PoolPlan p;
  return plan(v, p);
}

bool is_max(const NodeView& v) { return v.op_type() == "MaxPoolGrad"; }
bool include_pad(const NodeView& v) { return !is_max(v) && v.attr_int("count_include_pad", 0) != 0; }

class PoolGradF32 : public Kernel {
 public:
  PoolGradF32(const NodeView& v, const PoolPlan& p)
      : max_(is_max(v)), dx_bytes_(static_cast<size_t>(numel(p.x)) * sizeof(float)) {
    if (numel(p.y) == 0 || numel(p.x) == 0) return;  // dX is zero
    const size_t n = p.x.size() - 2;
    Dims src = p.x, pad_l = p.w.pad_begin, pad_r = p.pad_end;
    dnnl::algorithm alg = max_             ? dnnl::algorithm::pooling_max
                          : include_pad(v) ? dnnl::algorithm::pooling_avg_include_padding
                                           : dnnl::algorithm::pooling_avg_exclude_padding;
    bool past_pads = false;
    for (size_t d = 0; d < n; ++d) past_pads = past_pads || p.pad_end[d] > p.w.pad_end[d];
    if (include_pad(v) && past_pads) {
      // As the forward kernel: pool an explicitly zero-padded X, excluding only ceil_mode's padding.
      padded_ = p.x;
      for (size_t d = 0; d < n; ++d) {
        padded_[d + 2] += p.w.pad_begin[d] + p.w.pad_end[d];
        pad_r[d] = p.pad_end[d] - p.w.pad_end[d];
        pad_l[d] = 0;
      }
      x_ = p.x;
      pad_strides_ = plain::strides_of(padded_);
      for (size_t d = 0; d < n; ++d) pad_offset_ += p.w.pad_begin[d] * pad_strides_[d + 2];
      src = padded_;
      alg = dnnl::algorithm::pooling_avg_exclude_padding;
    }
    auto dims = [](const Dims& d) { return dnnl::memory::dims(d.begin(), d.end()); };
    auto src_md = plain_desc(src, KILN_DTYPE_F32), dst_md = plain_desc(p.y, KILN_DTYPE_F32);
    auto strides = dims(p.w.strides), kernel = dims(p.w.kernel), dil = dims(p.w.dnnl_dilations());
    using Fwd = dnnl::pooling_v2_forward;
    using Bwd = dnnl::pooling_v2_backward;
    Fwd::primitive_desc fwd(Fwd::desc(dnnl::prop_kind::forward_training, alg, src_md, dst_md, strides, kernel,
                                      dil, dims(pad_l), dims(pad_r)),
                            engine());
    Bwd::primitive_desc bwd(Bwd::desc(alg, src_md, dst_md, strides, kernel, dil, dims(pad_l), dims(pad_r)),
                            engine(), fwd);
    if (max_) {
      y_bytes_ = dst_md.get_size();
      ws_bytes_ = fwd.workspace_desc().get_size();
      fwd_.set_primitive(Fwd(fwd));
      fwd_.bind(DNNL_ARG_SRC, src_md);
      fwd_.bind(DNNL_ARG_DST, dst_md);
      fwd_.bind(DNNL_ARG_WORKSPACE, fwd.workspace_desc());
    }
    bwd_.set_primitive(Bwd(bwd));
    bwd_.bind(DNNL_ARG_DIFF_DST, dst_md);
    if (max_) bwd_.bind(DNNL_ARG_WORKSPACE, bwd.workspace_desc());
    bwd_.bind(DNNL_ARG_DIFF_SRC, src_md);
    ready_ = true;
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    if (!ready_) {
      std::memset(out[0].data, 0, dx_bytes_);
      return;
    }
    if (max_) {
      void* ws = scratch(1, ws_bytes_);
      fwd_.run({in[1].data, scratch(0, y_bytes_), ws});
      bwd_.run({in[0].data, ws, out[0].data});
      return;
    }
    if (padded_.empty()) return bwd_.run({in[0].data, out[0].data});
    auto* buf = static_cast<float*>(scratch(0, static_cast<size_t>(numel(padded_)) * sizeof(float)));
    bwd_.run({in[0].data, buf});
    auto* dx = static_cast<float*>(out[0].data);
    const float* src = buf + pad_offset_;
    for_each_broadcast<1>(x_, {pad_strides_},
                          [&](int64_t i, const std::array<int64_t, 1>& o) { dx[i] = src[o[0]]; });
  }

 private:
  bool max_, ready_ = false;
  size_t dx_bytes_, y_bytes_ = 0, ws_bytes_ = 0;
  Dims x_, padded_, pad_strides_;  // explicit-padding path only
  int64_t pad_offset_ = 0;
  DnnlCall fwd_, bwd_;
};

class PoolGradF64 : public Kernel {
 public:
  PoolGradF64(const NodeView& v, const PoolPlan& p)
      : max_(is_max(v)),
        include_pad_(include_pad(v)),
        planes_(p.x[0] * p.x[1]),
        taps_(window_taps(spatial_dims(p.x), spatial_dims(p.y), p.w)) {}

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const auto* dy = static_cast<const double*>(in[0].data);
    const auto* x = static_cast<const double*>(in[1].data);
    auto* dx = static_cast<double*>(out[0].data);
    const int64_t k_size = taps_.taps;
    plain::parallel_range(planes_, planes_ * taps_.in_plane * 8, [&](int64_t begin, int64_t end) {
      for (int64_t plane = begin; plane < end; ++plane) {
        const double* xp = x + plane * taps_.in_plane;
        const double* dyp = dy + plane * taps_.out_plane;
        double* dxp = dx + plane * taps_.in_plane;
        std::fill(dxp, dxp + taps_.in_plane, 0.0);
        for (int64_t o = 0; o < taps_.out_plane; ++o) {
          const int64_t* off = taps_.offset.data() + o * k_size;
          if (max_) {  // the first maximum, a NaN over numbers, as the forward picks it
            int64_t best = -1;
            for (int64_t k = 0; k < k_size; ++k) {
              if (off[k] < 0) continue;
              double val = xp[off[k]];
              if (best < 0 || val > xp[best] || (std::isnan(val) && !std::isnan(xp[best]))) best = off[k];
            }
            if (best >= 0) dxp[best] += dyp[o];
            continue;
          }
          int64_t count = 0;
          for (int64_t k = 0; k < k_size; ++k) count += off[k] >= 0;
          if (include_pad_) count = taps_.padded_count[static_cast<size_t>(o)];
          if (count == 0) continue;
          const double share = dyp[o] / static_cast<double>(count);
          for (int64_t k = 0; k < k_size; ++k)
            if (off[k] >= 0) dxp[off[k]] += share;
        }
      }
    });
  }

 private:
  bool max_, include_pad_;
  int64_t planes_;
  WindowTaps taps_;
};

}  // namespace

void register_pool_backward_kernels(KernelTable& table) {
  auto prepare = [](const NodeView& v) -> std::unique_ptr<Kernel> {
    PoolPlan p;
    std::string why = plan(v, p);
    if (!why.empty()) fail(v, why);
    if (v.input_dtype(0) == KILN_DTYPE_F64) return std::make_unique<PoolGradF64>(v, p);
    return std::make_unique<PoolGradF32>(v, p);
  };
  table.add("MaxPoolGrad", supports_pool_grad, prepare);
  table.add("AveragePoolGrad", supports_pool_grad, prepare);
}

}  // namespace kiln::cpu
