// Add, Sub, Mul, Div with numpy broadcasting in both directions. f32 runs on oneDNN's binary
// primitive (tiny outputs in plain C++); i64 and i32 (shape arithmetic) run in plain C++.

#include <type_traits>

#include "compute_broadcast.h"
#include "dnnl_exec.h"
#include "kernel_families.h"

namespace kiln::cpu {
namespace {

enum class BinOp { kAdd, kSub, kMul, kDiv };

BinOp bin_op(std::string_view op) {
  if (op == "Add") return BinOp::kAdd;
  if (op == "Sub") return BinOp::kSub;
  if (op == "Mul") return BinOp::kMul;
  return BinOp::kDiv;
}

std::string supports_binary(const NodeView& v) {
  if (!v.has_input(0) || !v.has_input(1)) return "needs two inputs";
  int32_t a = v.input_dtype(0), b = v.input_dtype(1);
  if (a != b) return std::string("input dtypes differ: ") + dtype_name(a) + " and " + dtype_name(b);
  if (a != KILN_DTYPE_F32 && a != KILN_DTYPE_I64 && a != KILN_DTYPE_I32)
    return std::string("dtype ") + dtype_name(a) + " not supported (f32, i64, i32)";
  if (v.output_dtype(0) != a) return "output dtype differs from the inputs'";
  Dims out = v.output_shape(0);
  if (!broadcastable(v.input_shape(0), out) || !broadcastable(v.input_shape(1), out))
    return "input shapes do not broadcast to the output shape";
  return "";
}

// oneDNN's binary primitive broadcasts only its second source. When the first operand needs
// broadcasting too, commutative ops swap the operands (Sub negates afterwards); otherwise the
// first operand is expanded into the output, which then serves as the in-place first source.
class FloatBinaryKernel : public Kernel {
 public:
  FloatBinaryKernel(const NodeView& v, BinOp op)
      : a_shape_(v.input_shape(0)), b_shape_(v.input_shape(1)), out_shape_(v.output_shape(0)) {
    if (numel(out_shape_) == 0) return;  // nothing to compute; oneDNN rejects empty dims
    size_t rank = out_shape_.size();
    Dims a = pad_rank(a_shape_, rank), b = pad_rank(b_shape_, rank);
    dnnl::primitive_attr attr;
    if (a == out_shape_) {
      mode_ = Mode::kDirect;
    } else if (b == out_shape_ && op != BinOp::kDiv) {
      mode_ = Mode::kSwapped;
      std::swap(a, b);
      if (op == BinOp::kSub) {  // b - a, then negate
        dnnl::post_ops po;
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, -1.f, 0.f);
        attr.set_post_ops(po);
      }
    } else {
      mode_ = Mode::kExpandFirst;
    }
    static const dnnl::algorithm kAlg[] = {dnnl::algorithm::binary_add, dnnl::algorithm::binary_sub,
                                           dnnl::algorithm::binary_mul, dnnl::algorithm::binary_div};
    dnnl::algorithm alg = kAlg[static_cast<int>(op)];
    auto out_md = plain_desc(out_shape_, KILN_DTYPE_F32);
    auto b_md = plain_desc(b, KILN_DTYPE_F32);
    dnnl::binary::primitive_desc pd(dnnl::binary::desc(alg, out_md, b_md, out_md), attr, engine());
    call_.set_primitive(dnnl::binary(pd));
    call_.bind(DNNL_ARG_SRC_0, out_md);
    call_.bind(DNNL_ARG_SRC_1, b_md);
    call_.bind(DNNL_ARG_DST, out_md);
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    if (numel(out_shape_) == 0) return;
    const auto* a = static_cast<const float*>(in[0].data);
    const auto* b = static_cast<const float*>(in[1].data);
    auto* y = static_cast<float*>(out[0].data);
    switch (mode_) {
      case Mode::kDirect: call_.run({a, b, y}); break;
      case Mode::kSwapped: call_.run({b, a, y}); break;
      case Mode::kExpandFirst:
        expand_into(a, a_shape_, y, out_shape_);
        call_.run({y, b, y});
        break;
    }
  }

 private:
  enum class Mode { kDirect, kSwapped, kExpandFirst };
  Dims a_shape_, b_shape_, out_shape_;
  Mode mode_ = Mode::kDirect;
  DnnlCall call_;
};

// Plain C++: integers, and f32 outputs too small to be worth a oneDNN call (which opens an
// OpenMP region). Integer arithmetic wraps (computed unsigned) instead of overflowing into
// undefined behavior; integer division by zero is an error.
template <class T>
class PlainBinaryKernel : public Kernel {
 public:
  PlainBinaryKernel(const NodeView& v, BinOp op)
      : op_(op), a_shape_(v.input_shape(0)), b_shape_(v.input_shape(1)), out_shape_(v.output_shape(0)),
        label_(node_label(v)) {}

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const auto* a = static_cast<const T*>(in[0].data);
    const auto* b = static_cast<const T*>(in[1].data);
    auto* y = static_cast<T*>(out[0].data);
    auto apply = [&](auto f) { broadcast_apply(a, a_shape_, b, b_shape_, y, out_shape_, f); };
    if constexpr (std::is_floating_point_v<T>) {
      switch (op_) {
        case BinOp::kAdd: apply([](T x, T z) { return x + z; }); break;
        case BinOp::kSub: apply([](T x, T z) { return x - z; }); break;
        case BinOp::kMul: apply([](T x, T z) { return x * z; }); break;
        case BinOp::kDiv: apply([](T x, T z) { return x / z; }); break;
      }
    } else {
      using U = std::make_unsigned_t<T>;
      switch (op_) {
        case BinOp::kAdd: apply([](T x, T z) { return T(U(x) + U(z)); }); break;
        case BinOp::kSub: apply([](T x, T z) { return T(U(x) - U(z)); }); break;
        case BinOp::kMul: apply([](T x, T z) { return T(U(x) * U(z)); }); break;
        case BinOp::kDiv:
          apply([this](T x, T z) {
            if (z == 0) throw KernelError(KILN_ERR_INVALID_ARGUMENT, label_ + ": integer division by zero");
            if (z == -1) return T(U(0) - U(x));  // avoids the trap of MIN / -1
            return T(x / z);                     // C++ truncates toward zero, as ONNX wants
          });
          break;
      }
    }
  }

 private:
  BinOp op_;
  Dims a_shape_, b_shape_, out_shape_;
  std::string label_;
};

// Below this many output elements, f32 runs in plain C++.
constexpr int64_t kSmallFloat = 1024;

std::unique_ptr<Kernel> prepare_binary(const NodeView& v) {
  BinOp op = bin_op(v.op_type());
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_F32:
      if (numel(v.output_shape(0)) < kSmallFloat) return std::make_unique<PlainBinaryKernel<float>>(v, op);
      return std::make_unique<FloatBinaryKernel>(v, op);
    case KILN_DTYPE_I64: return std::make_unique<PlainBinaryKernel<int64_t>>(v, op);
    case KILN_DTYPE_I32: return std::make_unique<PlainBinaryKernel<int32_t>>(v, op);
    default: fail(v, std::string("dtype ") + dtype_name(v.input_dtype(0)) + " not supported");
  }
}

}  // namespace

void register_binary_kernels(KernelTable& table) {
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) table.add(op, supports_binary, prepare_binary);
}

}  // namespace kiln::cpu
