// Elementwise activations and math. f32 Sigmoid, Tanh, Gelu, Sqrt, Abs, Neg, Clip and Pow by a
// known scalar run on oneDNN's eltwise unless the tensor is tiny. Plain C++ runs the functions
// oneDNN lacks or where it hides NaNs (Erf, Relu, LeakyRelu, Exp, Log), integer dtypes, Clip
// with run-time bounds and Pow with a tensor exponent, and also the trigonometric, hyperbolic and
// rounding functions, the activations with attributes (Elu, Selu, Celu, HardSigmoid, Shrink...),
// PRelu with a broadcast slope, and IsNaN/IsInf to bool. Every f64 op runs in plain C++ in
// double (oneDNN 2.6 has no f64 eltwise).

#include <cmath>
#include <limits>
#include <type_traits>

#include "compute_broadcast.h"
#include "dnnl_exec.h"
#include "kernel_families.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

using Alg = dnnl::algorithm;

// Below this many elements, f32 runs in plain C++ rather than through oneDNN.
constexpr int64_t kSmallFloat = 1024;

bool is_int(int32_t dtype) { return dtype == KILN_DTYPE_I64 || dtype == KILN_DTYPE_I32; }

// Inputs and output share one dtype from `allowed`.
std::string same_dtype_in(const NodeView& v, std::initializer_list<int32_t> allowed) {
  int32_t dt = v.input_dtype(0);
  bool ok = false;
  for (int32_t a : allowed) ok = ok || a == dt;
  if (!ok) return std::string("dtype ") + dtype_name(dt) + " not supported";
  for (size_t i = 1; i < v.num_inputs(); ++i)
    if (v.has_input(i) && v.input_dtype(i) != dt) return "input dtypes differ";
  if (v.output_dtype(0) != dt) return "output dtype differs from the input's";
  if (numel(v.output_shape(0)) != numel(v.input_shape(0))) return "output shape differs from the input's";
  return "";
}

SupportsFn float_only() {
  return [](const NodeView& v) { return same_dtype_in(v, {KILN_DTYPE_F32, KILN_DTYPE_F64}); };
}
SupportsFn float_or_int() {
  return [](const NodeView& v) {
    return same_dtype_in(v, {KILN_DTYPE_F32, KILN_DTYPE_F64, KILN_DTYPE_I64, KILN_DTYPE_I32});
  };
}

/// y = f(x) through one oneDNN eltwise primitive over the flattened tensor.
class DnnlEltwiseKernel : public Kernel {
 public:
  DnnlEltwiseKernel(const NodeView& v, Alg alg, float alpha, float beta) : n_(numel(v.output_shape(0))) {
    if (n_ == 0) return;  // oneDNN rejects empty tensors
    auto md = plain_desc({n_}, KILN_DTYPE_F32);
    dnnl::eltwise_forward::primitive_desc pd(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, md, alpha, beta), engine());
    call_.set_primitive(dnnl::eltwise_forward(pd));
    call_.bind(DNNL_ARG_SRC, md);
    call_.bind(DNNL_ARG_DST, md);
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    if (n_ > 0) call_.run({in[0].data, out[0].data});
  }

 private:
  int64_t n_;
  DnnlCall call_;
};

/// y = f(x) in plain C++, parallel over large tensors; y has f's result type (bool for IsNaN).
template <class T, class F>
class MapKernel : public Kernel {
 public:
  MapKernel(const NodeView& v, F f) : n_(numel(v.output_shape(0))), f_(f) {}
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    using R = std::invoke_result_t<F, T>;
    const T* x = static_cast<const T*>(in[0].data);
    R* y = static_cast<R*>(out[0].data);
    // parallel_range runs small tensors inline: even an if(false) OpenMP region costs ~0.3 us.
    plain::parallel_range(n_, n_ * static_cast<int64_t>(sizeof(T)), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = f_(x[i]);
    });
  }

 private:
  int64_t n_;
  F f_;
};

template <class T, class F>
std::unique_ptr<Kernel> make_map(const NodeView& v, F f) {
  return std::make_unique<MapKernel<T, F>>(v, f);
}

