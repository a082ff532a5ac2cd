// Finite-difference checks, in float64, of the gradients of unary math and activations, the
// variadic and broadcasting elementwise ops, reductions, softmax, and data movement.
#include <optional>

#include "grad_check.h"

namespace kiln::test {
namespace {

using Ints = std::vector<int64_t>;

Tensor bools(const Dims& shape, std::vector<int64_t> values) { return cast(ints64(shape, std::move(values)), DType::kBool); }

GradCase unary(const std::string& op, Tensor x) { return GradCase(op, op).input(std::move(x)); }

std::vector<GradCase> activation_cases() {
  const Tensor x = uniform64({3, 4}, -2, 2, 1, 0.01);  // away from the kinks at 0
  return {
      GradCase("Relu", "Relu").input(uniform64({3, 4}, -1, 1, 1, 0.01)),
      GradCase("Neg", "Neg").input(uniform64({3, 4})),
      unary("Sigmoid", uniform64({3, 4}, -3, 3)),
      unary("Tanh", uniform64({3, 4}, -2, 2)),
      unary("Erf", uniform64({3, 4}, -2, 2)),
      GradCase("GeluErf", "Gelu").input(uniform64({3, 4}, -3, 3)),
      GradCase("GeluTanh", "Gelu").input(uniform64({3, 4}, -3, 3)).attr("approximate", "tanh"),
      unary("Exp", uniform64({3, 4})),
      unary("Log", uniform64({3, 4}, 0.2, 3)),
      unary("Sqrt", uniform64({3, 4}, 0.2, 3)),
      unary("Abs", x),
      unary("Reciprocal", uniform64({3, 4}, 0.5, 2)),
      GradCase("ReciprocalNegative", "Reciprocal").input(uniform64({3, 4}, -2, -0.5)),
      GradCase("LeakyRelu", "LeakyRelu").input(x),
      GradCase("LeakyReluAlpha", "LeakyRelu").input(x).attr("alpha", 0.3f),
      GradCase("Elu", "Elu").input(x),
      GradCase("EluAlpha", "Elu").input(x).attr("alpha", 0.5f),
      GradCase("Selu", "Selu").input(x),
      GradCase("SeluAttrs", "Selu").input(x).attr("alpha", 1.5f).attr("gamma", 2.0f),
      GradCase("Celu", "Celu").input(x),
      GradCase("CeluAlpha", "Celu").input(x).attr("alpha", 2.0f),
      unary("Softplus", uniform64({3, 4}, -3, 3)),
      unary("Softsign", x),
      GradCase("HardSigmoid", "HardSigmoid").input(uniform64({4, 5}, -4, 4, 3)),
      GradCase("HardSigmoidAttrs", "HardSigmoid").input(uniform64({4, 5}, -4, 4, 3)).attr("alpha", 0.5f).attr("beta", 0.2f),
      GradCase("HardSwish", "HardSwish").input(uniform64({4, 5}, -5, 5, 3)),
      GradCase("ThresholdedRelu", "ThresholdedRelu").input(uniform64({4, 5}, -2, 3, 3)).attr("alpha", 0.5f),
      GradCase("Shrink", "Shrink").input(uniform64({4, 5}, -2, 2, 3)).attr("bias", 0.5f).attr("lambd", 0.7f),
      unary("Mish", uniform64({3, 4}, -3, 3)),
      unary("Sign", x),
      unary("Ceil", uniform64({3, 4}, -3, 3)),
      unary("Floor", uniform64({3, 4}, -3, 3)),
      unary("Round", uniform64({3, 4}, -3, 3)),
      GradCase("PReluChannelSlope", "PRelu").input(uniform64({2, 3, 4}, -1, 1, 1, 0.01)).input(uniform64({4}, 0, 0.5, 2)),
      GradCase("PReluBroadcastSlope", "PRelu").input(uniform64({2, 3, 4}, -1, 1, 1, 0.01)).input(uniform64({3, 1}, 0, 0.5, 2)),
      GradCase("PReluScalarSlope", "PRelu").input(uniform64({3, 4}, -1, 1, 1, 0.01)).input(uniform64({1}, 0, 0.5, 2)),
  };
}

std::vector<GradCase> trig_cases() {
  return {
      unary("Sin", uniform64({3, 4}, -3, 3)),   unary("Cos", uniform64({3, 4}, -3, 3)),
      unary("Tan", uniform64({3, 4}, -1, 1)),   unary("Asin", uniform64({3, 4}, -0.9, 0.9)),
      unary("Acos", uniform64({3, 4}, -0.9, 0.9)), unary("Atan", uniform64({3, 4}, -3, 3)),
      unary("Sinh", uniform64({3, 4}, -2, 2)),  unary("Cosh", uniform64({3, 4}, -2, 2)),
      unary("Asinh", uniform64({3, 4}, -3, 3)), unary("Acosh", uniform64({3, 4}, 1.2, 3)),
      unary("Atanh", uniform64({3, 4}, -0.9, 0.9)),
  };
}

std::vector<GradCase> clip_pow_cases() {
  const Tensor x = uniform64({4, 5}, -2, 2, 5);
  return {
      GradCase("ClipBothBounds", "Clip").input(x).input(Tensor::scalar<double>(-0.7)).input(Tensor::scalar<double>(0.9)),
      GradCase("ClipMaxOnly", "Clip").input(x).absent().input(Tensor::scalar<double>(0.3)),
      GradCase("ClipMinOnly", "Clip").input(x).input(Tensor::from_vector<double>({1}, {-0.2})),
      GradCase("ClipNoBounds", "Clip").input(x),
      // min > max: every output is max.
      GradCase("ClipMinAboveMax", "Clip").input(x).input(Tensor::scalar<double>(0.5)).input(Tensor::scalar<double>(-0.5)),
      // Before opset 11 the bounds are float attributes.
      GradCase("ClipOpset6Attributes", "Clip").input(x).attr("min", -0.7f).attr("max", 0.9f).at_opset(6),
      GradCase("ClipOpset6MaxOnly", "Clip").input(x).attr("max", 0.3f).at_opset(6),
      GradCase("ClipOpset6NoBounds", "Clip").input(x).at_opset(6),
      GradCase("ClipOpset6MinAboveMax", "Clip").input(x).attr("min", 0.5f).attr("max", -0.5f).at_opset(6),
      GradCase("PowBroadcast", "Pow").input(uniform64({2, 3}, 0.5, 2)).input(uniform64({3}, -2, 2, 2)),
      GradCase("PowScalarExponent", "Pow").input(uniform64({2, 3}, 0.5, 2)).input(Tensor::scalar<double>(2.5)),
      GradCase("PowNegativeBaseIntegerExponent", "Pow").input(uniform64({2, 3}, -2, -0.5)).constant_input(Tensor::scalar<double>(3)),
      GradCase("PowIntExponent", "Pow").input(uniform64({2, 3}, -2, 2)).input(ints64({1}, {2})),
  };
}

std::vector<GradCase> variadic_cases() {
  const Tensor a = uniform64({2, 3}, -1, 1, 1), b = uniform64({3}, -1, 1, 2), c = uniform64({2, 1}, -1, 1, 3);
  // Ties split evenly, which central differences see as the mean of the one-sided slopes.
  const Tensor tied = Tensor::from_vector<double>({2, 3}, {0.5, -0.25, 0.75, 0.1, 0.2, -0.3});
  const Tensor other = Tensor::from_vector<double>({2, 3}, {0.5, 0.0, 0.75, -0.1, 0.2, 0.6});
  return {
      GradCase("MaxThreeBroadcast", "Max").input(a).input(b).input(c),
      GradCase("MinThreeBroadcast", "Min").input(a).input(b).input(c),
      GradCase("MaxOneInput", "Max").input(a),
      GradCase("MinOneInput", "Min").input(a),
      GradCase("MaxTies", "Max").input(tied).input(other),
      GradCase("MinTies", "Min").input(tied).input(other),
      GradCase("SumThreeBroadcast", "Sum").input(a).input(b).input(c),
      GradCase("SumOneInput", "Sum").input(a),
      GradCase("MeanThreeBroadcast", "Mean").input(a).input(b).input(c),
      GradCase("MeanTwo", "Mean").input(a).input(b),
      GradCase("WhereBroadcast", "Where").input(bools({3, 1}, {1, 0, 1})).input(uniform64({1, 4})).input(uniform64({3, 4}, -1, 1, 2)),
      GradCase("WhereScalarY", "Where").input(bools({2, 3}, {1, 0, 0, 1, 1, 0})).input(uniform64({2, 3})).input(Tensor::scalar<double>(0.5)),
      GradCase("CastF64", "Cast").input(uniform64({2, 3})).attr("to", int64_t{11}),
      GradCase("CastLikeF64", "CastLike").input(uniform64({2, 3})).constant_input(uniform64({1})),
  };
}

GradCase reduce(const std::string& name, const std::string& op, Tensor x, std::optional<Ints> axes, int64_t keepdims) {
  GradCase c(name, op);
  c.input(std::move(x));
  if (axes) c.input(ints64({static_cast<int64_t>(axes->size())}, *axes));
  return c.attr("keepdims", keepdims);
}

std::vector<GradCase> reduce_cases() {
  const Tensor x = uniform64({2, 3, 4}, -1, 1, 7, 0.05), positive = uniform64({2, 3, 4}, 0.3, 2, 7);
  // One zero in a row of axis 1 for [0, *, 1], two zeros for [1, *, 2].
  std::vector<double> with_zeros = x.to_vector<double>();
  with_zeros[0 * 12 + 1 * 4 + 1] = 0;
  with_zeros[1 * 12 + 0 * 4 + 2] = 0;
  with_zeros[1 * 12 + 2 * 4 + 2] = 0;
  const Tensor zeros_x = Tensor::from_vector<double>({2, 3, 4}, with_zeros);
  std::vector<double> tie = x.to_vector<double>();
  tie[1] = tie[0] = 1.5;  // a tied maximum and a tied minimum in the first row of axis 2
  tie[5] = tie[6] = -1.5;
  const Tensor tied = Tensor::from_vector<double>({2, 3, 4}, tie);
  std::vector<GradCase> cases{
      reduce("ReduceMaxTie", "ReduceMax", tied, Ints{2}, 0),
      reduce("ReduceMinAxes", "ReduceMin", x, Ints{0, -1}, 0),
      reduce("ReduceMinKeep", "ReduceMin", x, Ints{1}, 1),
      reduce("ReduceMinAll", "ReduceMin", x, std::nullopt, 0),
      reduce("ReduceMinTie", "ReduceMin", tied, Ints{-1}, 1),
      reduce("ReduceProdZeros", "ReduceProd", zeros_x, Ints{1}, 0),
      reduce("ReduceProdLastKeep", "ReduceProd", zeros_x, Ints{-1}, 1),
      reduce("ReduceProdAll", "ReduceProd", uniform64({2, 3}, 0.5, 1.5), std::nullopt, 1),
      reduce("ReduceL1Axes", "ReduceL1", x, Ints{0, 2}, 0),
      reduce("ReduceL1All", "ReduceL1", x, std::nullopt, 1),
      reduce("ReduceL2Axis", "ReduceL2", x, Ints{-2}, 1),
      reduce("ReduceL2All", "ReduceL2", x, std::nullopt, 0),
      reduce("ReduceSumSquareAxes", "ReduceSumSquare", x, Ints{1, 2}, 0),
      reduce("ReduceSumSquareKeep", "ReduceSumSquare", x, Ints{0}, 1),
      reduce("ReduceLogSumAxis", "ReduceLogSum", positive, Ints{1}, 0),
      reduce("ReduceLogSumAll", "ReduceLogSum", positive, std::nullopt, 1),
      reduce("ReduceLogSumExpAxis", "ReduceLogSumExp", x, Ints{-1}, 0),
      reduce("ReduceLogSumExpAxesKeep", "ReduceLogSumExp", x, Ints{0, 1}, 1),
      reduce("ReduceMeanNegativeAxes", "ReduceMean", x, Ints{-1, -3}, 0),
  };
  // Before opset 18 the axes are an attribute.
  for (const char* op : {"ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"})
    cases.push_back(GradCase(std::string(op) + "Opset11Attribute", op)
                        .input(std::string(op) == "ReduceLogSum" ? positive : x)
                        .attr("axes", Ints{0, -1})
                        .attr("keepdims", int64_t{0})
                        .at_opset(11));
  cases.push_back(GradCase("ReduceL2Opset17AllKeep", "ReduceL2").input(x).at_opset(17));
  // noop_with_empty_axes with no axes: a copy.
  for (const char* op : {"ReduceMax", "ReduceL2", "ReduceProd", "ReduceLogSumExp"})
    cases.push_back(reduce(std::string(op) + "Noop", op, x, Ints{}, 0).attr("noop_with_empty_axes", int64_t{1}));
  return cases;
}

std::vector<GradCase> softmax_cases() {
  const Tensor x = uniform64({2, 3, 4}, -2, 2, 9);
  return {
      GradCase("SoftmaxDefaultAxis", "Softmax").input(x),
      GradCase("SoftmaxAxis0", "Softmax").input(x).attr("axis", int64_t{0}),
      GradCase("SoftmaxNegativeAxis", "Softmax").input(x).attr("axis", int64_t{-2}),
      GradCase("LogSoftmaxDefaultAxis", "LogSoftmax").input(x),
      GradCase("LogSoftmaxAxis1", "LogSoftmax").input(x).attr("axis", int64_t{1}),
      GradCase("LogSoftmaxNegativeAxis", "LogSoftmax").input(uniform64({3, 5}, -2, 2, 4)).attr("axis", int64_t{-2}),
      // Before opset 13 the input is coerced to 2-D at axis (default 1) and normalized over the
      // whole trailing block.
      GradCase("SoftmaxOpset11Axis1", "Softmax").input(x).attr("axis", int64_t{1}).at_opset(11),
      GradCase("SoftmaxOpset11DefaultAxis", "Softmax").input(x).at_opset(11),
      GradCase("SoftmaxOpset11Axis0", "Softmax").input(x).attr("axis", int64_t{0}).at_opset(11),
      GradCase("SoftmaxOpset11NegativeAxis", "Softmax").input(x).attr("axis", int64_t{-1}).at_opset(11),
      GradCase("LogSoftmaxOpset11Axis1", "LogSoftmax").input(x).attr("axis", int64_t{1}).at_opset(11),
      GradCase("LogSoftmaxOpset11DefaultAxis", "LogSoftmax").input(x).at_opset(11),
      GradCase("LogSoftmaxOpset11Axis2", "LogSoftmax").input(x).attr("axis", int64_t{2}).at_opset(11),
      GradCase("LogSoftmaxOpset1Axis0", "LogSoftmax").input(x).attr("axis", int64_t{0}).at_opset(1),
  };
}

std::vector<GradCase> movement_cases() {
  const Tensor x = uniform64({2, 3, 4}, -1, 1, 11);
  return {
      GradCase("ConcatAxis1", "Concat").input(uniform64({2, 1, 3})).input(uniform64({2, 4, 3}, -1, 1, 2)).input(uniform64({2, 2, 3}, -1, 1, 3)).attr("axis", int64_t{1}),
      GradCase("ConcatNegativeAxis", "Concat").input(uniform64({2, 3})).input(uniform64({2, 1}, -1, 1, 2)).attr("axis", int64_t{-1}),
      GradCase("ConcatOne", "Concat").input(uniform64({2, 3})).attr("axis", int64_t{0}),
      GradCase("SplitInput", "Split").input(uniform64({2, 4})).input(ints64({2}, {1, 3})).attr("axis", int64_t{1}).outputs(2),
      GradCase("SplitNumOutputsUneven", "Split").input(uniform64({7, 2})).attr("num_outputs", int64_t{3}).outputs(3),
      GradCase("SplitNegativeAxis", "Split").input(x).input(ints64({3}, {2, 0, 2})).attr("axis", int64_t{-1}).outputs(3),
      // Before opset 13 the sizes are the `split` attribute (equal parts without it).
      GradCase("SplitOpset11Attribute", "Split").input(uniform64({2, 4})).attr("split", Ints{1, 3}).attr("axis", int64_t{1}).at_opset(11).outputs(2),
      GradCase("SplitOpset11NegativeAxisZeroPart", "Split").input(x).attr("split", Ints{2, 0, 2}).attr("axis", int64_t{-1}).at_opset(11).outputs(3),
      GradCase("SplitOpset11Equal", "Split").input(uniform64({6, 2})).at_opset(11).outputs(3),
      GradCase("SplitOpset2Attribute", "Split").input(uniform64({5, 2})).attr("split", Ints{2, 3}).at_opset(2).outputs(2),
      GradCase("GatherRepeatedNegative", "Gather").input(uniform64({4, 3})).input(ints64({5}, {0, 2, -1, 2, 0})),
      GradCase("GatherAxis1Matrix", "Gather").input(x).input(ints64({2, 2}, {2, 0, 2, -3})).attr("axis", int64_t{1}),
      GradCase("GatherScalarLastAxis", "Gather").input(x).input(ints64({}, {-1})).attr("axis", int64_t{-1}),
      GradCase("GatherElementsAxis0", "GatherElements").input(uniform64({3, 2})).input(ints64({4, 2}, {0, 2, 2, 2, -1, 0, 1, 1})),
      GradCase("GatherElementsAxisLast", "GatherElements").input(uniform64({2, 3})).input(ints64({2, 4}, {0, 0, 2, -1, 1, 1, 1, 0})).attr("axis", int64_t{-1}),
      GradCase("Squeeze", "Squeeze").input(uniform64({2, 1, 3, 1})).input(ints64({2}, {1, -1})),
      GradCase("SqueezeAll", "Squeeze").input(uniform64({1, 3, 1})),
      GradCase("Unsqueeze", "Unsqueeze").input(uniform64({2, 3})).input(ints64({2}, {0, -1})),
      // Before opset 13 the axes are an attribute (Squeeze without it drops every size-1 axis).
      GradCase("SqueezeOpset11Attribute", "Squeeze").input(uniform64({2, 1, 3, 1})).attr("axes", Ints{1, -1}).at_opset(11),
      GradCase("SqueezeOpset11All", "Squeeze").input(uniform64({1, 3, 1})).at_opset(11),
      GradCase("SqueezeOpset1Attribute", "Squeeze").input(uniform64({2, 1, 3})).attr("axes", Ints{1}).at_opset(1),
      GradCase("UnsqueezeOpset11Attribute", "Unsqueeze").input(uniform64({2, 3})).attr("axes", Ints{0, -1}).at_opset(11),
      GradCase("UnsqueezeOpset1Attribute", "Unsqueeze").input(uniform64({2, 3})).attr("axes", Ints{1, 3}).at_opset(1),
      GradCase("Flatten", "Flatten").input(x),
      GradCase("FlattenAxis0", "Flatten").input(x).attr("axis", int64_t{0}),
      GradCase("FlattenNegativeAxis", "Flatten").input(x).attr("axis", int64_t{-1}),
      GradCase("Tile", "Tile").input(uniform64({2, 1, 3})).input(ints64({3}, {2, 3, 1})),
      GradCase("TileOnce", "Tile").input(uniform64({2, 3})).input(ints64({2}, {1, 1})),
      GradCase("PadConstant", "Pad").input(uniform64({2, 3})).input(ints64({4}, {1, 0, 2, 2})),
      GradCase("PadValue", "Pad").input(uniform64({2, 3})).input(ints64({4}, {0, 1, 1, 0})).input(Tensor::scalar<double>(0.5)),
      GradCase("PadNegative", "Pad").input(uniform64({3, 4})).input(ints64({4}, {-1, 1, 0, -2})).input(Tensor::scalar<double>(0.25)),
      GradCase("PadAxes", "Pad").input(x).input(ints64({2}, {1, 2})).absent().input(ints64({1}, {-2})),
      // Before opset 11 pads and the constant are attributes (the constant gets no gradient).
      GradCase("PadOpset2Attributes", "Pad").input(uniform64({2, 3})).attr("pads", Ints{1, 0, 2, 2}).at_opset(2),
      GradCase("PadOpset2Value", "Pad").input(x).attr("pads", Ints{0, 1, 0, 1, 0, 2}).attr("value", 0.5f).at_opset(2),
      GradCase("PadOpset10Value", "Pad").input(uniform64({2, 3})).attr("pads", Ints{0, 1, 1, 0}).attr("value", 0.5f).at_opset(10),
      GradCase("PadOpset10Negative", "Pad").input(uniform64({3, 4})).attr("pads", Ints{-1, 1, 0, -2}).attr("value", 0.25f).at_opset(10),
      // reflect, edge and wrap (opset 19) sum dY over the copies of each element.
      GradCase("PadWrapOpset19", "Pad").input(uniform64({2, 3})).input(ints64({4}, {2, 1, 1, 4})).attr("mode", "wrap").at_opset(19),
      GradCase("PadWrapCropsOpset19", "Pad").input(uniform64({3, 4})).input(ints64({4}, {-1, 2, 1, -1})).attr("mode", "wrap").at_opset(19),
      GradCase("PadWrapAxes", "Pad").input(x).input(ints64({2}, {3, 1})).absent().input(ints64({1}, {-1})).attr("mode", "wrap"),
      GradCase("PadReflect", "Pad").input(uniform64({3, 4})).input(ints64({4}, {2, 1, 0, 3})).attr("mode", "reflect"),
      GradCase("PadEdge", "Pad").input(uniform64({2, 3})).input(ints64({4}, {1, 2, 3, 0})).attr("mode", "edge"),
      GradCase("PadEdgeOpset10", "Pad").input(uniform64({2, 3})).attr("pads", Ints{1, 0, 0, 2}).attr("mode", "edge").at_opset(10),
      GradCase("CumSum", "CumSum").input(x).input(ints64({}, {1})),
      GradCase("CumSumExclusive", "CumSum").input(x).input(ints64({}, {-1})).attr("exclusive", int64_t{1}),
      GradCase("CumSumReverse", "CumSum").input(x).input(ints64({1}, {0})).attr("reverse", int64_t{1}),
      GradCase("CumSumExclusiveReverse", "CumSum").input(x).input(ints64({}, {2})).attr("exclusive", int64_t{1}).attr("reverse", int64_t{1}),
  };
}

std::vector<GradCase> normalization_cases() {
  const Tensor x = uniform64({2, 3, 4}, -1, 1, 13);
  return {
      GradCase("DropoutInference", "Dropout").input(x),
      GradCase("DropoutWithMask", "Dropout").input(x).constant_input(Tensor::scalar<double>(0.3)).input(bools({}, {0})).outputs(2),
      // Training with ratio 0 keeps every element (the cpu kernel runs dropout only at ratio 0).
      GradCase("DropoutTrainingRatio0", "Dropout").input(x).constant_input(Tensor::scalar<double>(0.0)).input(bools({}, {1})).outputs(2),
      // Before opset 12 ratio is an attribute and Dropout is the identity (inference); before
      // opset 10 the mask has the input's dtype (its gradient is zero).
      GradCase("DropoutOpset10Inference", "Dropout").input(x).attr("ratio", 0.3f).at_opset(10),
      GradCase("DropoutOpset10WithMask", "Dropout").input(x).attr("ratio", 0.3f).at_opset(10).outputs(2),
      GradCase("DropoutOpset7FloatMask", "Dropout").input(x).at_opset(7).outputs(2),
      GradCase("InstanceNorm", "InstanceNormalization").input(uniform64({2, 3, 5}, -1, 1, 3)).input(uniform64({3}, 0.5, 1.5, 4)).input(uniform64({3}, -1, 1, 5)),
      GradCase("InstanceNorm2dEpsilon", "InstanceNormalization").input(uniform64({2, 2, 3, 2}, -1, 1, 3)).input(uniform64({2}, 0.5, 1.5, 4)).input(uniform64({2}, -1, 1, 5)).attr("epsilon", 0.1f),
      GradCase("LpNormL2", "LpNormalization").input(x),
      GradCase("LpNormL1Axis0", "LpNormalization").input(uniform64({3, 4}, -1, 1, 13, 0.05)).attr("p", int64_t{1}).attr("axis", int64_t{0}),
      GradCase("LpNormL2Axis1", "LpNormalization").input(x).attr("axis", int64_t{1}),
      GradCase("MeanVarianceNorm", "MeanVarianceNormalization").input(uniform64({2, 3, 2, 2}, -1, 1, 17)),
      GradCase("MeanVarianceNormAxes", "MeanVarianceNormalization").input(x).attr("axes", Ints{-1}),
      GradCase("MeanVarianceNormTwoAxes", "MeanVarianceNormalization").input(x).attr("axes", Ints{0, 1}),
  };
}

Tensor floats(const Dims& shape, std::vector<float> values) { return Tensor::from_vector<float>(shape, std::move(values)); }

std::vector<GradCase> triangle_and_block_cases() {
  const Tensor m = uniform64({3, 4}, -1, 1, 21);
  const Tensor batched = uniform64({2, 3, 4}, -1, 1, 22);
  return {
      GradCase("TriluUpper", "Trilu").input(m),
      GradCase("TriluLowerBatched", "Trilu").input(batched).attr("upper", int64_t{0}),
      GradCase("TriluUpperK1", "Trilu").input(m).input(ints64({}, {1})),
      GradCase("TriluLowerNegativeK", "Trilu").input(batched).input(ints64({1}, {-1})).attr("upper", int64_t{0}),
      // k past the matrix: upper keeps nothing, lower keeps everything.
      GradCase("TriluUpperKBeyond", "Trilu").input(m).input(ints64({}, {5})),
      GradCase("TriluLowerKBeyond", "Trilu").input(m).input(ints64({}, {7})).attr("upper", int64_t{0}),
      GradCase("TriluTall", "Trilu").input(uniform64({5, 2}, -1, 1, 23)).input(ints64({}, {-2})),
      GradCase("DepthToSpaceDCR", "DepthToSpace").input(uniform64({1, 8, 2, 3}, -1, 1, 24)).attr("blocksize", int64_t{2}),
      GradCase("DepthToSpaceCRD", "DepthToSpace").input(uniform64({2, 8, 2, 3}, -1, 1, 25)).attr("blocksize", int64_t{2}).attr("mode", "CRD"),
      GradCase("DepthToSpaceCRDBlock3", "DepthToSpace").input(uniform64({1, 18, 2, 1}, -1, 1, 26)).attr("blocksize", int64_t{3}).attr("mode", "CRD"),
      GradCase("DepthToSpaceDCRBlock3", "DepthToSpace").input(uniform64({1, 9, 1, 2}, -1, 1, 27)).attr("blocksize", int64_t{3}).attr("mode", "DCR"),
      GradCase("DepthToSpaceBlock1", "DepthToSpace").input(uniform64({1, 2, 2, 2}, -1, 1, 28)).attr("blocksize", int64_t{1}).attr("mode", "CRD"),
      // Before opset 11 there is no mode: DCR.
      GradCase("DepthToSpaceOpset1", "DepthToSpace").input(uniform64({1, 8, 1, 2}, -1, 1, 29)).attr("blocksize", int64_t{2}).at_opset(1),
      GradCase("SpaceToDepth", "SpaceToDepth").input(uniform64({1, 2, 4, 6}, -1, 1, 30)).attr("blocksize", int64_t{2}),
      GradCase("SpaceToDepthBlock3", "SpaceToDepth").input(uniform64({2, 1, 6, 3}, -1, 1, 31)).attr("blocksize", int64_t{3}),
      GradCase("SpaceToDepthBlock1", "SpaceToDepth").input(uniform64({1, 3, 2, 2}, -1, 1, 32)).attr("blocksize", int64_t{1}),
      // SpaceToDepth takes mode at opset 28.
      GradCase("SpaceToDepthCRDOpset28", "SpaceToDepth")
          .input(uniform64({2, 3, 4, 6}, -1, 1, 33))
          .attr("blocksize", int64_t{2})
          .attr("mode", "CRD")
          .at_opset(28),
      GradCase("SpaceToDepthDCROpset28", "SpaceToDepth")
          .input(uniform64({1, 2, 6, 3}, -1, 1, 34))
          .attr("blocksize", int64_t{3})
          .attr("mode", "DCR")
          .at_opset(28),
      GradCase("SpaceToDepthOpset13", "SpaceToDepth")
          .input(uniform64({1, 2, 4, 2}, -1, 1, 35))
          .attr("blocksize", int64_t{2})
          .at_opset(13),
  };
}

std::vector<GradCase> index_cases() {
  const Tensor x = uniform64({3, 5}, -1, 1, 41);
  const Tensor data = uniform64({2, 3, 4}, -1, 1, 42);
  return {
      GradCase("TopKLargestLastAxis", "TopK").input(x).input(ints64({1}, {2})).outputs(2),
      GradCase("TopKSmallestAxis0", "TopK").input(uniform64({4, 3}, -1, 1, 43)).input(ints64({1}, {3})).attr("axis", int64_t{0}).attr("largest", int64_t{0}).outputs(2),
      GradCase("TopKUnsortedMiddleAxis", "TopK").input(data).input(ints64({1}, {2})).attr("axis", int64_t{1}).attr("sorted", int64_t{0}).outputs(2),
      GradCase("TopKAll", "TopK").input(x).input(ints64({1}, {5})).attr("axis", int64_t{-1}).outputs(2),
      GradCase("TopKZero", "TopK").input(x).input(ints64({1}, {0})).outputs(2),
      // Before opset 10 k is an attribute.
      GradCase("TopKOpset9Attribute", "TopK").input(x).attr("k", int64_t{3}).at_opset(9).outputs(2),
      GradCase("GatherNDElementsRepeated", "GatherND").input(uniform64({3, 4}, -1, 1, 44)).input(ints64({3, 2}, {0, 1, 2, -1, 0, 1})),
      GradCase("GatherNDSlicesNegative", "GatherND").input(data).input(ints64({2, 1}, {1, -2})),
      GradCase("GatherNDRows", "GatherND").input(data).input(ints64({2, 2, 2}, {0, 1, 1, 2, 1, 1, 0, 0})),
      GradCase("GatherNDBatch1", "GatherND").input(data).input(ints64({2, 2, 1}, {2, 0, 1, 1})).attr("batch_dims", int64_t{1}),
      GradCase("GatherNDBatch1Elements", "GatherND").input(data).input(ints64({2, 3, 2}, {0, 1, 2, 3, 0, 1, 1, 0, -1, -1, 1, 0})).attr("batch_dims", int64_t{1}),
      GradCase("GatherNDBatch2", "GatherND").input(data).input(ints64({2, 3, 1}, {0, 3, 3, 1, 2, -1})).attr("batch_dims", int64_t{2}),
      GradCase("GatherNDOpset11", "GatherND").input(uniform64({3, 2}, -1, 1, 45)).input(ints64({2, 1}, {2, 0})).at_opset(11),
      GradCase("ScatterElementsAxis0", "ScatterElements").input(uniform64({3, 3}, -1, 1, 46)).input(ints64({2, 3}, {0, 2, 1, 2, 0, 0})).input(uniform64({2, 3}, -1, 1, 47)),
      GradCase("ScatterElementsNegativeAxisAndIndex", "ScatterElements").input(uniform64({2, 4}, -1, 1, 48)).input(ints64({2, 2}, {-1, 0, 1, 2})).input(uniform64({2, 2}, -1, 1, 49)).attr("axis", int64_t{-1}),
      GradCase("ScatterElementsAddRepeated", "ScatterElements").input(uniform64({3, 2}, -1, 1, 50)).input(ints64({3, 2}, {1, 1, 1, 0, 1, 1})).input(uniform64({3, 2}, -1, 1, 51)).attr("reduction", "add"),
      GradCase("ScatterElementsOpset11", "ScatterElements").input(uniform64({4}, -1, 1, 52)).input(ints64({2}, {3, 1})).input(uniform64({2}, -1, 1, 53)).at_opset(11),
      GradCase("ScatterElementsConstantUpdates", "ScatterElements").input(uniform64({3, 3}, -1, 1, 46)).input(ints64({1, 3}, {2, 0, 1})).constant_input(uniform64({1, 3}, -1, 1, 47)),
      GradCase("ScatterOpset10", "Scatter").input(uniform64({3, 3}, -1, 1, 54)).input(ints64({1, 2}, {2, 0})).input(uniform64({1, 2}, -1, 1, 55)).attr("axis", int64_t{0}).at_opset(10),
      GradCase("ScatterNDElements", "ScatterND").input(uniform64({3, 4}, -1, 1, 56)).input(ints64({3, 2}, {0, 1, 2, -1, 1, 1})).input(uniform64({3}, -1, 1, 57)),
      GradCase("ScatterNDSlicesNegative", "ScatterND").input(data).input(ints64({2, 1}, {-1, 0})).input(uniform64({2, 3, 4}, -1, 1, 58)),
      GradCase("ScatterNDRows", "ScatterND").input(data).input(ints64({2, 2}, {0, 2, 1, 0})).input(uniform64({2, 4}, -1, 1, 59)),
      GradCase("ScatterNDAddRepeated", "ScatterND").input(uniform64({3, 2}, -1, 1, 60)).input(ints64({3, 1}, {1, 1, 2})).input(uniform64({3, 2}, -1, 1, 61)).attr("reduction", "add"),
      GradCase("ScatterNDOpset11", "ScatterND").input(uniform64({4}, -1, 1, 62)).input(ints64({2, 1}, {3, 0})).input(uniform64({2}, -1, 1, 63)).at_opset(11),
      GradCase("ModFmod", "Mod").input(uniform64({3, 4}, -3, 3, 64)).input(uniform64({3, 4}, 0.4, 1.3, 65)).attr("fmod", int64_t{1}),
      GradCase("ModFmodNegativeDivisor", "Mod").input(uniform64({3, 4}, -3, 3, 66)).input(uniform64({3, 4}, -1.3, -0.4, 67)).attr("fmod", int64_t{1}),
      GradCase("ModFmodBroadcast", "Mod").input(uniform64({2, 3}, -4, 4, 68)).input(uniform64({3}, 0.6, 1.7, 69)).attr("fmod", int64_t{1}),
      GradCase("ModFmodScalarDivisor", "Mod").input(uniform64({2, 3}, -4, 4, 70)).input(Tensor::scalar<double>(0.7)).attr("fmod", int64_t{1}),
      // |a| < |b|: the quotient is 0, so the divisor gets no gradient.
      GradCase("ModFmodSmallDividend", "Mod").input(uniform64({2, 3}, -0.3, 0.3, 71)).input(uniform64({2, 3}, 0.5, 1, 72)).attr("fmod", int64_t{1}),
      // Mod-28: fmod=0 on floats rounds the quotient down (the sign of the divisor).
      GradCase("ModFloorOpset28", "Mod")
          .input(uniform64({3, 4}, -3, 3, 73))
          .input(uniform64({3, 4}, 0.4, 1.3, 74))
          .at_opset(28),
      GradCase("ModFloorNegativeDivisorOpset28", "Mod")
          .input(uniform64({2, 3}, -4, 4, 75))
          .input(uniform64({3}, -1.7, -0.6, 76))
          .at_opset(28),
  };
}

GradCase upsample_opset7(const std::string& name, Tensor x, std::vector<float> scales) {
  GradCase c(name, "Upsample");
  c.input(std::move(x)).at_opset(7);
  c.attrs.set("scales", std::move(scales));
  return c;
}

std::vector<GradCase> resize_cases() {
  const Tensor x = uniform64({1, 2, 2, 3}, -1, 1, 81);
  return {
      GradCase("ResizeNearestUpScales", "Resize").input(x).absent().input(floats({4}, {1, 1, 2, 1.5f})),
      GradCase("ResizeNearestDownSizes", "Resize").input(uniform64({1, 1, 4, 5}, -1, 1, 82)).absent().absent().input(ints64({4}, {1, 1, 3, 2})),
      GradCase("ResizeNearestAsymmetricFloor", "Resize").input(x).absent().input(floats({4}, {1, 1, 1.7f, 2.5f})).attr("coordinate_transformation_mode", "asymmetric").attr("nearest_mode", "floor"),
      GradCase("ResizeNearestAlignCornersCeil", "Resize").input(x).absent().absent().input(ints64({4}, {1, 2, 3, 5})).attr("coordinate_transformation_mode", "align_corners").attr("nearest_mode", "ceil"),
      GradCase("ResizeNearestPytorchHalfPixelPreferCeil", "Resize").input(x).absent().input(floats({4}, {1, 1, 2.5f, 0.7f})).attr("coordinate_transformation_mode", "pytorch_half_pixel").attr("nearest_mode", "round_prefer_ceil"),
      // Outputs outside the roi read no input (extrapolation_value).
      GradCase("ResizeNearestTfCropAndResize", "Resize").input(uniform64({1, 1, 3, 3}, -1, 1, 83)).input(floats({8}, {0, 0, -0.4f, 0.2f, 1, 1, 1.5f, 0.8f})).absent().input(ints64({4}, {1, 1, 4, 3})).attr("coordinate_transformation_mode", "tf_crop_and_resize").attr("extrapolation_value", 5.0f),
      GradCase("ResizeNearestHalfPixelSymmetricOpset19", "Resize")
          .input(uniform64({1, 1, 5, 7}, -1, 1, 85))
          .absent()
          .input(floats({4}, {1, 1, 1.5f, 0.45f}))
          .attr("coordinate_transformation_mode", "half_pixel_symmetric")
          .at_opset(19),
      GradCase("ResizeNearest3d", "Resize").input(uniform64({2, 3, 2}, -1, 1, 84)).absent().input(floats({3}, {1.5f, 1, 2})),
      // Resize-10: X and scales only (asymmetric, floor).
      GradCase("ResizeOpset10", "Resize").input(x).input(floats({4}, {1, 1, 2, 1.5f})).at_opset(10),
      GradCase("ResizeOpset13Sizes", "Resize").input(x).absent().absent().input(ints64({4}, {1, 2, 5, 2})).at_opset(13),
      // Opset 18: axes, and sizes under a keep_aspect_ratio_policy.
      GradCase("ResizeOpset18Axes", "Resize").input(x).absent().input(floats({2}, {2, 1.5f})).attr("axes", Ints{2, -1}),
      GradCase("ResizeOpset18NotLarger", "Resize").input(x).absent().absent().input(ints64({2}, {5, 4})).attr("axes", Ints{2, 3}).attr("keep_aspect_ratio_policy", "not_larger"),
      GradCase("UpsampleOpset9", "Upsample").input(x).input(floats({4}, {1, 1, 2, 1.5f})).at_opset(9),
      GradCase("UpsampleOpset9Integer", "Upsample").input(uniform64({2, 1, 2}, -1, 1, 85)).input(floats({3}, {1, 3, 2})).at_opset(9),
      upsample_opset7("UpsampleOpset7Attribute", x, {1, 2, 2, 2}),
  };
}

}  // namespace

std::vector<GradCase> elementwise_grad_cases() {
  std::vector<GradCase> all;
  for (auto family : {activation_cases, trig_cases, clip_pow_cases, variadic_cases, reduce_cases, softmax_cases, movement_cases,
                      normalization_cases, triangle_and_block_cases, index_cases, resize_cases})
    for (GradCase& c : family()) all.push_back(std::move(c));
  return all;
}

namespace {

INSTANTIATE_TEST_SUITE_P(Elementwise, GradCheckTest, ::testing::ValuesIn(elementwise_grad_cases()),
                         [](const auto& param_info) { return param_info.param.name; });

// Cast between floating dtypes casts the gradient back; to an integer it stops the gradient.
TEST(CastGradient, FloatToFloatCastsBackAndIntegerStops) {
  Tensor x = uniform64({2, 3});
  x.set_requires_grad(true);
  sum(cast(x, DType::kF32)).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), DType::kF64);
  for (double v : x.grad().to_vector<double>()) EXPECT_EQ(v, 1.0);
  EXPECT_FALSE(cast(x, DType::kI64).requires_grad());
}

