// MaxPool, AveragePool (1-D to 3-D; pads, auto_pad, ceil_mode, dilations, count_include_pad)
// on oneDNN's pooling primitive (MaxPool with its Indices output in plain C++), and
// GlobalAveragePool / GlobalMaxPool on oneDNN's reduction. kiln.MaxPoolChannelsLast and
// AveragePoolChannelsLast are the same pools on [N, spatial..., C] data.
//
// The output shape comes from the runtime; the end pads are derived from it, so ceil_mode is
// simply extra end padding. AveragePool with count_include_pad divides by the window clipped
// to the explicit pads (PyTorch's rule): when ceil_mode adds padding past them, the input is
// first copied into an explicitly zero-padded buffer and pooled excluding the extra padding.

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "compute_broadcast.h"
#include "compute_reduce.h"
#include "dnnl_exec.h"
#include "kernel_families.h"
#include "pool_plan.h"

namespace kiln::cpu {
namespace {

bool wants_indices(const NodeView& v) {
  return v.op_type() == "MaxPool" && v.num_outputs() > 1 && v.output_dtype(1) != KILN_DTYPE_UNDEFINED;
}

// kiln.MaxPoolChannelsLast / AveragePoolChannelsLast: X and Y are [N, spatial..., C].
bool is_channels_last(const NodeView& v) { return v.op_type().ends_with("ChannelsLast"); }
bool is_average(const NodeView& v) { return v.op_type().starts_with("AveragePool"); }

// X's and Y's logical [N, C, spatial...] dims.
Dims x_dims(const NodeView& v) { return is_channels_last(v) ? channels_first(v.input_shape(0)) : v.input_shape(0); }
Dims y_dims(const NodeView& v) { return is_channels_last(v) ? channels_first(v.output_shape(0)) : v.output_shape(0); }

// AveragePool counting the explicit pads while ceil_mode pads further: the kernel pads a plain
// copy of X itself.
bool pads_explicitly(const NodeView& v, const PoolPlan& p) {
  if (!is_average(v) || v.attr_int("count_include_pad", 0) == 0) return false;
  for (size_t d = 0; d + 2 < p.x.size(); ++d)
    if (p.pad_end[d] > p.w.pad_end[d]) return true;
  return false;
}

std::string supports_pool(const NodeView& v) {
  bool indices = wants_indices(v);
  if (indices && v.output_dtype(1) != KILN_DTYPE_I64) return "the Indices output must be i64";
  if (indices && v.output_shape(1) != v.output_shape(0)) return "the Indices output must have Y's shape";
  if (v.input_dtype(0) != KILN_DTYPE_F32 || v.output_dtype(0) != KILN_DTYPE_F32)
    return std::string("dtype ") + dtype_name(v.input_dtype(0)) + " not supported (f32)";
  PoolPlan p;
  std::string why = plan_pool(v, x_dims(v), y_dims(v), p);
  if (why.empty() && is_channels_last(v) && pads_explicitly(v, p))
    return "count_include_pad with ceil_mode padding is not supported channels-last";
  return why;
}

class PoolKernel : public Kernel {
 public:
  explicit PoolKernel(const NodeView& v) {
    PoolPlan p;
    std::string why = plan_pool(v, x_dims(v), y_dims(v), p);
    if (!why.empty()) fail(v, why);
    if (numel(p.y) == 0) return;  // oneDNN rejects empty tensors
    size_t n = p.x.size() - 2;
    Dims pad_l = p.w.pad_begin, pad_r = p.pad_end, src = p.x;
    dnnl::algorithm alg = dnnl::algorithm::pooling_max;
    if (is_average(v)) {
      bool include_pad = v.attr_int("count_include_pad", 0) != 0;
      alg = include_pad ? dnnl::algorithm::pooling_avg_include_padding : dnnl::algorithm::pooling_avg_exclude_padding;
      if (pads_explicitly(v, p)) {
        // Pad explicitly; then only the ceil_mode padding remains, and it is excluded.
        pad_x_ = p.x;
        padded_ = p.x;
        for (size_t d = 0; d < n; ++d) {
          padded_[d + 2] += p.w.pad_begin[d] + p.w.pad_end[d];
          pad_r[d] = p.pad_end[d] - p.w.pad_end[d];
          pad_l[d] = 0;
        }
        Dims strides(padded_.size(), 1);
        for (size_t d = padded_.size() - 1; d-- > 0;) strides[d] = strides[d + 1] * padded_[d + 1];
        pad_strides_ = strides;
        for (size_t d = 0; d < n; ++d) pad_offset_ += p.w.pad_begin[d] * strides[d + 2];
        src = padded_;
        alg = dnnl::algorithm::pooling_avg_exclude_padding;
      }
    }
    bool last = is_channels_last(v);  // then src is p.x: no explicit padding
    auto src_md = last ? channels_last_desc(src) : plain_desc(src, KILN_DTYPE_F32);
    auto dst_md = last ? channels_last_desc(p.y) : plain_desc(p.y, KILN_DTYPE_F32);
    auto dims = [](const Dims& d) { return dnnl::memory::dims(d.begin(), d.end()); };
    dnnl::pooling_v2_forward::primitive_desc pd(
        dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_inference, alg, src_md, dst_md, dims(p.w.strides),
                                       dims(p.w.kernel), dims(p.w.dnnl_dilations()), dims(pad_l), dims(pad_r)),
        engine());
    call_.set_primitive(dnnl::pooling_v2_forward(pd));
    call_.bind(DNNL_ARG_SRC, src_md);
    call_.bind(DNNL_ARG_DST, dst_md);
    ready_ = true;
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    if (!ready_) return;
    if (padded_.empty()) {
      call_.run({in[0].data, out[0].data});
      return;
    }
    size_t bytes = static_cast<size_t>(numel(padded_)) * sizeof(float);
    auto* buf = static_cast<float*>(scratch(0, bytes));
    std::memset(buf, 0, bytes);
    const auto* x = static_cast<const float*>(in[0].data);
    float* dst = buf + pad_offset_;
    for_each_broadcast<1>(pad_x_, {pad_strides_},
                          [&](int64_t i, const std::array<int64_t, 1>& o) { dst[o[0]] = x[i]; });
    call_.run({buf, out[0].data});
  }