/// A function of one element in f32 and f64, made from one captureless generic lambda.
struct FloatFn {
  float (*f32)(float);
  double (*f64)(double);
  template <class L>
  FloatFn(L l) : f32(l), f64(l) {}  // NOLINT: implicit, so tables list plain lambdas
  float operator()(float x) const { return f32(x); }
  double operator()(double x) const { return f64(x); }
};

/// y = f(x) over an f32 or f64 input; f takes either (a generic lambda or a FloatFn).
template <class F>
std::unique_ptr<Kernel> map_float(const NodeView& v, F f) {
  if (v.input_dtype(0) == KILN_DTYPE_F64) return make_map<double>(v, f);
  return make_map<float>(v, f);
}

// Integer Abs, Neg and Relu; negation is computed unsigned so MIN wraps instead of trapping.
template <class T>
std::unique_ptr<Kernel> int_unary(const NodeView& v) {
  using U = std::make_unsigned_t<T>;
  std::string_view op = v.op_type();
  if (op == "Abs") return make_map<T>(v, [](T x) { return x < 0 ? T(U(0) - U(x)) : x; });
  if (op == "Neg") return make_map<T>(v, [](T x) { return T(U(0) - U(x)); });
  if (op == "Relu") return make_map<T>(v, [](T x) { return x < 0 ? T(0) : x; });
  fail(v, std::string("no integer kernel for ") + std::string(op));
}

std::unique_ptr<Kernel> prepare_simple(const NodeView& v) {
  std::string_view op = v.op_type();
  int32_t dt = v.input_dtype(0);
  if (dt == KILN_DTYPE_I64) return int_unary<int64_t>(v);
  if (dt == KILN_DTYPE_I32) return int_unary<int32_t>(v);
  // Plain C++ where oneDNN's version turns NaN into a normal-looking number (relu(NaN) = 0,
  // exp(NaN) = inf) or loses accuracy (log near 1): a NaN must stay visible.
  if (op == "Erf") return map_float(v, [](auto x) { return std::erf(x); });
  if (op == "Relu") return map_float(v, [](auto x) { return x < 0 ? decltype(x)(0) : x; });
  if (op == "LeakyRelu") {
    float alpha = v.attr_float("alpha", 0.01f);
    return map_float(v, [alpha](auto x) { return x < 0 ? decltype(x)(alpha * x) : x; });
  }
  if (op == "Exp") return map_float(v, [](auto x) { return std::exp(x); });
  if (op == "Log") return map_float(v, [](auto x) { return std::log(x); });
  // oneDNN for the rest of f32; f64, and outputs too small to be worth oneDNN's OpenMP region,
  // use the same function in plain C++.
  struct Spec {
    const char* op;
    Alg alg;
    float alpha;
    FloatFn plain;
  };
  static const Spec kSpecs[] = {
      {"Sigmoid", Alg::eltwise_logistic, 0.f, [](auto x) { return 1 / (1 + std::exp(-x)); }},
      {"Tanh", Alg::eltwise_tanh, 0.f, [](auto x) { return std::tanh(x); }},
      {"Sqrt", Alg::eltwise_sqrt, 0.f, [](auto x) { return std::sqrt(x); }},
      {"Abs", Alg::eltwise_abs, 0.f, [](auto x) { return std::fabs(x); }},
      {"Neg", Alg::eltwise_linear, -1.f, [](auto x) { return -x; }},
      {"Gelu", Alg::eltwise_gelu_erf, 0.f,
       [](auto x) {
         using T = decltype(x);
         return T(0.5) * x * (1 + std::erf(x * T(0.70710678118654752440)));
       }},
      {"GeluTanh", Alg::eltwise_gelu_tanh, 0.f,
       [](auto x) {
         using T = decltype(x);
         return T(0.5) * x * (1 + std::tanh(T(0.79788456080286535588) * (x + T(0.044715) * x * x * x)));
       }},
  };
  std::string name(op);
  if (op == "Gelu") {
    std::string approx = v.attr_string("approximate", "none");
    if (approx == "tanh") name = "GeluTanh";
    else if (approx != "none") fail(v, "attribute 'approximate' must be \"none\" or \"tanh\", not \"" + approx + "\"");
  }
  bool plain = numel(v.output_shape(0)) < kSmallFloat || dt == KILN_DTYPE_F64;
  for (const Spec& s : kSpecs) {
    if (name != s.op) continue;
    if (plain) return map_float(v, s.plain);
    return std::make_unique<DnnlEltwiseKernel>(v, s.alg, s.alpha, 0.f);
  }
  fail(v, "no kernel for this op");
}

