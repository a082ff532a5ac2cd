// Elementwise activations and math: the output has the input's dtype and shape.
#include <cmath>
#include <limits>

#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

void infer_float_unary(InferContext& c) {
  require_floating(c, 0);
  c.set_output(0, c.input_dtype(0), c.input_shape(0));
}

void infer_numeric_unary(InferContext& c) {
  require_numeric(c, 0);
  c.set_output(0, c.input_dtype(0), c.input_shape(0));
}

OpDef float_unary(const char* name, int since) { return OpDef(name).opsets(since).infer(infer_float_unary); }

void infer_gelu(InferContext& c) {
  std::string approximate = c.attr_string("approximate");
  if (approximate != "none" && approximate != "tanh")
    c.fail("approximate is '{}', expected 'none' or 'tanh'", approximate);
  infer_float_unary(c);
}

void infer_clip(InferContext& c) {
  require_numeric(c, 0);
  if (c.opset() < 11) {
    limit_inputs(c, 1);
  } else {
    forbid_attr_since(c, "min", 11, "min is input 1");
    forbid_attr_since(c, "max", 11, "max is input 2");
    static const char* const kNames[] = {"", "min", "max"};
    for (size_t i = 1; i < 3; ++i) {
      if (!c.has_input(i)) continue;
      require_same_dtype(c, 0, i);
      const Shape& s = c.input_shape(i);
      // ONNX asks for scalars; a single-element 1-D tensor is accepted too.
      if (s.has_rank() && !(s.rank() == 0 || (s.rank() == 1 && !(s[0].is_static() && s[0].value() != 1))))
        c.fail("{} must be a scalar, got shape {}", kNames[i], s.to_string());
    }
  }
  c.set_output(0, c.input_dtype(0), c.input_shape(0));
}

void infer_pow(InferContext& c) {
  require_numeric(c, 0);
  require_numeric(c, 1);
  if (c.opset() < 12) require_same_dtype(c, 0, 1);  // opset 12 lets the exponent's type differ
  c.set_output(0, c.input_dtype(0), broadcast_shapes(c, {c.input_shape(0), c.input_shape(1)}));
}

void infer_is_class(InferContext& c) {
  require_floating(c, 0);
  c.set_output(0, DType::kBool, c.input_shape(0));
}

void infer_prelu(InferContext& c) {
  if (c.opset() < 9) require_floating(c, 0);  // opset 9 adds integer types
  require_numeric(c, 0);
  require_same_dtype(c, 0, 1);
  check_unidirectional(c, c.input_shape(1), c.input_shape(0), "slope");
  c.set_output(0, c.input_dtype(0), c.input_shape(0));
}


// ---- Gradients. Most are elementwise: the output gradient times dy/dx, written with x and y.

const Tensor& x_of(const GradContext& g) { return g.input(0); }
const Tensor& y_of(const GradContext& g) { return g.output(0); }
Tensor one(const Tensor& like) { return scalar_like(1, like); }
Tensor zero(const Tensor& like) { return scalar_like(0, like); }
Tensor op(const char* name, const Tensor& x) { return run_op1(name, {x}); }

constexpr double kPi = 3.14159265358979323846;

