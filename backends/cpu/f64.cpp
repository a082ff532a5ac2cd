// f64 compute for the ops whose f32 kernels are oneDNN primitives, which oneDNN 2.6 offers only
// in f32 (and lower precisions): MatMul, Gemm, Conv, ConvTranspose, MaxPool (with Indices),
// AveragePool, GlobalAveragePool, GlobalMaxPool, BatchNormalization, LayerNormalization, Softmax
// and LogSoftmax. Plain loops in double, written to be exact (finite-difference gradient checks
// in float64), not fast.
//
// Each op's f64 nodes go here in front of its f32 entry, which keeps every other node. A node is
// f64 when input 0 is; then every floating-point input and output must be f64 (LayerNorm's Mean
// and InvStdDev may also be f32, as stash_type says), and the node must pass the f32 entry's
// supports() once its f64 values read as f32: both dtypes accept the same shapes and attributes.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "compute_broadcast.h"
#include "compute_window.h"
#include "kernel_families.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

constexpr int32_t kF64 = KILN_DTYPE_F64;

bool floating(int32_t dtype) {
  return dtype == KILN_DTYPE_F32 || dtype == KILN_DTYPE_F64 || dtype == KILN_DTYPE_F16 || dtype == KILN_DTYPE_BF16;
}

bool output_wanted(const NodeView& v, size_t i) {
  return i < v.num_outputs() && v.output_dtype(i) != KILN_DTYPE_UNDEFINED;
}

// The node with f64 values retyped f32 (and their host values dropped: their bytes are f64).
class AsF32 {
 public:
  explicit AsF32(const kiln_node& node)
      : node_(node), inputs_(node.inputs, node.inputs + node.n_inputs),
        outputs_(node.outputs, node.outputs + node.n_outputs) {
    for (auto* values : {&inputs_, &outputs_}) {
      for (kiln_value& value : *values) {
        if (value.dtype != kF64) continue;
        value.dtype = KILN_DTYPE_F32;
        value.host_value = nullptr;
      }
    }
    node_.inputs = inputs_.data();
    node_.outputs = outputs_.data();
  }
  NodeView view() const { return NodeView{node_}; }

 private:
  kiln_node node_;
  std::vector<kiln_value> inputs_, outputs_;
};

// Puts the f64 kernel of `op` in front of its f32 entry (registered before). Outputs listed in
// any_float_outputs may be f32 or f64.
void add_f64(KernelTable& table, const std::string& op, PrepareFn prepare,
             std::vector<size_t> any_float_outputs = {}) {
  const KernelEntry* f32 = table.find(op);
  if (!f32) throw KernelError(KILN_ERR_INTERNAL, "f64 kernels: no f32 entry for " + op + " to extend");
  KernelEntry previous = *f32;
  auto supports = [previous, any_float_outputs](const NodeView& v) -> std::string {
    if (v.input_dtype(0) != kF64) return previous.supports(v);
    for (size_t i = 0; i < v.num_inputs(); ++i)
      if (v.has_input(i) && floating(v.input_dtype(i)) && v.input_dtype(i) != kF64)
        return std::string("input ") + std::to_string(i) + " is " + dtype_name(v.input_dtype(i)) + ", X is f64";
    for (size_t i = 0; i < v.num_outputs(); ++i) {
      int32_t dt = v.output_dtype(i);
      bool either = std::find(any_float_outputs.begin(), any_float_outputs.end(), i) != any_float_outputs.end();
      if (floating(dt) && dt != kF64 && !(either && dt == KILN_DTYPE_F32))
        return std::string("output ") + std::to_string(i) + " is " + dtype_name(dt) + ", X is f64";
    }
    AsF32 as_f32(v.node);
    return previous.supports(as_f32.view());
  };
  auto route = [previous, prepare](const NodeView& v) {
    return v.input_dtype(0) == kF64 ? prepare(v) : previous.prepare(v);
  };
  table.add(op, supports, route);
}

const double* in_data(const kiln_tensor* in, size_t i) { return static_cast<const double*>(in[i].data); }
double* out_data(kiln_tensor* out, size_t i) { return static_cast<double*>(out[i].data); }

// ---- MatMul, Gemm ----