// A bound converted to T, saturating instead of overflowing (a float bound on an integer tensor).
template <class T>
T saturate(double x) {
  if (std::isnan(x)) return std::is_floating_point_v<T> ? static_cast<T>(x) : T(0);
  if (x <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (x >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(x);
}

// ---- Math and activations in plain C++ ----

// f32 and f64 functions of one element, without attributes.
std::unique_ptr<Kernel> prepare_math(const NodeView& v) {
  struct Spec {
    const char* op;
    FloatFn f;
  };
  static const Spec kSpecs[] = {
      {"Acos", [](auto x) { return std::acos(x); }},
      {"Asin", [](auto x) { return std::asin(x); }},
      {"Atan", [](auto x) { return std::atan(x); }},
      {"Cos", [](auto x) { return std::cos(x); }},
      {"Sin", [](auto x) { return std::sin(x); }},
      {"Tan", [](auto x) { return std::tan(x); }},
      {"Cosh", [](auto x) { return std::cosh(x); }},
      {"Sinh", [](auto x) { return std::sinh(x); }},
      {"Asinh", [](auto x) { return std::asinh(x); }},
      {"Acosh", [](auto x) { return std::acosh(x); }},
      {"Atanh", [](auto x) { return std::atanh(x); }},
      {"Ceil", [](auto x) { return std::ceil(x); }},
      {"Floor", [](auto x) { return std::floor(x); }},
      // nearbyint in the default rounding mode rounds half to even, as ONNX asks.
      {"Round", [](auto x) { return std::nearbyint(x); }},
      {"Reciprocal", [](auto x) { return 1 / x; }},
      // log(1 + e^x) without overflow for large x.
      {"Softplus", [](auto x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }},
      {"Softsign", [](auto x) { return x / (1 + std::fabs(x)); }},
      {"HardSwish",
       [](auto x) {
         using T = decltype(x);
         return x * std::max(T(0), std::min(T(1), x / 6 + T(0.5)));
       }},
      {"Mish",
       [](auto x) {
         auto sp = x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
         return x * std::tanh(sp);
       }},
  };
  std::string_view op = v.op_type();
  for (const Spec& s : kSpecs)
    if (op == s.op) return map_float(v, s.f);
  fail(v, "no kernel for this op");
}

// Sign keeps zeros and NaN as they are.
std::unique_ptr<Kernel> prepare_sign(const NodeView& v) {
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_I64: return make_map<int64_t>(v, [](int64_t x) { return int64_t{(x > 0) - (x < 0)}; });
    case KILN_DTYPE_I32: return make_map<int32_t>(v, [](int32_t x) { return int32_t{(x > 0) - (x < 0)}; });
    default:
      return map_float(v, [](auto x) {
        using T = decltype(x);
        return x > 0 ? T(1) : x < 0 ? T(-1) : x;
      });
  }
}

// f32 and f64 activations with attributes (ONNX defaults); the float attributes enter f64
// math as the exact values they hold.
std::unique_ptr<Kernel> prepare_activation(const NodeView& v) {
  std::string_view op = v.op_type();
  if (op == "Elu") {
    float alpha = v.attr_float("alpha", 1.f);
    return map_float(v, [alpha](auto x) { return x < 0 ? decltype(x)(alpha * std::expm1(x)) : x; });
  }
  if (op == "Selu") {
    float alpha = v.attr_float("alpha", 1.67326319217681884765625f);
    float gamma = v.attr_float("gamma", 1.05070102214813232421875f);
    return map_float(v, [alpha, gamma](auto x) {
      using T = decltype(x);
      return x > 0 ? T(gamma * x) : T(T(gamma) * alpha * std::expm1(x));
    });
  }
  if (op == "Celu") {
    float alpha = v.attr_float("alpha", 1.f);
    return map_float(v, [alpha](auto x) { return x > 0 ? x : decltype(x)(alpha * std::expm1(x / alpha)); });
  }
  if (op == "HardSigmoid") {
    float alpha = v.attr_float("alpha", 0.2f), beta = v.attr_float("beta", 0.5f);
    return map_float(v, [alpha, beta](auto x) {
      using T = decltype(x);
      return std::max(T(0), std::min(T(1), T(alpha * x + beta)));
    });
  }
  if (op == "ThresholdedRelu") {
    float alpha = v.attr_float("alpha", 1.f);
    return map_float(v, [alpha](auto x) { return x > alpha ? x : decltype(x)(0); });
  }
  fail(v, "no kernel for this op");
}

// Shrink: x + bias below -lambd, x - bias above lambd, 0 between; integers compute in double.
template <class T>
std::unique_ptr<Kernel> prepare_shrink_typed(const NodeView& v) {
  double bias = v.attr_float("bias", 0.f), lambd = v.attr_float("lambd", 0.5f);
  return make_map<T>(v, [bias, lambd](T x) {
    double d = static_cast<double>(x);
    double y = d < -lambd ? d + bias : d > lambd ? d - bias : 0.0;
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(y);
    else return saturate<T>(y);
  });
}

std::unique_ptr<Kernel> prepare_shrink(const NodeView& v) {
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_I64: return prepare_shrink_typed<int64_t>(v);
    case KILN_DTYPE_I32: return prepare_shrink_typed<int32_t>(v);
    case KILN_DTYPE_F64: return prepare_shrink_typed<double>(v);
    default: return prepare_shrink_typed<float>(v);
  }
}

