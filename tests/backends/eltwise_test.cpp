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

// Clip with optional bounds; absent means unbounded.
OpCase clip_ref(OpCase oc, double lo, double hi) {
  return oc.expect([lo, hi](const Refs& in) {
    return Refs{map_unary(in[0], [&](double v) { return std::min(std::max(v, lo), hi); }, in[0].dtype)};
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

std::vector<OpCase> cases() {
  Gen gen(5);
  const double inf = std::numeric_limits<double>::infinity();
  return {
      unary_case("Relu", "Relu", gen.uniform({3, 4}), relu),
      unary_case("ReluRank6", "Relu", gen.uniform({2, 1, 3, 1, 2, 2}), relu),
      unary_case("ReluRank0", "Relu", f32_scalar(-1.5f), relu),
      unary_case("ReluEmpty", "Relu", gen.uniform({0, 3}), relu),
      unary_case("LeakyReluDefaultAlpha", "LeakyRelu", gen.uniform({2, 5}), [](double x) { return x > 0 ? x : 0.01 * x; }),
      unary_case("LeakyReluAlpha", "LeakyRelu", gen.uniform({2, 5}), [](double x) { return x > 0 ? x : 0.2 * x; })
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

}  // namespace kiln::test