// Gelu: x * Phi(x) with the normal CDF Phi, or its tanh approximation 0.5 x (1 + tanh(u)),
// u = sqrt(2/pi) (x + 0.044715 x^3).
Tensor gelu_derivative(const GradContext& g) {
  const Tensor& x = x_of(g);
  if (g.attr_string("approximate") == "tanh") {
    const double k = std::sqrt(2 / kPi), c = 0.044715;
    const Tensor t = tanh((x + x * x * x * c) * k);
    return (t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * ((x * x * (3 * c) + 1.0) * k);
  }
  const Tensor cdf = (erf(x / std::sqrt(2.0)) + 1.0) * 0.5;
  return cdf + x * exp(x * x * -0.5) / std::sqrt(2 * kPi);
}

// Mish: x tanh(softplus(x)); d softplus / dx = sigmoid(x).
Tensor mish_derivative(const GradContext& g) {
  const Tensor& x = x_of(g);
  const Tensor t = tanh(op("Softplus", x));
  return t + x * (1.0 - t * t) * sigmoid(x);
}

// Clip is Min(Max(x, lo), hi) where x wins a tie with lo and Max(x, lo) a tie with hi: x gets
// the gradient on [lo, hi], a bound gets it where x lies beyond the bound (hi all of it when
// lo > hi). Before opset 11 the bounds are attributes; from 11 on optional scalar inputs.
void grad_clip(GradContext& g) {
  const Tensor& x = g.input(0);
  const bool bound_inputs = g.opset() >= 11;
  auto bound = [&](size_t i, const char* attr) {
    if (!bound_inputs) return scalar_like(g.attr_float(attr), x);
    return i < g.num_inputs() ? g.input(i) : Tensor();
  };
  const Tensor lo = bound(1, "min"), hi = bound(2, "max"), dy = g.output_grad(0);
  const Tensor a = lo.defined() ? maximum(x, lo) : x;
  const Tensor above = hi.defined() ? greater(a, hi) : Tensor();
  const Tensor da = above.defined() ? where(above, zero(dy), dy) : dy;
  const Tensor below = lo.defined() ? less(x, lo) : Tensor();
  g.set_input_grad(0, below.defined() ? where(below, zero(dy), da) : da);
  if (bound_inputs && g.needs_input_grad(1)) g.set_input_grad(1, sum(where(below, da, zero(dy))).reshape(lo.shape()));
  if (bound_inputs && g.needs_input_grad(2)) g.set_input_grad(2, sum(where(above, dy, zero(dy))).reshape(hi.shape()));
}

// PRelu: y = x where x > 0, else slope * x; the slope broadcasts to x.
void grad_prelu(GradContext& g) {
  const Tensor &x = g.input(0), &slope = g.input(1), dy = g.output_grad(0);
  const Tensor positive = x > 0.0;
  g.set_input_grad(0, where(positive, dy, dy * slope));
  if (g.needs_input_grad(1)) g.set_input_grad(1, sum_to(where(positive, zero(dy), dy * x), slope.shape()));
}

// Pow: d(a^b)/da = b a^(b-1) and d(a^b)/db = a^b log(a), taken as 0 where a = 0 (as PyTorch
// does). From opset 12 the exponent's dtype may differ from the base's.
void grad_pow(GradContext& g) {
  const Tensor &a = g.input(0), &b = g.input(1), dy = g.output_grad(0);
  if (g.needs_input_grad(0)) {
    const Tensor e = cast(b, a.dtype());
    g.set_input_grad(0, sum_to(dy * e * pow(a, e - 1.0), a.shape()));
  }
  if (g.needs_input_grad(1)) {
    const Tensor log_a = log(where(equal(a, zero(a)), one(a), a));
    g.set_input_grad(1, cast(sum_to(dy * g.output(0) * log_a, b.shape()), b.dtype()));
  }
}

Tensor zero_derivative(const GradContext& g) { return zero(x_of(g)); }

}  // namespace

