// Unary elementwise cases: activations and math, Clip and Pow.

#include <cmath>
#include <limits>

#include "op_case.h"

namespace kiln::test {
namespace {

constexpr double kPi = 3.14159265358979323846;

OpCase unary_case(const std::string& name, const std::string& op, const Tensor& x, std::function<double(double)> f) {
  return OpCase(name, op).input(x).expect([f, dtype = x.dtype()](const Refs& in) {
    return Refs{map_unary(in[0], f, dtype)};
  });
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / kPi) * (x + 0.044715 * x * x * x))); }
double relu(double x) { return x > 0 ? x : 0.0; }

// Clip with optional bounds; absent means unbounded. Bounds given as inputs are read from them.
OpCase clip_ref(OpCase oc, double lo, double hi) {
  return oc.expect([lo, hi](const Refs& in) {
    const double min = in.size() > 1 && in[1].present ? in[1].v[0] : lo;
    const double max = in.size() > 2 && in[2].present ? in[2].v[0] : hi;
    return Refs{map_unary(in[0], [&](double v) { return std::min(std::max(v, min), max); }, in[0].dtype)};
  });
}

OpCase pow_case(const std::string& name, const Tensor& base, const Tensor& exponent, bool constant_exponent) {
  OpCase oc(name, "Pow");
  oc.input(base);
  if (constant_exponent) oc.constant(exponent); else oc.input(exponent);
  return oc.expect([](const Refs& in) {
    return Refs{map_binary(in[0], in[1], [](double b, double e) { return std::pow(b, e); }, in[0].dtype)};
  });
}