 private:
  bool ready_ = false;
  Dims pad_x_, padded_, pad_strides_;  // explicit-padding path only
  int64_t pad_offset_ = 0;
  DnnlCall call_;
};

// MaxPool with its Indices output, in plain C++ (oneDNN's workspace is not ONNX's format).
// An index is the flat offset into X, the spatial dims taken row-major (storage_order 0) or
// column-major (1). The first maximum wins; a NaN wins over numbers.
class MaxPoolIndicesKernel : public Kernel {
 public:
  explicit MaxPoolIndicesKernel(const NodeView& v) : column_major_(v.attr_int("storage_order", 0) != 0) {
    PoolPlan p;
    std::string why = plan_pool(v, v.input_shape(0), v.output_shape(0), p);
    if (!why.empty()) fail(v, why);
    x_ = p.x;
    y_ = p.y;
    w_ = p.w;
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    constexpr size_t kMax = 3;
    size_t n = x_.size() - 2;
    std::array<int64_t, kMax> in_dims{}, out_dims{}, read_stride{}, index_stride{};
    int64_t in_plane = 1, out_plane = 1, window = 1;
    for (size_t d = 0; d < n; ++d) {
      in_dims[d] = x_[d + 2];
      out_dims[d] = y_[d + 2];
      out_plane *= out_dims[d];
      window *= w_.kernel[d];
    }
    for (size_t d = n; d-- > 0;) {  // row-major strides for reading
      read_stride[d] = in_plane;
      in_plane *= in_dims[d];
    }
    int64_t s = 1;
    for (size_t k = 0; k < n; ++k) {  // storage order of the reported index
      size_t d = column_major_ ? k : n - 1 - k;
      index_stride[d] = s;
      s *= in_dims[d];
    }
    int64_t planes = x_[0] * x_[1];
    const auto* x = static_cast<const float*>(in[0].data);
    auto* y = static_cast<float*>(out[0].data);
    auto* idx = static_cast<int64_t*>(out[1].data);
#pragma omp parallel for if (planes * out_plane > 4096)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const float* xp = x + plane * in_plane;
      for (int64_t o = 0; o < out_plane; ++o) {
        std::array<int64_t, kMax> start{}, kc{};
        for (size_t d = n, r = static_cast<size_t>(o); d-- > 0;) {
          start[d] = static_cast<int64_t>(r % static_cast<size_t>(out_dims[d])) * w_.strides[d] - w_.pad_begin[d];
          r /= static_cast<size_t>(out_dims[d]);
        }
        float best = std::numeric_limits<float>::lowest();
        int64_t best_index = 0;
        bool found = false;
        for (int64_t k = 0; k < window; ++k) {
          bool inside = true;
          int64_t read = 0, index = 0;
          for (size_t d = 0; d < n; ++d) {
            int64_t pos = start[d] + kc[d] * w_.dilations[d];
            inside = inside && pos >= 0 && pos < in_dims[d];
            read += pos * read_stride[d];
            index += pos * index_stride[d];
          }
          if (inside) {
            float val = xp[read];
            if (!found || val > best || (std::isnan(val) && !std::isnan(best))) {
              best = val;
              best_index = index;
              found = true;
            }
          }
          for (size_t d = n; d-- > 0;) {  // next kernel position
            if (++kc[d] < w_.kernel[d]) break;
            kc[d] = 0;
          }
        }
        y[plane * out_plane + o] = best;
        idx[plane * out_plane + o] = plane * in_plane + best_index;
      }
    }
  }

 private:
  bool column_major_;
  Dims x_, y_;
  Window w_;
};

// ---- GlobalAveragePool, GlobalMaxPool ----

std::string supports_global_pool(const NodeView& v) {
  std::string why = check_dtypes(v, {KILN_DTYPE_F32});
  if (!why.empty()) return why;
  Dims x = v.input_shape(0), y = v.output_shape(0);
  if (x.size() < 2) return "X must have rank >= 2";
  Dims kept(x.size(), 1);
  kept[0] = x[0];
  kept[1] = x[1];
  if (numel(y) != numel(kept)) return "output shape must be [N, C, 1, ...]";
  return "";
}

}  // namespace

void register_pool_kernels(KernelTable& table) {
  auto pool = [](const NodeView& v) -> std::unique_ptr<Kernel> {
    if (wants_indices(v)) return std::make_unique<MaxPoolIndicesKernel>(v);
    return std::make_unique<PoolKernel>(v);
  };
  table.add("MaxPool", supports_pool, pool);
  table.add("AveragePool", supports_pool, pool);
  table.add("MaxPoolChannelsLast", supports_pool, pool);
  table.add("AveragePoolChannelsLast", supports_pool, pool);
  // Global pooling is a reduction over the spatial dims.
  auto global = [](const NodeView& v) -> std::unique_ptr<Kernel> {
    Dims x = v.input_shape(0), kept(x.size(), 1);
    kept[0] = x[0];
    kept[1] = x[1];
    return make_float_reduce(x, kept, v.op_type() == "GlobalMaxPool" ? Red::kMax : Red::kMean);
  };
  table.add("GlobalAveragePool", supports_global_pool, global);
  table.add("GlobalMaxPool", supports_global_pool, global);
}

}  // namespace kiln::cpu
