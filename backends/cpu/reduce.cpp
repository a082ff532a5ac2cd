// ReduceSum, ReduceMean, ReduceMax: axes from the attribute (older opsets) or from input 1,
// keepdims, noop_with_empty_axes. f32 runs on oneDNN's reduction primitive, or on a plain loop
// where oneDNN has only reference code (see Sandwich); f64 (in double)
// and i64/i32 Sum and Max, and bool Max/Min (any/all), run in plain C++. Empty inputs give 0
// (Sum), NaN (Mean) or -inf (Max; the integer dtypes' lowest).
// ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp and ReduceSumSquare
// share the plan and run in plain C++ (f32/f64 accumulate in double); ArgMax/ArgMin likewise.

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "compute_broadcast.h"
#include "compute_reduce.h"
#include "dnnl_exec.h"
#include "kernel_families.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

Red red_of(std::string_view op) {
  if (op == "ReduceSum") return Red::kSum;
  if (op == "ReduceMean") return Red::kMean;
  return Red::kMax;
}

// The opset from which axes come as input 1 instead of an attribute.
int axes_input_opset(std::string_view op) { return op == "ReduceSum" ? 13 : 18; }

// Reductions in plain C++; kSum, kMean and kMax serve the dtypes oneDNN's reduction lacks
// (f64, and integers for Sum and Max).
enum class PlainRed { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

std::optional<PlainRed> plain_red_of(std::string_view op) {
  if (op == "ReduceMin") return PlainRed::kMin;
  if (op == "ReduceProd") return PlainRed::kProd;
  if (op == "ReduceL1") return PlainRed::kL1;
  if (op == "ReduceL2") return PlainRed::kL2;
  if (op == "ReduceLogSum") return PlainRed::kLogSum;
  if (op == "ReduceLogSumExp") return PlainRed::kLogSumExp;
  if (op == "ReduceSumSquare") return PlainRed::kSumSquare;
  return std::nullopt;
}

// Integer inputs are taken by the reductions whose result stays an integer.
bool plain_int_ok(PlainRed r) {
  return r == PlainRed::kMin || r == PlainRed::kProd || r == PlainRed::kL1 || r == PlainRed::kSumSquare;
}

struct ReducePlan {
  Dims in;          // input shape
  Dims kept;        // input shape with the reduced dims set to 1
  bool identity = false;  // noop_with_empty_axes with no axes: a copy
};

std::string plan_reduce(const NodeView& v, ReducePlan& p) {
  p.in = v.input_shape(0);
  std::vector<int64_t> axes;
  if (v.opset() >= axes_input_opset(v.op_type())) {
    if (v.has_input(1)) {
      if (!v.input_value(1)) return "axes (input 1) must be known before running";
      axes = v.input_ints(1);
    }
  } else {
    axes = v.attr_ints("axes", {});
  }
  int64_t rank = static_cast<int64_t>(p.in.size());
  p.kept = p.in;
  if (axes.empty()) {
    if (v.attr_int("noop_with_empty_axes", 0) != 0) p.identity = true;
    else p.kept.assign(p.in.size(), 1);
  }
  std::vector<bool> seen(p.in.size(), false);
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) return "axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank);
    size_t d = static_cast<size_t>(a < 0 ? a + rank : a);
    if (seen[d]) return "axis " + std::to_string(a) + " is repeated";
    seen[d] = true;
    p.kept[d] = 1;
  }
  if (numel(p.kept) != numel(v.output_shape(0))) return "output shape does not match the reduction";
  return "";
}

std::string supports_reduce(const NodeView& v) {
  int32_t dt = v.input_dtype(0);
  std::optional<PlainRed> plain = plain_red_of(v.op_type());
  bool int_ok = (plain ? plain_int_ok(*plain) : red_of(v.op_type()) != Red::kMean) &&
                (dt == KILN_DTYPE_I64 || dt == KILN_DTYPE_I32);
  bool f64_ok = dt == KILN_DTYPE_F64;  // every reduction runs in plain C++ on f64
  // bool ReduceMax/ReduceMin (opset 20; False < True): any and all, in plain C++.
  bool bool_ok = dt == KILN_DTYPE_BOOL && (v.op_type() == "ReduceMax" || v.op_type() == "ReduceMin");
  if (dt != KILN_DTYPE_F32 && !int_ok && !f64_ok && !bool_ok)
    return std::string("dtype ") + dtype_name(dt) + " not supported";
  if (v.output_dtype(0) != dt) return "output dtype differs from the input's";
  ReducePlan p;
  return plan_reduce(v, p);
}