double softplus(double x) { return std::log1p(std::exp(x)); }
double elu(double x, double alpha) { return x < 0 ? alpha * (std::exp(x) - 1.0) : x; }
double selu(double x, double alpha, double gamma) { return x > 0 ? gamma * x : gamma * (alpha * std::exp(x) - alpha); }
double celu(double x, double alpha) { return std::max(0.0, x) + std::min(0.0, alpha * (std::exp(x / alpha) - 1.0)); }
double hard_sigmoid(double x, double alpha, double beta) { return std::max(0.0, std::min(1.0, alpha * x + beta)); }
double shrink(double x, double bias, double lambd) { return x < -lambd ? x + bias : x > lambd ? x - bias : 0.0; }
// Round half to even, from the spec: the nearest integer, ties to the even one.
double round_half_even(double x) {
  double f = std::floor(x), d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1.0;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

// A unary op whose output is bool (IsNaN, IsInf); f gives 0 or 1.
OpCase bool_case(const std::string& name, const std::string& op, const Tensor& x, std::function<double(double)> f) {
  return OpCase(name, op).input(x).expect([f](const Refs& in) { return Refs{map_unary(in[0], f, DType::kBool)}; });
}

OpCase prelu_case(const std::string& name, const Tensor& x, const Tensor& slope) {
  return OpCase(name, "PRelu").input(x).input(slope).expect([](const Refs& in) {
    Ref y = map_broadcast({in[0], in[1]}, [](const std::vector<double>& a) { return a[0] < 0 ? a[1] * a[0] : a[0]; },
                          in[0].dtype);
    return Refs{y};
  });
}

// Math functions and activations added with the ONNX node-test coverage work.
std::vector<OpCase> math_cases() {
  Gen gen(11);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const double selu_alpha = 1.67326319217681884765625, selu_gamma = 1.05070102214813232421875;
  return {
      unary_case("Acos", "Acos", gen.uniform({3, 4}, -1.0, 1.0), [](double x) { return std::acos(x); }),
      unary_case("Asin", "Asin", gen.uniform({3, 4}, -1.0, 1.0), [](double x) { return std::asin(x); }),
      unary_case("AsinOutOfDomainIsNan", "Asin", f32({2}, {2.0f, -1.5f}), [](double x) { return std::asin(x); }),
      unary_case("Atan", "Atan", gen.uniform({3, 4}, -5.0, 5.0), [](double x) { return std::atan(x); }),
      unary_case("Cos", "Cos", gen.uniform({3, 4}, -6.0, 6.0), [](double x) { return std::cos(x); }),
      unary_case("Sin", "Sin", gen.uniform({3, 4}, -6.0, 6.0), [](double x) { return std::sin(x); }),
      unary_case("Tan", "Tan", gen.uniform({3, 4}, -1.2, 1.2), [](double x) { return std::tan(x); }),
      unary_case("Cosh", "Cosh", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return std::cosh(x); }),
      unary_case("Sinh", "Sinh", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return std::sinh(x); }),
      unary_case("Asinh", "Asinh", gen.uniform({3, 4}, -5.0, 5.0), [](double x) { return std::asinh(x); }),
      unary_case("Acosh", "Acosh", gen.uniform({3, 4}, 1.0, 6.0), [](double x) { return std::acosh(x); }),
      unary_case("Atanh", "Atanh", gen.uniform({3, 4}, -0.95, 0.95), [](double x) { return std::atanh(x); }),
      unary_case("Ceil", "Ceil", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return std::ceil(x); }),
      unary_case("Floor", "Floor", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return std::floor(x); }),
      unary_case("FloorOpset6", "Floor", f32({4}, {-1.5f, -0.0f, 0.25f, 2.0f}), [](double x) { return std::floor(x); })
          .at_opset(6),
      unary_case("RoundHalfToEven", "Round",
                 f32({10}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.4f, -0.6f, 2.51f, 3.0f}), round_half_even)
          .at_opset(11),
      unary_case("Round", "Round", gen.uniform({3, 4}, -4.0, 4.0), round_half_even),
      unary_case("Sign", "Sign", f32({5}, {-2.5f, 0.0f, 3.0f, -0.001f, nan}),
                 [](double x) { return std::isnan(x) ? x : x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }),
      unary_case("SignI64", "Sign", i64({4}, {-7, 0, 5, std::numeric_limits<int64_t>::min()}),
                 [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }),
      unary_case("Reciprocal", "Reciprocal", gen.uniform({3, 4}, 0.5, 4.0), [](double x) { return 1.0 / x; }),
      unary_case("ReciprocalZero", "Reciprocal", f32({2}, {0.0f, -0.0f}), [](double x) { return 1.0 / x; }),
      unary_case("Softplus", "Softplus", gen.uniform({3, 4}, -10.0, 10.0), softplus),
      unary_case("SoftplusLarge", "Softplus", f32({3}, {100.0f, -100.0f, 0.0f}), softplus),
      unary_case("Softsign", "Softsign", gen.uniform({3, 4}, -5.0, 5.0), [](double x) { return x / (1.0 + std::fabs(x)); }),
      // Activations with attributes: defaults, then set.
      unary_case("EluDefault", "Elu", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return elu(x, 1.0); }),
      unary_case("EluAlpha", "Elu", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return elu(x, 2.0); })
          .attr("alpha", 2.0f),
      unary_case("SeluDefault", "Selu", gen.uniform({3, 4}, -3.0, 3.0),
                 [=](double x) { return selu(x, selu_alpha, selu_gamma); }),
      unary_case("SeluAttrs", "Selu", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return selu(x, 2.0, 3.0); })
          .attr("alpha", 2.0f)
          .attr("gamma", 3.0f),
      unary_case("CeluDefault", "Celu", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return celu(x, 1.0); }),
      unary_case("CeluAlpha", "Celu", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return celu(x, 2.0); })
          .attr("alpha", 2.0f),
      unary_case("HardSigmoidDefault", "HardSigmoid", gen.uniform({3, 4}, -5.0, 5.0),
                 [](double x) { return hard_sigmoid(x, double{0.2f}, 0.5); }),
      unary_case("HardSigmoidAttrs", "HardSigmoid", gen.uniform({3, 4}, -5.0, 5.0),
                 [](double x) { return hard_sigmoid(x, 0.5, 0.6); })
          .attr("alpha", 0.5f)
          .attr("beta", 0.6f),
      unary_case("HardSwish", "HardSwish", gen.uniform({3, 4}, -5.0, 5.0),
                 [](double x) { return x * hard_sigmoid(x, 1.0 / 6.0, 0.5); }),
      unary_case("ThresholdedReluDefault", "ThresholdedRelu", gen.uniform({3, 4}, -3.0, 3.0),
                 [](double x) { return x > 1.0 ? x : 0.0; }),
      unary_case("ThresholdedReluAlpha", "ThresholdedRelu", gen.uniform({3, 4}, -3.0, 3.0),
                 [](double x) { return x > 0.5 ? x : 0.0; })
          .attr("alpha", 0.5f),
      unary_case("ShrinkDefault", "Shrink", gen.uniform({3, 4}, -2.0, 2.0), [](double x) { return shrink(x, 0.0, 0.5); }),
      unary_case("ShrinkAttrs", "Shrink", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return shrink(x, 1.5, 1.5); })
          .attr("bias", 1.5f)
          .attr("lambd", 1.5f),
      unary_case("ShrinkI64", "Shrink", i64({5}, {-4, -1, 0, 2, 6}), [](double x) { return shrink(x, 1.0, 1.5); })
          .attr("bias", 1.0f)
          .attr("lambd", 1.5f),
      unary_case("Mish", "Mish", gen.uniform({3, 4}, -6.0, 6.0), [](double x) { return x * std::tanh(softplus(x)); })
          .at_opset(18),
      // PRelu: the slope broadcasts to the input (unidirectionally).
      prelu_case("PReluSameShape", gen.uniform({3, 4}), gen.uniform({3, 4}, 0.0, 1.0)),
      prelu_case("PReluChannelSlope", gen.uniform({2, 3, 2, 2}), gen.uniform({3, 1, 1}, 0.0, 1.0)),
      prelu_case("PReluScalarSlope", gen.uniform({2, 5}), f32({1}, {0.25f})),
      prelu_case("PReluI64", i64({2, 3}, {-4, 5, -1, 0, -8, 3}), i64({3}, {2, 3, 0})),
      prelu_case("PReluOpset7", gen.uniform({3, 4}), gen.uniform({4}, 0.0, 1.0)).at_opset(7),
      // Classification to bool.
      bool_case("IsNaN", "IsNaN", f32({5}, {1.0f, nan, -inf, inf, -nan}), [](double x) { return std::isnan(x) ? 1.0 : 0.0; }),
      bool_case("IsInf", "IsInf", f32({5}, {1.0f, nan, -inf, inf, 0.0f}), [](double x) { return std::isinf(x) ? 1.0 : 0.0; }),
      bool_case("IsInfNegativeOnly", "IsInf", f32({5}, {1.0f, nan, -inf, inf, 0.0f}),
                 [](double x) { return std::isinf(x) && x < 0 ? 1.0 : 0.0; })
          .attr("detect_positive", 0),
      bool_case("IsInfPositiveOnly", "IsInf", f32({5}, {1.0f, nan, -inf, inf, 0.0f}),
                 [](double x) { return std::isinf(x) && x > 0 ? 1.0 : 0.0; })
          .attr("detect_negative", 0)
          .at_opset(10),
  };
}