void register_activation_ops(OpRegistry& registry) {
  // Opsets before 6 had a `consumed_inputs` attribute; kiln starts where it was removed.
  registry.add(OpDef("Relu").opsets(6).infer(infer_numeric_unary).grad([](GradContext& g) {
    g.set_input_grad(0, g.output_grad(0) * sign(g.output(0)));  // y >= 0: sign(y) is 1 where y > 0, else 0
  }));
  registry.add(OpDef("LeakyRelu")
                   .opsets(6)
                   .attr("alpha", AttrType::kFloat, float_attr(0.01f))
                   .infer(infer_float_unary)
                   .grad(elementwise_grad([](const GradContext& g) {
                     return where(x_of(g) > 0.0, one(x_of(g)), scalar_like(g.attr_float("alpha"), x_of(g)));
                   })));
  registry.add(float_unary("Sigmoid", 6).grad(elementwise_grad([](const GradContext& g) {
    return y_of(g) * (1.0 - y_of(g));
  })));
  registry.add(float_unary("Tanh", 6).grad(elementwise_grad([](const GradContext& g) {
    return 1.0 - y_of(g) * y_of(g);
  })));
  registry.add(float_unary("Erf", 9).grad(elementwise_grad([](const GradContext& g) {
    return exp(-(x_of(g) * x_of(g))) * (2 / std::sqrt(kPi));
  })));
  registry.add(float_unary("Exp", 6).grad(elementwise_grad(y_of)));
  registry.add(float_unary("Log", 6).grad(elementwise_grad([](const GradContext& g) { return reciprocal(x_of(g)); })));
  registry.add(float_unary("Sqrt", 6).grad(elementwise_grad([](const GradContext& g) { return 0.5 / y_of(g); })));
  registry.add(OpDef("Abs").opsets(6).infer(infer_numeric_unary).grad(elementwise_grad([](const GradContext& g) {
    return sign(x_of(g));
  })));
  registry.add(OpDef("Neg").opsets(6).infer(infer_numeric_unary).grad([](GradContext& g) {
    g.set_input_grad(0, -g.output_grad(0));
  }));
  // ONNX adds Gelu only at opset 20. PyTorch exports it (as a decomposition) at older opsets,
  // and kiln's own traces and fusions emit it, so kiln accepts it at every opset it supports.
  registry.add(OpDef("Gelu")
                   .opsets(1)
                   .attr("approximate", AttrType::kString, string_attr("none"))
                   .infer(infer_gelu)
                   .grad(elementwise_grad(gelu_derivative)));
  // min/max are attributes before opset 11 and optional scalar inputs from 11 on.
  registry.add(OpDef("Clip")
                   .opsets(6)
                   .inputs(1, 3)
                   .attr("min", AttrType::kFloat, float_attr(std::numeric_limits<float>::lowest()))
                   .attr("max", AttrType::kFloat, float_attr(std::numeric_limits<float>::max()))
                   .infer(infer_clip)
                   .grad(grad_clip));
  // Trigonometric and hyperbolic functions, with their derivatives.
  using Derivative = Tensor (*)(const GradContext&);
  const std::pair<const char*, Derivative> trig[] = {
      {"Sin", [](const GradContext& g) { return op("Cos", x_of(g)); }},
      {"Cos", [](const GradContext& g) { return -op("Sin", x_of(g)); }},
      {"Tan", [](const GradContext& g) { return y_of(g) * y_of(g) + 1.0; }},
      {"Asin", [](const GradContext& g) { return 1.0 / sqrt(1.0 - x_of(g) * x_of(g)); }},
      {"Acos", [](const GradContext& g) { return -1.0 / sqrt(1.0 - x_of(g) * x_of(g)); }},
      {"Atan", [](const GradContext& g) { return 1.0 / (x_of(g) * x_of(g) + 1.0); }},
  };
  for (const auto& [name, derivative] : trig) registry.add(float_unary(name, 7).grad(elementwise_grad(derivative)));
  const std::pair<const char*, Derivative> hyperbolic[] = {
      {"Sinh", [](const GradContext& g) { return op("Cosh", x_of(g)); }},
      {"Cosh", [](const GradContext& g) { return op("Sinh", x_of(g)); }},
      {"Asinh", [](const GradContext& g) { return 1.0 / sqrt(x_of(g) * x_of(g) + 1.0); }},
      {"Acosh", [](const GradContext& g) { return 1.0 / sqrt(x_of(g) * x_of(g) - 1.0); }},
      {"Atanh", [](const GradContext& g) { return 1.0 / (1.0 - x_of(g) * x_of(g)); }},
  };
  for (const auto& [name, derivative] : hyperbolic) registry.add(float_unary(name, 9).grad(elementwise_grad(derivative)));
  // Rounding; Ceil-1, Floor-1 and Reciprocal-1 had `consumed_inputs`. Round rounds half to even.
  // Piecewise constant: zero gradient, as in PyTorch.
  registry.add(float_unary("Ceil", 6).grad(elementwise_grad(zero_derivative)));
  registry.add(float_unary("Floor", 6).grad(elementwise_grad(zero_derivative)));
  registry.add(float_unary("Round", 11).grad(elementwise_grad(zero_derivative)));
  registry.add(OpDef("Sign").opsets(9).infer(infer_numeric_unary).grad(elementwise_grad(zero_derivative)));
  registry.add(float_unary("Reciprocal", 6).grad(elementwise_grad([](const GradContext& g) {
    return -(y_of(g) * y_of(g));
  })));
  registry.add(float_unary("Softplus", 1).grad(elementwise_grad([](const GradContext& g) { return sigmoid(x_of(g)); })));
  registry.add(float_unary("Softsign", 1).grad(elementwise_grad([](const GradContext& g) {
    const Tensor d = abs(x_of(g)) + 1.0;  // y = x / (1 + |x|)
    return 1.0 / (d * d);
  })));
  // Activations with attributes (Elu-1, Selu-1, HardSigmoid-1 had `consumed_inputs`).
  // For x <= 0: Elu's y = alpha (e^x - 1), so dy/dx = y + alpha; Selu's likewise times gamma.
  registry.add(OpDef("Elu")
                   .opsets(6)
                   .attr("alpha", AttrType::kFloat, float_attr(1.0f))
                   .infer(infer_float_unary)
                   .grad(elementwise_grad([](const GradContext& g) {
                     return where(x_of(g) > 0.0, one(x_of(g)), y_of(g) + g.attr_float("alpha"));
                   })));
  registry.add(OpDef("Selu")
                   .opsets(6)
                   .attr("alpha", AttrType::kFloat, float_attr(1.67326319217681884765625f))
                   .attr("gamma", AttrType::kFloat, float_attr(1.05070102214813232421875f))
                   .infer(infer_float_unary)
                   .grad(elementwise_grad([](const GradContext& g) {
                     const double gamma = g.attr_float("gamma"), alpha_gamma = g.attr_float("alpha") * gamma;
                     return where(x_of(g) > 0.0, scalar_like(gamma, x_of(g)), y_of(g) + alpha_gamma);
                   })));
  registry.add(OpDef("Celu")
                   .opsets(12)
                   .attr("alpha", AttrType::kFloat, float_attr(1.0f))
                   .infer(infer_float_unary)
                   .grad(elementwise_grad([](const GradContext& g) {  // y = alpha (e^(x/alpha) - 1) for x <= 0
                     return where(x_of(g) > 0.0, one(x_of(g)), exp(x_of(g) / g.attr_float("alpha")));
                   })));
  // y = clamp(alpha x + beta, 0, 1): slope alpha where the output is strictly inside (0, 1).
  registry.add(OpDef("HardSigmoid")
                   .opsets(6)
                   .attr("alpha", AttrType::kFloat, float_attr(0.2f))
                   .attr("beta", AttrType::kFloat, float_attr(0.5f))
                   .infer(infer_float_unary)
                   .grad(elementwise_grad([](const GradContext& g) {
                     const Tensor& y = y_of(g);
                     return mask_like(y > 0.0, y) * mask_like(y < 1.0, y) * g.attr_float("alpha");
                   })));
  // y = x clamp(x/6 + 1/2, 0, 1): 0 below -3, 1 above 3, x/3 + 1/2 between.
  registry.add(float_unary("HardSwish", 14).grad(elementwise_grad([](const GradContext& g) {
    const Tensor& x = x_of(g);
    return where(x < -3.0, zero(x), where(x > 3.0, one(x), x / 3.0 + 0.5));
  })));
  registry.add(OpDef("ThresholdedRelu")
                   .opsets(10)
                   .attr("alpha", AttrType::kFloat, float_attr(1.0f))
                   .infer(infer_float_unary)
                   .grad(elementwise_grad([](const GradContext& g) {
                     return mask_like(x_of(g) > g.attr_float("alpha"), x_of(g));
                   })));
  // Shrink: x + bias below -lambd, x - bias above lambd, 0 between.
  registry.add(OpDef("Shrink")
                   .opsets(9)
                   .attr("bias", AttrType::kFloat, float_attr(0.0f))
                   .attr("lambd", AttrType::kFloat, float_attr(0.5f))
                   .infer(infer_numeric_unary)
                   .grad(elementwise_grad([](const GradContext& g) {
                     const Tensor& x = x_of(g);
                     const double lambd = g.attr_float("lambd");
                     return mask_like(x < -lambd, x) + mask_like(x > lambd, x);
                   })));
  registry.add(float_unary("Mish", 18).grad(elementwise_grad(mish_derivative)));
  // PRelu-6 took a slope of the input's shape or of size 1; opset 7 broadcasts it to the input.
  registry.add(OpDef("PRelu").opsets(7).inputs(2, 2).infer(infer_prelu).grad(grad_prelu));
  // Floating-point classification, to bool.
  registry.add(OpDef("IsNaN").opsets(9).infer(infer_is_class));
  registry.add(OpDef("IsInf")
                   .opsets(10)
                   .attr("detect_negative", AttrType::kInt, int_attr(1))
                   .attr("detect_positive", AttrType::kInt, int_attr(1))
                   .infer(infer_is_class));
  // Pow-1 had broadcast/axis attributes; opset 7 switched to numpy broadcasting.
  registry.add(OpDef("Pow").opsets(7).inputs(2, 2).infer(infer_pow).grad(grad_pow));
}

}  // namespace kiln::ops
