// Add, Sub, Mul, Div with numpy broadcasting in both directions. f32 runs on oneDNN's binary
// primitive (tiny outputs in plain C++); f64, i64 and i32 (shape arithmetic), i8 and u8 run in
// plain C++. Mod and the variadic Max, Min, Sum and Mean run in plain C++.

#include <cmath>
#include <type_traits>
#include <vector>

#include "compute_broadcast.h"
#include "dnnl_exec.h"
#include "kernel_families.h"
#include "plain_convert.h"

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
  if (a != KILN_DTYPE_F32 && a != KILN_DTYPE_F64 && a != KILN_DTYPE_I64 && a != KILN_DTYPE_I32 && a != KILN_DTYPE_I8 &&
      a != KILN_DTYPE_U8)
    return std::string("dtype ") + dtype_name(a) + " not supported (f32, f64, i64, i32, i8, u8)";
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
            if constexpr (std::is_signed_v<T>) {
              if (z == -1) return T(U(0) - U(x));  // avoids the trap of MIN / -1
            }
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
    case KILN_DTYPE_F64: return std::make_unique<PlainBinaryKernel<double>>(v, op);
    case KILN_DTYPE_I64: return std::make_unique<PlainBinaryKernel<int64_t>>(v, op);
    case KILN_DTYPE_I32: return std::make_unique<PlainBinaryKernel<int32_t>>(v, op);
    case KILN_DTYPE_I8: return std::make_unique<PlainBinaryKernel<int8_t>>(v, op);
    case KILN_DTYPE_U8: return std::make_unique<PlainBinaryKernel<uint8_t>>(v, op);
    default: fail(v, std::string("dtype ") + dtype_name(v.input_dtype(0)) + " not supported");
  }
}

// Runs an f32 kernel on f16 tensors: the inputs widen to f32 and the outputs round back to
// f16 (exact for Max, Min and Mod, whose results are inputs or exact remainders).
class HalfAsFloatKernel : public Kernel {
 public:
  HalfAsFloatKernel(const NodeView& v, std::unique_ptr<Kernel> inner) : inner_(std::move(inner)) {
    for (size_t i = 0; i < v.num_inputs(); ++i) in_bufs_.emplace_back(static_cast<size_t>(numel(v.input_shape(i))));
    out_buf_.resize(static_cast<size_t>(numel(v.output_shape(0))));
  }
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    std::vector<kiln_tensor> ins(in, in + n_in);
    for (size_t k = 0; k < n_in && k < in_bufs_.size(); ++k) {
      const auto* h = static_cast<const uint16_t*>(in[k].data);
      for (size_t i = 0; i < in_bufs_[k].size(); ++i) in_bufs_[k][i] = plain::half_to_float(h[i]);
      ins[k].data = in_bufs_[k].data();
      ins[k].dtype = KILN_DTYPE_F32;
    }
    kiln_tensor o = out[0];
    o.data = out_buf_.data();
    o.dtype = KILN_DTYPE_F32;
    inner_->run(ins.data(), n_in, &o, n_out);
    auto* y = static_cast<uint16_t*>(out[0].data);
    for (size_t i = 0; i < out_buf_.size(); ++i) y[i] = plain::encode_small_float(out_buf_[i], 5, 10);
  }

 private:
  std::unique_ptr<Kernel> inner_;
  std::vector<std::vector<float>> in_bufs_;
  std::vector<float> out_buf_;
};

// ---- Mod ----

std::string supports_mod(const NodeView& v) {
  if (!v.has_input(0) || !v.has_input(1)) return "needs two inputs";
  int32_t a = v.input_dtype(0);
  if (v.input_dtype(1) != a || v.output_dtype(0) != a) return "input and output dtypes differ";
  switch (a) {
    case KILN_DTYPE_F32: case KILN_DTYPE_F64: case KILN_DTYPE_F16: case KILN_DTYPE_I64: case KILN_DTYPE_I32:
    case KILN_DTYPE_I8: case KILN_DTYPE_U8: break;
    default: return std::string("dtype ") + dtype_name(a) + " not supported";
  }
  bool floating = a == KILN_DTYPE_F32 || a == KILN_DTYPE_F64 || a == KILN_DTYPE_F16;
  if (floating && v.attr_int("fmod", 0) == 0 && v.opset() < 28)
    return "floating-point Mod needs fmod=1 before opset 28";
  Dims out = v.output_shape(0);
  if (!broadcastable(v.input_shape(0), out) || !broadcastable(v.input_shape(1), out))
    return "input shapes do not broadcast to the output shape";
  return "";
}