std::string supports_is_class(const NodeView& v) {
  if (v.input_dtype(0) != KILN_DTYPE_F32 && v.input_dtype(0) != KILN_DTYPE_F64)
    return std::string("dtype ") + dtype_name(v.input_dtype(0)) + " not supported";
  if (v.output_dtype(0) != KILN_DTYPE_BOOL) return "output dtype is not bool";
  if (numel(v.output_shape(0)) != numel(v.input_shape(0))) return "output shape differs from the input's";
  return "";
}

std::unique_ptr<Kernel> prepare_is_class(const NodeView& v) {
  if (v.op_type() == "IsNaN") return map_float(v, [](auto x) { return std::isnan(x); });
  bool neg = v.attr_int("detect_negative", 1) != 0, pos = v.attr_int("detect_positive", 1) != 0;
  return map_float(v, [neg, pos](auto x) { return std::isinf(x) && (x > 0 ? pos : neg); });
}

// PRelu: y = x < 0 ? slope * x : x, slope broadcast to x.
std::string supports_prelu(const NodeView& v) {
  std::string why = same_dtype_in(v, {KILN_DTYPE_F32, KILN_DTYPE_F64, KILN_DTYPE_I64, KILN_DTYPE_I32});
  if (!why.empty()) return why;
  if (!broadcastable(v.input_shape(1), v.output_shape(0))) return "slope does not broadcast to the input";
  return "";
}

template <class T>
class PReluKernel : public Kernel {
 public:
  explicit PReluKernel(const NodeView& v) : x_shape_(v.input_shape(0)), slope_shape_(v.input_shape(1)), out_shape_(v.output_shape(0)) {}
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const T* x = static_cast<const T*>(in[0].data);
    const T* slope = static_cast<const T*>(in[1].data);
    T* y = static_cast<T*>(out[0].data);
    if (numel(slope_shape_) == numel(out_shape_)) {  // same shape: no broadcasting
      int64_t n = numel(out_shape_);
      plain::parallel_range(n, n * static_cast<int64_t>(sizeof(T)), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = x[i] < T(0) ? T(slope[i] * x[i]) : x[i];
      });
      return;
    }
    broadcast_apply(x, x_shape_, slope, slope_shape_, y, out_shape_,
                    [](T a, T s) { return a < T(0) ? T(s * a) : a; });
  }

 private:
  Dims x_shape_, slope_shape_, out_shape_;
};