// Pad's reflect, edge and wrap modes copy input elements: each x gets dY summed over its copies,
// so with dY = 1 the gradient counts them (x [2, 3], pads end 1 on both axes).
TEST(PadGradient, CopyingModesCountTheCopies) {
  const std::pair<const char*, std::vector<double>> modes[] = {
      {"reflect", {2, 4, 2, 1, 2, 1}},  // rows 0 1 0, columns 0 1 2 1
      {"edge", {1, 1, 2, 2, 2, 4}},     // rows 0 1 1, columns 0 1 2 2
      {"wrap", {4, 2, 2, 2, 1, 1}},     // rows 0 1 0, columns 0 1 2 0
  };
  for (const auto& [mode, counts] : modes) {
    Tensor x = uniform64({2, 3});
    x.set_requires_grad(true);
    Attributes attrs;
    attrs.set("mode", std::string(mode));
    sum(run_op1("Pad", {x, ints64({4}, {0, 0, 1, 1})}, attrs, "", 19)).backward();
    EXPECT_EQ(x.grad().to_vector<double>(), counts) << mode;
  }
}

// Resize and Upsample are differentiable only in 'nearest' mode; others fail naming the mode.
TEST(ResizeGradient, LinearModeFailsClearly) {
  Tensor x = uniform64({1, 1, 2, 2});
  x.set_requires_grad(true);
  Attributes attrs;
  attrs.set("mode", std::string("linear"));
  Tensor y = run_op1("Resize", {x, Tensor(), Tensor::from_vector<float>({4}, {1, 1, 2, 2})}, attrs);
  try {
    sum(y).backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Resize gradient: mode 'linear' is not differentiable in kiln"), std::string::npos)
        << e.what();
  }
}

// ScatterElements with reduction mul has no gradient in kiln: backward says so.
TEST(ScatterGradient, MulReductionFailsClearly) {
  Tensor x = uniform64({3});
  x.set_requires_grad(true);
  Attributes attrs;
  attrs.set("reduction", std::string("mul"));
  Tensor y = run_op1("ScatterElements", {x, ints64({1}, {1}), uniform64({1})}, attrs);
  try {
    sum(y).backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ScatterElements gradient: reduction 'mul' is not differentiable"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln::test