template <class T>
T empty_result(Red r) {
  if (r == Red::kMax) return -std::numeric_limits<T>::infinity();  // ONNX: -inf where the dtype has it
  if (r == Red::kMean) return std::numeric_limits<T>::quiet_NaN();
  return T(0);
}

// The input as [A, C, B] with the reduced axes outside the kept ones (size-1 axes either way):
// the per-channel sums of gradients and batch statistics ([N, C, H, W] -> [1, C, 1, 1]) and
// last-axis reductions, where oneDNN 2.6 only has its slow reference code.
struct Sandwich {
  int64_t a = 1, c = 1, b = 1;
};

std::optional<Sandwich> sandwich_of(const Dims& in, const Dims& kept) {
  Sandwich s;
  int stage = 0;  // 0: leading reduced axes, 1: kept axes, 2: trailing reduced axes
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == 1) continue;
    const bool reduced = kept[i] == 1;
    if (!reduced && stage == 2) return std::nullopt;
    if (!reduced) stage = 1;
    if (reduced && stage == 1) stage = 2;
    (stage == 0 ? s.a : stage == 1 ? s.c : s.b) *= in[i];
  }
  return s;
}

class FloatReduceKernel : public Kernel {
 public:
  FloatReduceKernel(const Dims& in, const Dims& kept, Red r, bool identity)
      : red_(r), in_numel_(numel(in)), out_numel_(numel(kept)) {
    // Empty input, nothing reduced or nothing left: no primitive (oneDNN rejects these).
    if (identity || in_numel_ == 0 || in_numel_ == out_numel_) return;
    if ((sandwich_ = sandwich_of(in, kept))) return;
    static const dnnl::algorithm kAlg[] = {dnnl::algorithm::reduction_sum, dnnl::algorithm::reduction_mean,
                                           dnnl::algorithm::reduction_max};
    auto src = plain_desc(in, KILN_DTYPE_F32), dst = plain_desc(kept, KILN_DTYPE_F32);
    dnnl::reduction::primitive_desc pd(
        dnnl::reduction::desc(kAlg[static_cast<int>(r)], src, dst, 0.f, 0.f), engine());
    call_.set_primitive(dnnl::reduction(pd));
    call_.bind(DNNL_ARG_SRC, src);
    call_.bind(DNNL_ARG_DST, dst);
    ready_ = true;
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    auto* y = static_cast<float*>(out[0].data);
    if (ready_) call_.run({in[0].data, y});
    else if (sandwich_) run_sandwich(static_cast<const float*>(in[0].data), y);
    else if (in_numel_ == 0) std::fill(y, y + out_numel_, empty_result<float>(red_));
    else std::memcpy(y, in[0].data, static_cast<size_t>(in_numel_) * sizeof(float));
  }

 private:
  // Sum and Mean accumulate in double per channel; Max propagates NaN.
  void run_sandwich(const float* x, float* y) const {
    const auto [a_size, c_size, b_size] = *sandwich_;
    plain::parallel_range(c_size, in_numel_ * static_cast<int64_t>(sizeof(float)), [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        double sum = 0;
        float max = -std::numeric_limits<float>::infinity();
        for (int64_t a = 0; a < a_size; ++a) {
          const float* row = x + (a * c_size + c) * b_size;
          if (red_ == Red::kMax) {
            for (int64_t b = 0; b < b_size; ++b) max = row[b] > max || std::isnan(row[b]) ? row[b] : max;
          } else {
#pragma omp simd reduction(+ : sum)
            for (int64_t b = 0; b < b_size; ++b) sum += row[b];
          }
        }
        y[c] = red_ == Red::kMax ? max
               : red_ == Red::kMean ? static_cast<float>(sum / static_cast<double>(a_size * b_size))
                                    : static_cast<float>(sum);
      }
    });
  }

  Red red_;
  int64_t in_numel_, out_numel_;
  bool ready_ = false;
  std::optional<Sandwich> sandwich_;
  DnnlCall call_;
};

// Accumulates in double for f32/f64 and in wrapping 64-bit integers for i64/i32.
template <class T>
class PlainReduceKernel : public Kernel {
  static constexpr bool kFloat = std::is_floating_point_v<T>;
  using Acc = std::conditional_t<kFloat, double, int64_t>;