// numpy matmul: 1-D operands promoted (and the added dim dropped from the output), batch
// dims broadcast. Shapes were checked by the f32 entry's supports().
class MatMulF64 : public Kernel {
 public:
  explicit MatMulF64(const NodeView& v) {
    Dims a = v.input_shape(0), b = v.input_shape(1);
    if (a.size() == 1) a.insert(a.begin(), 1);
    if (b.size() == 1) b.push_back(1);
    size_t rank = std::max(a.size(), b.size());
    a = pad_rank(a, rank);
    b = pad_rank(b, rank);
    m_ = a[rank - 2];
    k_ = a[rank - 1];
    n_ = b[rank - 1];
    batch_.assign(a.begin(), a.end() - 2);
    for (size_t d = 0; d + 2 < rank; ++d) batch_[d] = std::max(a[d], b[d]);
    Dims a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
    a_strides_ = broadcast_strides(a_batch, batch_);
    b_strides_ = broadcast_strides(b_batch, batch_);
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const double* a = in_data(in, 0);
    const double* b = in_data(in, 1);
    double* y = out_data(out, 0);
    int64_t batches = numel(batch_);
    plain::parallel_range(batches * m_, batches * m_ * n_ * k_ * 8, [&](int64_t begin, int64_t end) {
      std::vector<double> row(static_cast<size_t>(n_));
      for (int64_t r = begin; r < end; ++r) {
        int64_t batch = r / m_, i = r % m_, a_off = 0, b_off = 0;
        for (size_t d = batch_.size(), rest = static_cast<size_t>(batch); d-- > 0;) {
          int64_t idx = static_cast<int64_t>(rest % static_cast<size_t>(batch_[d]));
          rest /= static_cast<size_t>(batch_[d]);
          a_off += idx * a_strides_[d] * m_ * k_;
          b_off += idx * b_strides_[d] * k_ * n_;
        }
        std::fill(row.begin(), row.end(), 0.0);
        const double* a_row = a + a_off + i * k_;
        for (int64_t k = 0; k < k_; ++k) {
          const double* b_row = b + b_off + k * n_;
          for (int64_t j = 0; j < n_; ++j) row[static_cast<size_t>(j)] += a_row[k] * b_row[j];
        }
        std::copy(row.begin(), row.end(), y + r * n_);
      }
    });
  }

 private:
  int64_t m_ = 0, k_ = 0, n_ = 0;
  Dims batch_, a_strides_, b_strides_;
};

// Y = alpha * A' B' + beta * C, with C broadcast to [M, N].
class GemmF64 : public Kernel {
 public:
  explicit GemmF64(const NodeView& v)
      : trans_a_(v.attr_int("transA", 0) != 0), trans_b_(v.attr_int("transB", 0) != 0),
        alpha_(v.attr_float("alpha", 1.f)), beta_(v.attr_float("beta", 1.f)), has_c_(v.has_input(2)) {
    Dims a = v.input_shape(0), y = v.output_shape(0);
    m_ = y[0];
    n_ = y[1];
    k_ = trans_a_ ? a[0] : a[1];
    if (has_c_) c_strides_ = broadcast_strides(v.input_shape(2), {m_, n_});
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const double* a = in_data(in, 0);
    const double* b = in_data(in, 1);
    const double* c = has_c_ ? in_data(in, 2) : nullptr;
    double* y = out_data(out, 0);
    plain::parallel_range(m_, m_ * n_ * k_ * 8, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t j = 0; j < n_; ++j) {
          double acc = 0;
          for (int64_t k = 0; k < k_; ++k)
            acc += a[trans_a_ ? k * m_ + i : i * k_ + k] * b[trans_b_ ? j * k_ + k : k * n_ + j];
          double value = alpha_ * acc;
          if (c) value += beta_ * c[i * c_strides_[0] + j * c_strides_[1]];
          y[i * n_ + j] = value;
        }
      }
    });
  }

 private:
  bool trans_a_, trans_b_;
  double alpha_, beta_;
  bool has_c_;
  int64_t m_ = 0, n_ = 0, k_ = 0;
  Dims c_strides_;
};

// ---- Sliding windows: Conv, ConvTranspose, MaxPool, AveragePool ----

// Spatial geometry as three dims (missing leading dims of extent 1), so every window loop
// is the same triple loop.
constexpr size_t kSpatial = 3;
using Tri = std::array<int64_t, kSpatial>;

struct Geometry {
  Tri in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1}, pad{0, 0, 0};
  Tri pad_end{0, 0, 0};  // the explicit (or auto_pad) end padding: AveragePool's count_include_pad

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
};