std::vector<OpCase> cases() {
  Gen gen(5);
  const double inf = std::numeric_limits<double>::infinity();
  return {
      unary_case("Relu", "Relu", gen.uniform({3, 4}), relu),
      unary_case("ReluRank6", "Relu", gen.uniform({2, 1, 3, 1, 2, 2}), relu),
      unary_case("ReluRank0", "Relu", f32_scalar(-1.5f), relu),
      unary_case("ReluEmpty", "Relu", gen.uniform({0, 3}), relu),
      unary_case("LeakyReluDefaultAlpha", "LeakyRelu", gen.uniform({2, 5}), [](double x) { return x > 0 ? x : double{0.01f} * x; }),
      unary_case("LeakyReluAlpha", "LeakyRelu", gen.uniform({2, 5}), [](double x) { return x > 0 ? x : double{0.2f} * x; })
          .attr("alpha", 0.2f)
          .tolerance(1e-4, 1e-6),
      unary_case("Sigmoid", "Sigmoid", gen.uniform({3, 4}, -6.0, 6.0), sigmoid),
      unary_case("Tanh", "Tanh", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return std::tanh(x); }),
      unary_case("Erf", "Erf", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return std::erf(x); }),
      unary_case("Gelu", "Gelu", gen.uniform({3, 4}, -4.0, 4.0), gelu),
      unary_case("GeluTanh", "Gelu", gen.uniform({3, 4}, -4.0, 4.0), gelu_tanh).attr("approximate", "tanh"),
      unary_case("Exp", "Exp", gen.uniform({3, 4}, -3.0, 3.0), [](double x) { return std::exp(x); }),
      unary_case("Log", "Log", gen.uniform({3, 4}, 0.05, 5.0), [](double x) { return std::log(x); }),
      unary_case("Sqrt", "Sqrt", gen.uniform({3, 4}, 0.0, 4.0), [](double x) { return std::sqrt(x); }),
      unary_case("SqrtNegativeIsNan", "Sqrt", f32({3}, {-1.0f, 0.0f, 4.0f}), [](double x) { return std::sqrt(x); }),
      unary_case("LogZeroIsMinusInf", "Log", f32({3}, {0.0f, 1.0f, -1.0f}), [](double x) { return std::log(x); }),
      unary_case("Abs", "Abs", gen.uniform({2, 3, 4}), [](double x) { return std::fabs(x); }),
      unary_case("AbsRank0", "Abs", f32_scalar(-2.25f), [](double x) { return std::fabs(x); }),
      unary_case("Neg", "Neg", gen.uniform({5}), [](double x) { return -x; }),
      unary_case("NegEmpty", "Neg", gen.uniform({2, 0, 3}), [](double x) { return -x; }),
      unary_case("NegI64", "Neg", i64({4}, {3, -7, 0, 9}), [](double x) { return -x; }),
      // Clip: attributes before opset 11, optional scalar inputs from 11 on.
      clip_ref(OpCase("ClipAttrsOpset6", "Clip").at_opset(6).input(gen.uniform({3, 4})).attr("min", -0.5f).attr("max", 0.25f),
               -0.5, 0.25),
      clip_ref(OpCase("ClipAttrMaxOnlyOpset6", "Clip").at_opset(6).input(gen.uniform({3, 4})).attr("max", 0.0f), -inf, 0.0),
      clip_ref(OpCase("ClipInputsOpset13", "Clip").at_opset(13).input(gen.uniform({3, 4})).input(f32_scalar(-0.25f))
                   .input(f32_scalar(0.5f)),
               -0.25, 0.5),
      clip_ref(OpCase("ClipConstantInputsOpset11", "Clip").at_opset(11).input(gen.uniform({2, 6}))
                   .constant(f32_scalar(-0.75f)).constant(f32_scalar(0.0f)),
               -0.75, 0.0),
      clip_ref(OpCase("ClipMissingMin", "Clip").at_opset(13).input(gen.uniform({3, 4})).absent().input(f32_scalar(0.3f)),
               -inf, 0.3),
      clip_ref(OpCase("ClipMinOnly", "Clip").at_opset(13).input(gen.uniform({3, 4})).input(f32_scalar(-0.1f)), -0.1, inf),
      clip_ref(OpCase("ClipNoBounds", "Clip").at_opset(13).input(gen.uniform({3, 4})), -inf, inf),
      clip_ref(OpCase("ClipI64", "Clip").at_opset(13).input(i64({6}, {-9, -2, 0, 3, 5, 12})).input(i64_scalar(-3))
                   .input(i64_scalar(4)),
               -3, 4),
      // Pow.
      pow_case("PowScalarExponent", gen.uniform({3, 4}, 0.1, 3.0), f32_scalar(2.5f), false),
      pow_case("PowSquareNegativeBase", gen.uniform({3, 4}, -2.0, 2.0), f32_scalar(2.0f), true),
      pow_case("PowCubeNegativeBase", gen.uniform({2, 5}, -2.0, 2.0), f32_scalar(3.0f), true),
      pow_case("PowSqrtExponent", gen.uniform({4}, 0.0, 4.0), f32({1}, {0.5f}), true),
      pow_case("PowTensorExponent", gen.uniform({2, 3}, 0.5, 2.0), gen.uniform({3}, -1.0, 2.0), false),
      pow_case("PowI64Exponent", gen.uniform({2, 3}, -2.0, 2.0), i64({3}, {0, 2, 3}), false),
      pow_case("PowBroadcastBase", gen.uniform({3, 1}, 0.5, 2.0), gen.uniform({2, 1, 4}, -2.0, 2.0), false),
  };
}

}  // namespace

KILN_OP_CASES(Eltwise, cases());
KILN_OP_CASES(EltwiseMath, math_cases());

}  // namespace kiln::test