 public:
  PlainReduceKernel(const ReducePlan& p, PlainRed r)
      : red_(r), identity_(p.identity), in_(p.in), to_out_(broadcast_strides(p.kept, p.in)),
        out_numel_(numel(p.kept)), count_(out_numel_ > 0 ? numel(p.in) / out_numel_ : 0) {}
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const T* x = static_cast<const T*>(in[0].data);
    T* y = static_cast<T*>(out[0].data);
    if (identity_) {
      std::memcpy(y, x, static_cast<size_t>(out_numel_) * sizeof(T));
      return;
    }
    std::vector<Acc> acc(static_cast<size_t>(out_numel_), init());
    for_each_broadcast<1>(in_, {to_out_}, [&](int64_t i, const std::array<int64_t, 1>& o) {
      Acc& a = acc[static_cast<size_t>(o[0])];
      a = fold(a, static_cast<Acc>(x[i]));
    });
    for (int64_t i = 0; i < out_numel_; ++i) y[i] = finish(acc[static_cast<size_t>(i)]);
  }

 private:
  static Acc wrap_add(Acc a, Acc b) {
    if constexpr (kFloat) return a + b;
    else return static_cast<Acc>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  }
  static Acc wrap_mul(Acc a, Acc b) {
    if constexpr (kFloat) return a * b;
    else return static_cast<Acc>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  }
  Acc init() const {
    if (red_ == PlainRed::kProd) return Acc(1);
    if (red_ == PlainRed::kMax) {
      if constexpr (kFloat) return -std::numeric_limits<double>::infinity();
      else return static_cast<Acc>(std::numeric_limits<T>::lowest());
    }
    if (red_ == PlainRed::kMin) {
      if constexpr (kFloat) return std::numeric_limits<double>::infinity();
      else return static_cast<Acc>(std::numeric_limits<T>::max());
    }
    return Acc(0);
  }
  Acc fold(Acc a, Acc v) const {
    switch (red_) {
      case PlainRed::kSum:
      case PlainRed::kMean: return wrap_add(a, v);
      case PlainRed::kMax:
        if constexpr (kFloat) return v > a || std::isnan(v) ? v : a;  // NaN propagates
        else return v > a ? v : a;
      case PlainRed::kMin:
        if constexpr (kFloat) return v < a || std::isnan(v) ? v : a;  // NaN propagates
        else return v < a ? v : a;
      case PlainRed::kProd: return wrap_mul(a, v);
      case PlainRed::kL1: return wrap_add(a, v < 0 ? wrap_mul(v, Acc(-1)) : v);
      case PlainRed::kL2:
      case PlainRed::kSumSquare: return wrap_add(a, wrap_mul(v, v));
      case PlainRed::kLogSum: return a + v;
      case PlainRed::kLogSumExp:
        if constexpr (kFloat) return a + std::exp(v);
        else return a;
    }
    return a;
  }
  T finish(Acc a) const {
    if constexpr (kFloat) {
      if (red_ == PlainRed::kMean) return static_cast<T>(a / static_cast<double>(count_));  // empty: NaN
      if (red_ == PlainRed::kL2) return static_cast<T>(std::sqrt(a));
      if (red_ == PlainRed::kLogSum || red_ == PlainRed::kLogSumExp) return static_cast<T>(std::log(a));
    }
    return static_cast<T>(a);
  }

  PlainRed red_;
  bool identity_;
  Dims in_, to_out_;
  int64_t out_numel_, count_;
};

template <class T>
std::unique_ptr<Kernel> make_plain_reduce(const ReducePlan& p, PlainRed r) {
  return std::make_unique<PlainReduceKernel<T>>(p, r);
}