Geometry geometry(const Dims& x, const Dims& y, const Window& w) {
  Geometry g;
  size_t n = x.size() - 2, shift = kSpatial - n;
  for (size_t d = 0; d < n; ++d) {
    g.in[shift + d] = x[d + 2];
    g.out[shift + d] = y[d + 2];
    g.kernel[shift + d] = w.kernel[d];
    g.stride[shift + d] = w.strides[d];
    g.dilation[shift + d] = w.dilations[d];
    g.pad[shift + d] = w.pad_begin[d];
    g.pad_end[shift + d] = w.pad_end[d];
  }
  return g;
}

Window read_window_or_fail(const NodeView& v, const Dims& kernel) {
  Dims x = v.input_shape(0);
  Window w;
  std::string why = read_window(v, Dims(x.begin() + 2, x.end()), kernel, w);
  if (!why.empty()) fail(v, why);
  return w;
}

// Calls f(offset, k) for each kernel position k inside the input of the window whose output
// position is (o0, o1, o2) (a forward window), with offset the input's flat spatial offset.
template <class F>
void for_each_tap(const Geometry& g, int64_t o0, int64_t o1, int64_t o2, F&& f) {
  int64_t k = 0;
  for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
    int64_t p0 = o0 * g.stride[0] - g.pad[0] + k0 * g.dilation[0];
    for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
      int64_t p1 = o1 * g.stride[1] - g.pad[1] + k1 * g.dilation[1];
      for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2, ++k) {
        int64_t p2 = o2 * g.stride[2] - g.pad[2] + k2 * g.dilation[2];
        bool inside = p0 >= 0 && p0 < g.in[0] && p1 >= 0 && p1 < g.in[1] && p2 >= 0 && p2 < g.in[2];
        if (inside) f((p0 * g.in[1] + p1) * g.in[2] + p2, k);
      }
    }
  }
}

// Calls f(flat, o0, o1, o2) for every output position.
template <class F>
void for_each_out(const Geometry& g, F&& f) {
  int64_t flat = 0;
  for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
    for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
      for (int64_t o2 = 0; o2 < g.out[2]; ++o2, ++flat) f(flat, o0, o1, o2);
}

class ConvF64 : public Kernel {
 public:
  explicit ConvF64(const NodeView& v) : transposed_(v.op_type() == "ConvTranspose"), has_bias_(v.has_input(2)) {
    Dims x = v.input_shape(0), w = v.input_shape(1), y = v.output_shape(0);
    Window win = read_window_or_fail(v, Dims(w.begin() + 2, w.end()));
    batch_ = x[0];
    in_channels_ = x[1];
    out_channels_ = y[1];
    group_ = v.attr_int("group", 1);
    if (transposed_) {  // ONNX: with output_shape or SAME, the total padding is split evenly
      size_t n = x.size() - 2;
      Dims out_pad = v.attr_ints("output_padding", Dims(n, 0));
      std::string auto_pad = v.attr_string("auto_pad", "NOTSET");
      bool derive = v.attr("output_shape") || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
      for (size_t d = 0; derive && d < n; ++d) {
        int64_t full = win.strides[d] * (x[d + 2] - 1) + out_pad[d] + win.extent(d);
        int64_t total = full - y[d + 2];
        win.pad_begin[d] = total < 0 ? 0 : auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      }
      // The transposed window maps input positions to outputs: its "in" is the output.
      geo_ = geometry(y, x, win);
    } else {
      geo_ = geometry(x, y, win);
    }
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const double* x = in_data(in, 0);
    const double* w = in_data(in, 1);
    const double* bias = has_bias_ ? in_data(in, 2) : nullptr;
    double* y = out_data(out, 0);
    const int64_t c_per_group = in_channels_ / group_, m_per_group = out_channels_ / group_;
    const int64_t taps = geo_.kernel_size();
    // Forward: geo_ maps y positions to x taps. Transposed: geo_ maps x positions to y taps.
    const int64_t x_plane = transposed_ ? geo_.out_size() : geo_.in_size();
    const int64_t y_plane = transposed_ ? geo_.in_size() : geo_.out_size();
    plain::parallel_range(batch_ * out_channels_, batch_ * out_channels_ * y_plane * taps * c_per_group * 8,
                     [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        int64_t n = row / out_channels_, m = row % out_channels_, g = m / m_per_group;
        double* yp = y + row * y_plane;
        std::fill(yp, yp + y_plane, bias ? bias[m] : 0.0);
        for (int64_t c = 0; c < c_per_group; ++c) {
          int64_t ic = g * c_per_group + c;
          const double* xp = x + (n * in_channels_ + ic) * x_plane;
          if (!transposed_) {
            const double* wp = w + (m * c_per_group + c) * taps;  // W [M, C/group, k...]
            for_each_out(geo_, [&](int64_t o, int64_t o0, int64_t o1, int64_t o2) {
              double acc = 0;
              for_each_tap(geo_, o0, o1, o2, [&](int64_t i, int64_t k) { acc += xp[i] * wp[k]; });
              yp[o] += acc;
            });
          } else {
            const double* wp = w + (ic * m_per_group + (m - g * m_per_group)) * taps;  // W [C, M/group, k...]
            for_each_out(geo_, [&](int64_t i, int64_t i0, int64_t i1, int64_t i2) {
              double xv = xp[i];
              for_each_tap(geo_, i0, i1, i2, [&](int64_t o, int64_t k) { yp[o] += xv * wp[k]; });
            });
          }
        }
      }
    });
  }

 private:
  bool transposed_, has_bias_;
  int64_t batch_ = 0, in_channels_ = 0, out_channels_ = 0, group_ = 1;
  Geometry geo_;
};

