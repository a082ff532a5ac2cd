// Elementwise activations and math: the output has the input's dtype and shape.
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

}  // namespace

void register_activation_ops(OpRegistry& registry) {
  // Opsets before 6 had a `consumed_inputs` attribute; kiln starts where it was removed.
  registry.add(OpDef("Relu").opsets(6).infer(infer_numeric_unary).grad([](GradContext& g) {
    g.set_input_grad(0, g.output_grad(0) * cast(g.output(0) > 0.0, g.output(0).dtype()));
  }));
  registry.add(OpDef("LeakyRelu")
                   .opsets(6)
                   .attr("alpha", AttrType::kFloat, float_attr(0.01f))
                   .infer(infer_float_unary));
  registry.add(float_unary("Sigmoid", 6));
  registry.add(float_unary("Tanh", 6));
  registry.add(float_unary("Erf", 9));
  registry.add(float_unary("Exp", 6));
  registry.add(float_unary("Log", 6));
  registry.add(float_unary("Sqrt", 6));
  registry.add(OpDef("Abs").opsets(6).infer(infer_numeric_unary));
  registry.add(OpDef("Neg").opsets(6).infer(infer_numeric_unary).grad([](GradContext& g) {
    g.set_input_grad(0, -g.output_grad(0));
  }));
  // ONNX adds Gelu only at opset 20. PyTorch exports it (as a decomposition) at older opsets,
  // and kiln's own traces and fusions emit it, so kiln accepts it at every opset it supports.
  registry.add(
      OpDef("Gelu").opsets(1).attr("approximate", AttrType::kString, string_attr("none")).infer(infer_gelu));
  // min/max are attributes before opset 11 and optional scalar inputs from 11 on.
  registry.add(OpDef("Clip")
                   .opsets(6)
                   .inputs(1, 3)
                   .attr("min", AttrType::kFloat, float_attr(std::numeric_limits<float>::lowest()))
                   .attr("max", AttrType::kFloat, float_attr(std::numeric_limits<float>::max()))
                   .infer(infer_clip));
  // Trigonometric and hyperbolic functions.
  for (const char* name : {"Acos", "Asin", "Atan", "Cos", "Sin", "Tan"}) registry.add(float_unary(name, 7));
  for (const char* name : {"Cosh", "Sinh", "Asinh", "Acosh", "Atanh"}) registry.add(float_unary(name, 9));
  // Rounding; Ceil-1, Floor-1 and Reciprocal-1 had `consumed_inputs`. Round rounds half to even.
  registry.add(float_unary("Ceil", 6));
  registry.add(float_unary("Floor", 6));
  registry.add(float_unary("Round", 11));
  registry.add(OpDef("Sign").opsets(9).infer(infer_numeric_unary));
  registry.add(float_unary("Reciprocal", 6));
  registry.add(float_unary("Softplus", 1));
  registry.add(float_unary("Softsign", 1));
  // Activations with attributes (Elu-1, Selu-1, HardSigmoid-1 had `consumed_inputs`).
  registry.add(OpDef("Elu").opsets(6).attr("alpha", AttrType::kFloat, float_attr(1.0f)).infer(infer_float_unary));
  registry.add(OpDef("Selu")
                   .opsets(6)
                   .attr("alpha", AttrType::kFloat, float_attr(1.67326319217681884765625f))
                   .attr("gamma", AttrType::kFloat, float_attr(1.05070102214813232421875f))
                   .infer(infer_float_unary));
  registry.add(OpDef("Celu").opsets(12).attr("alpha", AttrType::kFloat, float_attr(1.0f)).infer(infer_float_unary));
  registry.add(OpDef("HardSigmoid")
                   .opsets(6)
                   .attr("alpha", AttrType::kFloat, float_attr(0.2f))
                   .attr("beta", AttrType::kFloat, float_attr(0.5f))
                   .infer(infer_float_unary));
  registry.add(float_unary("HardSwish", 14));
  registry.add(
      OpDef("ThresholdedRelu").opsets(10).attr("alpha", AttrType::kFloat, float_attr(1.0f)).infer(infer_float_unary));
  registry.add(OpDef("Shrink")
                   .opsets(9)
                   .attr("bias", AttrType::kFloat, float_attr(0.0f))
                   .attr("lambd", AttrType::kFloat, float_attr(0.5f))
                   .infer(infer_numeric_unary));
  registry.add(float_unary("Mish", 18));
  // PRelu-6 took a slope of the input's shape or of size 1; opset 7 broadcasts it to the input.
  registry.add(OpDef("PRelu").opsets(7).inputs(2, 2).infer(infer_prelu));
  // Floating-point classification, to bool.
  registry.add(OpDef("IsNaN").opsets(9).infer(infer_is_class));
  registry.add(OpDef("IsInf")
                   .opsets(10)
                   .attr("detect_negative", AttrType::kInt, int_attr(1))
                   .attr("detect_positive", AttrType::kInt, int_attr(1))
                   .infer(infer_is_class));
  // Pow-1 had broadcast/axis attributes; opset 7 switched to numpy broadcasting.
  registry.add(OpDef("Pow").opsets(7).inputs(2, 2).infer(infer_pow));
}

}  // namespace kiln::ops