// fmod=1: the remainder takes the sign of the dividend (C's fmod and %); fmod=0: the sign of
// the divisor (Python's %; for floats from opset 28, a zero result takes the divisor's sign and
// a finite x over an infinite y of the other sign gives y). Integer division by zero is an error.
template <class T>
class ModKernel : public Kernel {
 public:
  ModKernel(const NodeView& v)
      : fmod_(v.attr_int("fmod", 0) != 0), a_shape_(v.input_shape(0)), b_shape_(v.input_shape(1)),
        out_shape_(v.output_shape(0)), label_(node_label(v)) {}

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const auto* a = static_cast<const T*>(in[0].data);
    const auto* b = static_cast<const T*>(in[1].data);
    auto* y = static_cast<T*>(out[0].data);
    if constexpr (std::is_floating_point_v<T>) {
      if (fmod_) {
        broadcast_apply(a, a_shape_, b, b_shape_, y, out_shape_, [](T x, T z) { return std::fmod(x, z); });
      } else {
        broadcast_apply(a, a_shape_, b, b_shape_, y, out_shape_, [](T x, T z) {
          T r = std::fmod(x, z);  // NaN for x infinite, z zero or a NaN operand
          if (r == 0) return std::copysign(T(0), z);
          return (r < 0) != (z < 0) ? T(r + z) : r;
        });
      }
    } else {
      broadcast_apply(a, a_shape_, b, b_shape_, y, out_shape_, [this](T x, T z) {
        if (z == 0) throw KernelError(KILN_ERR_INVALID_ARGUMENT, label_ + ": integer modulo by zero");
        if constexpr (std::is_signed_v<T>) {
          if (z == -1) return T(0);  // avoids the trap of MIN % -1
        }
        T r = T(x % z);
        if constexpr (std::is_signed_v<T>) {
          if (!fmod_ && r != 0 && ((r < 0) != (z < 0))) r = T(r + z);
        }
        return r;
      });
    }
  }

 private:
  bool fmod_;
  Dims a_shape_, b_shape_, out_shape_;
  std::string label_;
};

std::unique_ptr<Kernel> prepare_mod(const NodeView& v) {
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_F32: return std::make_unique<ModKernel<float>>(v);
    case KILN_DTYPE_F64: return std::make_unique<ModKernel<double>>(v);
    case KILN_DTYPE_F16: return std::make_unique<HalfAsFloatKernel>(v, std::make_unique<ModKernel<float>>(v));
    case KILN_DTYPE_I64: return std::make_unique<ModKernel<int64_t>>(v);
    case KILN_DTYPE_I32: return std::make_unique<ModKernel<int32_t>>(v);
    case KILN_DTYPE_I8: return std::make_unique<ModKernel<int8_t>>(v);
    case KILN_DTYPE_U8: return std::make_unique<ModKernel<uint8_t>>(v);
    default: fail(v, std::string("dtype ") + dtype_name(v.input_dtype(0)) + " not supported");
  }
}

// ---- Max, Min, Sum, Mean ----

enum class VarOp { kMax, kMin, kSum, kMean };

VarOp var_op(std::string_view op) {
  if (op == "Max") return VarOp::kMax;
  if (op == "Min") return VarOp::kMin;
  if (op == "Sum") return VarOp::kSum;
  return VarOp::kMean;
}