// MaxPool (and its Indices output) and AveragePool. The output shape comes from the runtime,
// so ceil_mode needs nothing here: windows past the end just hold fewer taps. AveragePool with
// count_include_pad divides by the taps inside the explicitly padded input (PyTorch's rule, as
// the f32 kernel does); without, by the taps inside the input.
class PoolF64 : public Kernel {
 public:
  explicit PoolF64(const NodeView& v)
      : max_(v.op_type() == "MaxPool"), include_pad_(v.attr_int("count_include_pad", 0) != 0),
        indices_(max_ && output_wanted(v, 1)), column_major_(v.attr_int("storage_order", 0) != 0) {
    Dims x = v.input_shape(0), y = v.output_shape(0);
    geo_ = geometry(x, y, read_window_or_fail(v, v.attr_ints("kernel_shape", {})));
    planes_ = x[0] * x[1];
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const double* x = in_data(in, 0);
    double* y = out_data(out, 0);
    auto* idx = indices_ ? static_cast<int64_t*>(out[1].data) : nullptr;
    const int64_t in_plane = geo_.in_size(), out_plane = geo_.out_size();
    // The reported index: the flat offset into X, spatial dims row-major or column-major.
    Tri index_stride{geo_.in[1] * geo_.in[2], geo_.in[2], 1};
    if (column_major_) index_stride = {1, geo_.in[0], geo_.in[0] * geo_.in[1]};
    plain::parallel_range(planes_, planes_ * in_plane * 8, [&](int64_t begin, int64_t end) {
      for (int64_t plane = begin; plane < end; ++plane) {
        const double* xp = x + plane * in_plane;
        for_each_out(geo_, [&](int64_t o, int64_t o0, int64_t o1, int64_t o2) {
          double* yo = y + plane * out_plane + o;
          if (max_) {
            double best = std::numeric_limits<double>::lowest();
            int64_t best_at = 0;
            bool found = false;
            for_each_tap(geo_, o0, o1, o2, [&](int64_t i, int64_t) {
              if (!found || xp[i] > best || (std::isnan(xp[i]) && !std::isnan(best))) {
                best = xp[i];
                best_at = i;
                found = true;
              }
            });
            *yo = best;
            if (idx) {
              int64_t i2 = best_at % geo_.in[2], i1 = best_at / geo_.in[2] % geo_.in[1], i0 = best_at / geo_.in[2] / geo_.in[1];
              idx[plane * out_plane + o] = plane * in_plane + i0 * index_stride[0] + i1 * index_stride[1] + i2 * index_stride[2];
            }
            return;
          }
          double sum = 0;
          int64_t count = 0;
          for_each_tap(geo_, o0, o1, o2, [&](int64_t i, int64_t) {
            sum += xp[i];
            ++count;
          });
          if (include_pad_) count = padded_taps(o0, o1, o2);
          *yo = sum / static_cast<double>(count);
        });
      }
    });
  }