std::unique_ptr<Kernel> prepare_prelu(const NodeView& v) {
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_I64: return std::make_unique<PReluKernel<int64_t>>(v);
    case KILN_DTYPE_I32: return std::make_unique<PReluKernel<int32_t>>(v);
    case KILN_DTYPE_F64: return std::make_unique<PReluKernel<double>>(v);
    default: return std::make_unique<PReluKernel<float>>(v);
  }
}

// ---- Clip ----

bool present(const kiln_tensor* in, size_t n_in, size_t i) {
  return i < n_in && in[i].dtype != KILN_DTYPE_UNDEFINED && in[i].data;
}

// Clip in plain C++: integers, min > max, and bounds known only at run time (inputs 1 and 2,
// which live in host memory on this backend).
template <class T>
class RuntimeClipKernel : public Kernel {
 public:
  RuntimeClipKernel(const NodeView& v, T lo, T hi) : n_(numel(v.output_shape(0))), lo_(lo), hi_(hi) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t) override {
    T lo = present(in, n_in, 1) ? *static_cast<const T*>(in[1].data) : lo_;
    T hi = present(in, n_in, 2) ? *static_cast<const T*>(in[2].data) : hi_;
    const T* x = static_cast<const T*>(in[0].data);
    T* y = static_cast<T*>(out[0].data);
    // numpy order: a min above the max yields the max everywhere.
    plain::parallel_range(n_, n_ * static_cast<int64_t>(sizeof(T)), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = std::min(std::max(x[i], lo), hi);
    });
  }

 private:
  int64_t n_;
  T lo_, hi_;
};

std::string supports_clip(const NodeView& v) {
  std::string why = same_dtype_in(v, {KILN_DTYPE_F32, KILN_DTYPE_F64, KILN_DTYPE_I64, KILN_DTYPE_I32});
  if (!why.empty()) return why;
  for (size_t i = 1; i < 3; ++i)
    if (v.has_input(i) && numel(v.input_shape(i)) != 1) return "min and max must be scalars";
  return "";
}

template <class T>
std::unique_ptr<Kernel> prepare_clip_typed(const NodeView& v) {
  T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  bool known = true;
  if (v.opset() < 11) {
    if (v.attr("min")) lo = saturate<T>(v.attr_float("min", 0.f));
    if (v.attr("max")) hi = saturate<T>(v.attr_float("max", 0.f));
  } else {
    if (v.has_input(1)) {
      if (v.input_value(1)) lo = saturate<T>(v.input_scalar(1));
      else known = false;
    }
    if (v.has_input(2)) {
      if (v.input_value(2)) hi = saturate<T>(v.input_scalar(2));
      else known = false;
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    if (known && lo <= hi && numel(v.output_shape(0)) >= kSmallFloat)
      return std::make_unique<DnnlEltwiseKernel>(v, Alg::eltwise_clip, lo, hi);
  }
  // Bounds not known now are read from the inputs at run time.
  return std::make_unique<RuntimeClipKernel<T>>(v, lo, hi);
}

std::unique_ptr<Kernel> prepare_clip(const NodeView& v) {
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_I64: return prepare_clip_typed<int64_t>(v);
    case KILN_DTYPE_I32: return prepare_clip_typed<int32_t>(v);
    case KILN_DTYPE_F64: return prepare_clip_typed<double>(v);
    default: return prepare_clip_typed<float>(v);
  }
}

// ---- Pow ----

std::string supports_pow(const NodeView& v) {
  int32_t b = v.input_dtype(0), e = v.input_dtype(1);
  if (b != KILN_DTYPE_F32 && b != KILN_DTYPE_F64 && !is_int(b)) return std::string("base dtype ") + dtype_name(b) + " not supported";
  if (e != KILN_DTYPE_F32 && e != KILN_DTYPE_F64 && !is_int(e))
    return std::string("exponent dtype ") + dtype_name(e) + " not supported";
  if (v.output_dtype(0) != b) return "output dtype differs from the base's";
  Dims out = v.output_shape(0);
  if (!broadcastable(v.input_shape(0), out) || !broadcastable(v.input_shape(1), out))
    return "input shapes do not broadcast to the output shape";
  return "";
}