std::string supports_variadic(const NodeView& v) {
  if (v.num_inputs() == 0) return "needs at least one input";
  int32_t t = v.input_dtype(0);
  bool floating = t == KILN_DTYPE_F32 || t == KILN_DTYPE_F64;
  bool small_int = t == KILN_DTYPE_I8 || t == KILN_DTYPE_U8;
  // f16 Max/Min run in f32 (exact: each result is one of the inputs).
  bool half = t == KILN_DTYPE_F16 && (var_op(v.op_type()) == VarOp::kMax || var_op(v.op_type()) == VarOp::kMin);
  if (!floating && !small_int && !half && t != KILN_DTYPE_I64 && t != KILN_DTYPE_I32)
    return std::string("dtype ") + dtype_name(t) + " not supported";
  if (var_op(v.op_type()) == VarOp::kMean && !floating) return "Mean needs floating-point inputs";
  if (v.output_dtype(0) != t) return "output dtype differs from the inputs'";
  Dims out = v.output_shape(0);
  for (size_t i = 0; i < v.num_inputs(); ++i) {
    if (!v.has_input(i)) return "input " + std::to_string(i) + " is missing";
    if (v.input_dtype(i) != t) return "input dtypes differ";
    if (!broadcastable(v.input_shape(i), out)) return "input shapes do not broadcast to the output shape";
  }
  return "";
}

// Folds each input into the output in turn; NaN propagates through Max and Min. Integer Sum
// wraps instead of overflowing.
template <class T>
class VariadicKernel : public Kernel {
 public:
  explicit VariadicKernel(const NodeView& v) : op_(var_op(v.op_type())), out_shape_(v.output_shape(0)) {
    for (size_t i = 0; i < v.num_inputs(); ++i) in_shapes_.push_back(v.input_shape(i));
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    auto* y = static_cast<T*>(out[0].data);
    expand_into(static_cast<const T*>(in[0].data), in_shapes_[0], y, out_shape_);
    for (size_t k = 1; k < in_shapes_.size(); ++k) {
      const auto* x = static_cast<const T*>(in[k].data);
      auto apply = [&](auto f) { broadcast_apply(y, out_shape_, x, in_shapes_[k], y, out_shape_, f); };
      switch (op_) {
        case VarOp::kMax: apply([](T a, T b) { return is_nan(a) || a >= b ? a : b; }); break;
        case VarOp::kMin: apply([](T a, T b) { return is_nan(a) || a <= b ? a : b; }); break;
        case VarOp::kSum:
        case VarOp::kMean:
          if constexpr (std::is_floating_point_v<T>) {
            apply([](T a, T b) { return a + b; });
          } else {
            using U = std::make_unsigned_t<T>;
            apply([](T a, T b) { return T(U(a) + U(b)); });
          }
          break;
      }
    }
    if constexpr (std::is_floating_point_v<T>) {
      if (op_ == VarOp::kMean) {
        T n = static_cast<T>(in_shapes_.size());
        int64_t total = numel(out_shape_);
        for (int64_t i = 0; i < total; ++i) y[i] /= n;
      }
    }
  }

 private:
  static bool is_nan(T v) {
    if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
    else return false;
  }
  VarOp op_;
  Dims out_shape_;
  std::vector<Dims> in_shapes_;
};

std::unique_ptr<Kernel> prepare_variadic(const NodeView& v) {
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_F32: return std::make_unique<VariadicKernel<float>>(v);
    case KILN_DTYPE_F64: return std::make_unique<VariadicKernel<double>>(v);
    case KILN_DTYPE_I64: return std::make_unique<VariadicKernel<int64_t>>(v);
    case KILN_DTYPE_I32: return std::make_unique<VariadicKernel<int32_t>>(v);
    case KILN_DTYPE_I8: return std::make_unique<VariadicKernel<int8_t>>(v);
    case KILN_DTYPE_U8: return std::make_unique<VariadicKernel<uint8_t>>(v);
    case KILN_DTYPE_F16: return std::make_unique<HalfAsFloatKernel>(v, std::make_unique<VariadicKernel<float>>(v));
    default: fail(v, std::string("dtype ") + dtype_name(v.input_dtype(0)) + " not supported");
  }
}

}  // namespace

void register_binary_kernels(KernelTable& table) {
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) table.add(op, supports_binary, prepare_binary);
  table.add("Mod", supports_mod, prepare_mod);
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) table.add(op, supports_variadic, prepare_variadic);
}

}  // namespace kiln::cpu