 private:
  // Taps inside the input with its explicit padding.
  int64_t padded_taps(int64_t o0, int64_t o1, int64_t o2) const {
    const Tri o{o0, o1, o2};
    int64_t count = 1;
    for (size_t d = 0; d < kSpatial; ++d) {
      int64_t inside = 0;
      for (int64_t k = 0; k < geo_.kernel[d]; ++k) {
        int64_t p = o[d] * geo_.stride[d] - geo_.pad[d] + k * geo_.dilation[d];
        inside += p >= -geo_.pad[d] && p < geo_.in[d] + geo_.pad_end[d];
      }
      count *= inside;
    }
    return count;
  }

  bool max_, include_pad_, indices_, column_major_;
  int64_t planes_ = 0;
  Geometry geo_;
};

// GlobalAveragePool, GlobalMaxPool: one value per (n, c) plane. NaN propagates through max.
class GlobalPoolF64 : public Kernel {
 public:
  explicit GlobalPoolF64(const NodeView& v) : max_(v.op_type() == "GlobalMaxPool") {
    Dims x = v.input_shape(0);
    planes_ = x[0] * x[1];
    for (size_t d = 2; d < x.size(); ++d) plane_ *= x[d];
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const double* x = in_data(in, 0);
    double* y = out_data(out, 0);
    for (int64_t p = 0; p < planes_; ++p) {
      const double* xp = x + p * plane_;
      double acc = max_ ? -std::numeric_limits<double>::infinity() : 0.0;
      for (int64_t i = 0; i < plane_; ++i) {
        if (!max_) acc += xp[i];
        else if (xp[i] > acc || std::isnan(xp[i])) acc = xp[i];
        if (max_ && std::isnan(acc)) break;
      }
      y[p] = max_ ? acc : acc / static_cast<double>(plane_);
    }
  }

 private:
  bool max_;
  int64_t planes_ = 0, plane_ = 1;
};

// ---- BatchNormalization, LayerNormalization ----

// Inference: y = (x - mean) / sqrt(var + epsilon) * scale + B, per channel of X [N, C, ...].
class BatchNormF64 : public Kernel {
 public:
  explicit BatchNormF64(const NodeView& v) : eps_(v.attr_float("epsilon", 1e-5f)) {
    Dims x = v.input_shape(0);
    batch_ = x[0];
    channels_ = x[1];
    spatial_ = 1;
    for (size_t d = 2; d < x.size(); ++d) spatial_ *= x[d];
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const double *x = in_data(in, 0), *scale = in_data(in, 1), *shift = in_data(in, 2);
    const double *mean = in_data(in, 3), *var = in_data(in, 4);
    double* y = out_data(out, 0);
    for (int64_t n = 0; n < batch_; ++n)
      for (int64_t c = 0; c < channels_; ++c) {
        double a = scale[c] / std::sqrt(var[c] + eps_), m = mean[c], b = shift[c];
        int64_t base = (n * channels_ + c) * spatial_;
        for (int64_t i = 0; i < spatial_; ++i) y[base + i] = (x[base + i] - m) * a + b;
      }
  }

 private:
  double eps_;
  int64_t batch_ = 0, channels_ = 0, spatial_ = 1;
};