// Pow with a tensor exponent of any numeric dtype, broadcast both ways; computed in double
// and converted to the base dtype.
template <class T>
class PowKernel : public Kernel {
 public:
  explicit PowKernel(const NodeView& v)
      : base_shape_(v.input_shape(0)), exp_shape_(v.input_shape(1)), out_shape_(v.output_shape(0)),
        exp_dtype_(v.input_dtype(1)) {}
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const T* x = static_cast<const T*>(in[0].data);
    T* y = static_cast<T*>(out[0].data);
    auto go = [&](auto* e) {
      broadcast_apply(x, base_shape_, e, exp_shape_, y, out_shape_, [](T a, auto b) {
        if constexpr (std::is_floating_point_v<T>) return static_cast<T>(std::pow(a, static_cast<T>(b)));
        else return saturate<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
      });
    };
    switch (exp_dtype_) {
      case KILN_DTYPE_F32: go(static_cast<const float*>(in[1].data)); break;
      case KILN_DTYPE_F64: go(static_cast<const double*>(in[1].data)); break;
      case KILN_DTYPE_I64: go(static_cast<const int64_t*>(in[1].data)); break;
      default: go(static_cast<const int32_t*>(in[1].data)); break;
    }
  }

 private:
  Dims base_shape_, exp_shape_, out_shape_;
  int32_t exp_dtype_;
};

std::unique_ptr<Kernel> prepare_pow(const NodeView& v) {
  int32_t b = v.input_dtype(0);
  if (b == KILN_DTYPE_I64) return std::make_unique<PowKernel<int64_t>>(v);
  if (b == KILN_DTYPE_I32) return std::make_unique<PowKernel<int32_t>>(v);
  if (b == KILN_DTYPE_F64) return std::make_unique<PowKernel<double>>(v);
  // A known scalar exponent on a base the output already has the shape of: oneDNN pow.
  if (v.input_value(1) && numel(v.input_shape(1)) == 1 && v.input_shape(1).size() <= v.output_shape(0).size() &&
      numel(v.output_shape(0)) >= kSmallFloat &&
      numel(v.input_shape(0)) == numel(v.output_shape(0))) {
    float e = static_cast<float>(v.input_scalar(1));
    if (e == 2.f) return std::make_unique<DnnlEltwiseKernel>(v, Alg::eltwise_square, 0.f, 0.f);
    if (e == 1.f) return std::make_unique<DnnlEltwiseKernel>(v, Alg::eltwise_linear, 1.f, 0.f);
    if (e == 0.5f) return std::make_unique<DnnlEltwiseKernel>(v, Alg::eltwise_sqrt, 0.f, 0.f);
    return std::make_unique<DnnlEltwiseKernel>(v, Alg::eltwise_pow, 1.f, e);
  }
  return std::make_unique<PowKernel<float>>(v);
}

}  // namespace

void register_eltwise_kernels(KernelTable& table) {
  for (const char* op : {"Sigmoid", "Tanh", "Erf", "Gelu", "Exp", "Log", "Sqrt", "LeakyRelu"})
    table.add(op, float_only(), prepare_simple);
  for (const char* op : {"Relu", "Abs", "Neg"}) table.add(op, float_or_int(), prepare_simple);
  for (const char* op : {"Acos", "Asin", "Atan", "Cos", "Sin", "Tan", "Cosh", "Sinh", "Asinh", "Acosh", "Atanh",
                         "Ceil", "Floor", "Round", "Reciprocal", "Softplus", "Softsign", "HardSwish", "Mish"})
    table.add(op, float_only(), prepare_math);
  for (const char* op : {"Elu", "Selu", "Celu", "HardSigmoid", "ThresholdedRelu"})
    table.add(op, float_only(), prepare_activation);
  table.add("Sign", float_or_int(), prepare_sign);
  table.add("Shrink", float_or_int(), prepare_shrink);
  table.add("IsNaN", supports_is_class, prepare_is_class);
  table.add("IsInf", supports_is_class, prepare_is_class);
  table.add("PRelu", supports_prelu, prepare_prelu);
  table.add("Clip", supports_clip, prepare_clip);
  table.add("Pow", supports_pow, prepare_pow);
}

}  // namespace kiln::cpu
