// ReduceSum, ReduceMean, ReduceMax: axes from the attribute (older opsets) or from input 1,
// keepdims, noop_with_empty_axes. f32 runs on oneDNN's reduction primitive; i64/i32 Sum and
// Max run in plain C++. Empty inputs give 0 (Sum), NaN (Mean) or the dtype's lowest (Max).

#include <cstring>
#include <limits>

#include "compute_broadcast.h"
#include "compute_reduce.h"
#include "dnnl_exec.h"
#include "kernel_families.h"

namespace kiln::cpu {
namespace {

Red red_of(std::string_view op) {
  if (op == "ReduceSum") return Red::kSum;
  if (op == "ReduceMean") return Red::kMean;
  return Red::kMax;
}

// The opset from which axes come as input 1 instead of an attribute.
int axes_input_opset(Red r) { return r == Red::kSum ? 13 : 18; }

struct ReducePlan {
  Dims in;          // input shape
  Dims kept;        // input shape with the reduced dims set to 1
  bool identity = false;  // noop_with_empty_axes with no axes: a copy
};

std::string plan_reduce(const NodeView& v, ReducePlan& p) {
  Red r = red_of(v.op_type());
  p.in = v.input_shape(0);
  std::vector<int64_t> axes;
  if (v.opset() >= axes_input_opset(r)) {
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
  bool int_ok = red_of(v.op_type()) != Red::kMean && (dt == KILN_DTYPE_I64 || dt == KILN_DTYPE_I32);
  if (dt != KILN_DTYPE_F32 && !int_ok) return std::string("dtype ") + dtype_name(dt) + " not supported";
  if (v.output_dtype(0) != dt) return "output dtype differs from the input's";
  ReducePlan p;
  return plan_reduce(v, p);
}

template <class T>
T empty_result(Red r) {
  if (r == Red::kMax) return std::numeric_limits<T>::lowest();
  if (r == Red::kMean) return std::numeric_limits<T>::quiet_NaN();
  return T(0);
}

class FloatReduceKernel : public Kernel {
 public:
  FloatReduceKernel(const Dims& in, const Dims& kept, Red r, bool identity)
      : red_(r), in_numel_(numel(in)), out_numel_(numel(kept)) {
    // Empty input, nothing reduced or nothing left: no primitive (oneDNN rejects these).
    if (identity || in_numel_ == 0 || in_numel_ == out_numel_) return;
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
    else if (in_numel_ == 0) std::fill(y, y + out_numel_, empty_result<float>(red_));
    else std::memcpy(y, in[0].data, static_cast<size_t>(in_numel_) * sizeof(float));
  }

 private:
  Red red_;
  int64_t in_numel_, out_numel_;
  bool ready_ = false;
  DnnlCall call_;
};

template <class T>
class IntReduceKernel : public Kernel {
 public:
  IntReduceKernel(const ReducePlan& p, Red r)
      : red_(r), identity_(p.identity), in_(p.in), to_out_(broadcast_strides(p.kept, p.in)),
        out_numel_(numel(p.kept)) {}
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const T* x = static_cast<const T*>(in[0].data);
    T* y = static_cast<T*>(out[0].data);
    if (identity_) {
      std::memcpy(y, x, static_cast<size_t>(out_numel_) * sizeof(T));
      return;
    }
    std::fill(y, y + out_numel_, empty_result<T>(red_));
    using U = std::make_unsigned_t<T>;
    if (red_ == Red::kSum)
      for_each_broadcast<1>(in_, {to_out_}, [&](int64_t i, const std::array<int64_t, 1>& o) {
        y[o[0]] = T(U(y[o[0]]) + U(x[i]));  // wraps instead of overflowing
      });
    else
      for_each_broadcast<1>(in_, {to_out_}, [&](int64_t i, const std::array<int64_t, 1>& o) {
        y[o[0]] = std::max(y[o[0]], x[i]);
      });
  }

 private:
  Red red_;
  bool identity_;
  Dims in_, to_out_;  // to_out_: input index -> output offset, 0 on the reduced dims
  int64_t out_numel_;
};

std::unique_ptr<Kernel> prepare_reduce(const NodeView& v) {
  ReducePlan p;
  std::string why = plan_reduce(v, p);
  if (!why.empty()) fail(v, why);
  Red r = red_of(v.op_type());
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_I64: return std::make_unique<IntReduceKernel<int64_t>>(p, r);
    case KILN_DTYPE_I32: return std::make_unique<IntReduceKernel<int32_t>>(p, r);
    default: return make_float_reduce(p.in, p.kept, r, p.identity);
  }
}

}  // namespace

std::unique_ptr<Kernel> make_float_reduce(const Dims& in, const Dims& kept, Red r, bool identity) {
  return std::make_unique<FloatReduceKernel>(in, kept, r, identity);
}

void register_reduce_kernels(KernelTable& table) {
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax"}) table.add(op, supports_reduce, prepare_reduce);
}

}  // namespace kiln::cpu