// X viewed as [outer, inner] from `axis`; Scale and B broadcast to the normalized dims. The
// optional Mean and InvStdDev outputs are written in their own dtype (f32 or f64).
class LayerNormF64 : public Kernel {
 public:
  explicit LayerNormF64(const NodeView& v) : eps_(v.attr_float("epsilon", 1e-5f)), has_bias_(v.has_input(2)) {
    Dims x = v.input_shape(0);
    int64_t rank = static_cast<int64_t>(x.size());
    int64_t axis = plain::normalize_axis(v, v.attr_int("axis", -1), rank);
    for (int64_t d = 0; d < rank; ++d) (d < axis ? outer_ : inner_) *= x[static_cast<size_t>(d)];
    normalized_.assign(x.begin() + axis, x.end());
    scale_shape_ = v.input_shape(1);
    if (has_bias_) bias_shape_ = v.input_shape(2);
    for (size_t i = 1; i < 3; ++i) stat_dtype_[i - 1] = output_wanted(v, i) ? v.output_dtype(i) : KILN_DTYPE_UNDEFINED;
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t n_out) override {
    const double* x = in_data(in, 0);
    double* y = out_data(out, 0);
    std::vector<double> scale(static_cast<size_t>(inner_)), bias(static_cast<size_t>(inner_), 0.0);
    expand_into(in_data(in, 1), scale_shape_, scale.data(), normalized_);
    if (has_bias_) expand_into(in_data(in, 2), bias_shape_, bias.data(), normalized_);
    for (int64_t r = 0; r < outer_; ++r) {
      const double* xr = x + r * inner_;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < inner_; ++i) mean += xr[i];
      mean /= static_cast<double>(inner_);
      for (int64_t i = 0; i < inner_; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= static_cast<double>(inner_);
      double inv_std = 1.0 / std::sqrt(var + eps_);
      for (int64_t i = 0; i < inner_; ++i)
        y[r * inner_ + i] = (xr[i] - mean) * inv_std * scale[static_cast<size_t>(i)] + bias[static_cast<size_t>(i)];
      const double stats[2] = {mean, inv_std};
      for (size_t s = 0; s < 2; ++s) {
        if (stat_dtype_[s] == KILN_DTYPE_UNDEFINED || s + 1 >= n_out || !out[s + 1].data) continue;
        if (stat_dtype_[s] == kF64) static_cast<double*>(out[s + 1].data)[r] = stats[s];
        else static_cast<float*>(out[s + 1].data)[r] = static_cast<float>(stats[s]);
      }
    }
  }

 private:
  double eps_;
  bool has_bias_;
  int64_t outer_ = 1, inner_ = 1;
  Dims normalized_, scale_shape_, bias_shape_;
  std::array<int32_t, 2> stat_dtype_{};
};

// ---- Softmax, LogSoftmax ----

// [outer, n, inner] around axis (before opset 13, n is every dim from axis on).
class SoftmaxF64 : public Kernel {
 public:
  explicit SoftmaxF64(const NodeView& v) : log_(v.op_type() == "LogSoftmax") {
    Dims x = v.input_shape(0);
    int64_t rank = static_cast<int64_t>(x.size());
    bool legacy = v.opset() < 13;
    int64_t axis = plain::normalize_axis(v, v.attr_int("axis", legacy ? 1 : -1), std::max<int64_t>(rank, 1));
    for (int64_t d = 0; d < rank; ++d) {
      int64_t extent = x[static_cast<size_t>(d)];
      if (d < axis) outer_ *= extent;
      else if (d == axis || legacy) n_ *= extent;
      else inner_ *= extent;
    }
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const double* x = in_data(in, 0);
    double* y = out_data(out, 0);
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t j = 0; j < inner_; ++j) {
        const int64_t base = o * n_ * inner_ + j;
        double max = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < n_; ++k) max = std::max(max, x[base + k * inner_]);
        double sum = 0;
        for (int64_t k = 0; k < n_; ++k) sum += std::exp(x[base + k * inner_] - max);
        double log_sum = std::log(sum);
        for (int64_t k = 0; k < n_; ++k) {
          double shifted = x[base + k * inner_] - max;
          y[base + k * inner_] = log_ ? shifted - log_sum : std::exp(shifted) / sum;
        }
      }
  }

 private:
  bool log_;
  int64_t outer_ = 1, n_ = 1, inner_ = 1;
};

template <class K>
PrepareFn make() {
  return [](const NodeView& v) -> std::unique_ptr<Kernel> { return std::make_unique<K>(v); };
}

}  // namespace

void register_f64_kernels(KernelTable& table) {
  add_f64(table, "MatMul", make<MatMulF64>());
  add_f64(table, "Gemm", make<GemmF64>());
  add_f64(table, "Conv", make<ConvF64>());
  add_f64(table, "ConvTranspose", make<ConvF64>());
  add_f64(table, "MaxPool", make<PoolF64>());
  add_f64(table, "AveragePool", make<PoolF64>());
  add_f64(table, "GlobalAveragePool", make<GlobalPoolF64>());
  add_f64(table, "GlobalMaxPool", make<GlobalPoolF64>());
  add_f64(table, "BatchNormalization", make<BatchNormF64>());
  add_f64(table, "LayerNormalization", make<LayerNormF64>(), {1, 2});
  add_f64(table, "Softmax", make<SoftmaxF64>());
  add_f64(table, "LogSoftmax", make<SoftmaxF64>());
}

}  // namespace kiln::cpu