std::unique_ptr<Kernel> prepare_reduce(const NodeView& v) {
  ReducePlan p;
  std::string why = plan_reduce(v, p);
  if (!why.empty()) fail(v, why);
  if (v.input_dtype(0) == KILN_DTYPE_BOOL)  // ReduceMax / ReduceMin only (supports_reduce)
    return make_plain_reduce<bool>(p, v.op_type() == "ReduceMin" ? PlainRed::kMin : PlainRed::kMax);
  if (std::optional<PlainRed> plain = plain_red_of(v.op_type())) {
    switch (v.input_dtype(0)) {
      case KILN_DTYPE_I64: return make_plain_reduce<int64_t>(p, *plain);
      case KILN_DTYPE_I32: return make_plain_reduce<int32_t>(p, *plain);
      case KILN_DTYPE_F64: return make_plain_reduce<double>(p, *plain);
      default: return make_plain_reduce<float>(p, *plain);
    }
  }
  Red r = red_of(v.op_type());
  PlainRed as_plain = r == Red::kSum ? PlainRed::kSum : r == Red::kMean ? PlainRed::kMean : PlainRed::kMax;
  switch (v.input_dtype(0)) {  // integers: Sum and Max only (supports_reduce)
    case KILN_DTYPE_F64: return make_plain_reduce<double>(p, as_plain);
    case KILN_DTYPE_I64: return make_plain_reduce<int64_t>(p, as_plain);
    case KILN_DTYPE_I32: return make_plain_reduce<int32_t>(p, as_plain);
    default: return make_float_reduce(p.in, p.kept, r, p.identity);
  }
}

// ArgMax/ArgMin over one axis: the input viewed as [outer, n, inner].
struct ArgPlan {
  int64_t outer = 1, n = 1, inner = 1;
};

std::string plan_arg(const NodeView& v, ArgPlan& p) {
  const Dims& in = v.input_shape(0);
  auto rank = static_cast<int64_t>(in.size());
  int64_t axis = v.attr_int("axis", 0);
  if (axis < -rank || axis >= rank) return "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank);
  if (axis < 0) axis += rank;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t d = in[static_cast<size_t>(i)];
    if (i < axis) p.outer *= d;
    else if (i == axis) p.n = d;
    else p.inner *= d;
  }
  if (p.n == 0 && p.outer * p.inner != 0) return "cannot take ArgMax/ArgMin over an empty axis";
  return "";
}

std::string supports_arg(const NodeView& v) {
  int32_t dt = v.input_dtype(0);
  if (dt != KILN_DTYPE_F32 && dt != KILN_DTYPE_F64 && dt != KILN_DTYPE_I64 && dt != KILN_DTYPE_I32)
    return std::string("dtype ") + dtype_name(dt) + " not supported";
  if (v.output_dtype(0) != KILN_DTYPE_I64) return "output must be i64";
  ArgPlan p;
  return plan_arg(v, p);
}

template <class T>
class ArgKernel : public Kernel {
 public:
  ArgKernel(const ArgPlan& p, bool is_max, bool last) : p_(p), max_(is_max), last_(last) {}
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const T* x = static_cast<const T*>(in[0].data);
    auto* y = static_cast<int64_t*>(out[0].data);
    for (int64_t o = 0; o < p_.outer; ++o)
      for (int64_t j = 0; j < p_.inner; ++j) {
        const T* base = x + o * p_.n * p_.inner + j;
        int64_t best = 0;
        for (int64_t k = 1; k < p_.n; ++k) {
          T a = base[k * p_.inner], b = base[best * p_.inner];
          bool better = max_ ? (last_ ? a >= b : a > b) : (last_ ? a <= b : a < b);
          if (better) best = k;
        }
        y[o * p_.inner + j] = best;
      }
  }

 private:
  ArgPlan p_;
  bool max_, last_;
};

std::unique_ptr<Kernel> prepare_arg(const NodeView& v) {
  ArgPlan p;
  std::string why = plan_arg(v, p);
  if (!why.empty()) fail(v, why);
  bool is_max = v.op_type() == "ArgMax";
  bool last = v.attr_int("select_last_index", 0) != 0;
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_I64: return std::make_unique<ArgKernel<int64_t>>(p, is_max, last);
    case KILN_DTYPE_I32: return std::make_unique<ArgKernel<int32_t>>(p, is_max, last);
    case KILN_DTYPE_F64: return std::make_unique<ArgKernel<double>>(p, is_max, last);
    default: return std::make_unique<ArgKernel<float>>(p, is_max, last);
  }
}

}  // namespace

std::unique_ptr<Kernel> make_float_reduce(const Dims& in, const Dims& kept, Red r, bool identity) {
  return std::make_unique<FloatReduceKernel>(in, kept, r, identity);
}

void register_reduce_kernels(KernelTable& table) {
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                         "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"})
    table.add(op, supports_reduce, prepare_reduce);
  table.add("ArgMax", supports_arg, prepare_arg);
  table.add("ArgMin", supports_arg, prepare_arg);
}

}  // namespace kiln::cpu
