// Finite-difference checks, in float64, of the gradients of the network layers: Gemm, Conv,
// ConvTranspose, the pools, BatchNormalization (inference and training), LayerNormalization and
// the two losses.
#include "grad_check.h"

namespace kiln::test {
namespace {

using Ints = std::vector<int64_t>;

std::vector<GradCase> gemm_cases() {
  return {
      GradCase("GemmBiasRow", "Gemm")
          .input(uniform64({3, 4}))
          .input(uniform64({4, 2}, -1, 1, 2))
          .input(uniform64({2}, -1, 1, 3))
          .attr("alpha", 0.7f)
          .attr("beta", 1.3f),
      // Before opset 11 C is required.
      GradCase("GemmOpset9BiasRow", "Gemm")
          .input(uniform64({3, 4}))
          .input(uniform64({4, 2}, -1, 1, 2))
          .input(uniform64({2}, -1, 1, 3))
          .attr("beta", 0.5f)
          .at_opset(9),
      GradCase("GemmTransAColumnC", "Gemm")
          .input(uniform64({4, 3}))
          .input(uniform64({4, 2}, -1, 1, 2))
          .input(uniform64({3, 1}, -1, 1, 3))
          .attr("transA", int64_t{1})
          .attr("beta", 0.5f),
      GradCase("GemmTransBScalarC", "Gemm")
          .input(uniform64({3, 4}))
          .input(uniform64({2, 4}, -1, 1, 2))
          .input(uniform64({}, -1, 1, 3))
          .attr("transB", int64_t{1})
          .attr("alpha", 1.5f),
      GradCase("GemmTransBothFullC", "Gemm")
          .input(uniform64({4, 3}))
          .input(uniform64({2, 4}, -1, 1, 2))
          .input(uniform64({3, 2}, -1, 1, 3))
          .attr("transA", int64_t{1})
          .attr("transB", int64_t{1}),
      GradCase("GemmNoC", "Gemm")
          .input(uniform64({2, 3}))
          .input(uniform64({3, 4}, -1, 1, 2))
          .attr("alpha", 2.0f),
  };
}

GradCase conv(const std::string& name, const Dims& x, const Dims& w, bool bias, const char* op = "Conv") {
  GradCase c(name, op);
  c.input(uniform64(x)).input(uniform64(w, -1, 1, 2));
  if (bias) c.input(uniform64({std::string(op) == "Conv" ? w[0] : w[1]}, -1, 1, 3));
  return c;
}

std::vector<GradCase> conv_cases() {
  return {
      conv("Conv2dBasic", {2, 3, 5, 5}, {4, 3, 3, 3}, true),
      conv("Conv2dStridesPadsFloor", {1, 2, 7, 6}, {3, 2, 3, 3}, true)
          .attr("strides", Ints{2, 2})
          .attr("pads", Ints{1, 1, 1, 1}),
      conv("Conv2dAsymmetricPadsDilations", {1, 2, 7, 7}, {2, 2, 3, 2}, false)
          .attr("pads", Ints{0, 1, 2, 0})
          .attr("dilations", Ints{2, 1})
          .attr("strides", Ints{1, 2}),
      conv("Conv2dGroups", {1, 4, 5, 5}, {6, 2, 3, 3}, true)
          .attr("group", int64_t{2})
          .attr("pads", Ints{1, 1, 1, 1}),
      conv("Conv2dDepthwise", {2, 3, 5, 5}, {3, 1, 3, 3}, true)
          .attr("group", int64_t{3})
          .attr("strides", Ints{2, 2})
          .attr("pads", Ints{1, 1, 1, 1}),
      conv("Conv2dSameUpper", {1, 2, 5, 6}, {2, 2, 3, 4}, true)
          .attr("strides", Ints{2, 2})
          .attr("auto_pad", "SAME_UPPER"),
      conv("Conv2dSameLower", {1, 2, 5, 6}, {2, 2, 3, 4}, false)
          .attr("strides", Ints{2, 2})
          .attr("auto_pad", "SAME_LOWER"),
      conv("Conv2dValid", {1, 2, 6, 5}, {2, 2, 3, 3}, true)
          .attr("strides", Ints{2, 2})
          .attr("auto_pad", "VALID"),
      conv("Conv1dPadsStridesDilations", {2, 2, 11}, {3, 2, 3}, true)
          .attr("strides", Ints{2})
          .attr("pads", Ints{1, 2})
          .attr("dilations", Ints{2}),
      conv("Conv1dGroupsKernelShape", {1, 4, 8}, {4, 2, 3}, true)
          .attr("group", int64_t{2})
          .attr("kernel_shape", Ints{3}),
      conv("ConvTranspose2dBasic", {1, 2, 3, 3}, {2, 3, 3, 3}, true, "ConvTranspose"),
      conv("ConvTranspose2dOutputPadding", {1, 2, 3, 4}, {2, 3, 3, 3}, false, "ConvTranspose")
          .attr("strides", Ints{2, 3})
          .attr("pads", Ints{1, 0, 1, 1})
          .attr("output_padding", Ints{1, 2}),
      conv("ConvTranspose2dGroups", {1, 4, 3, 3}, {4, 3, 2, 2}, false, "ConvTranspose")
          .input(uniform64({6}, -1, 1, 3))
          .attr("group", int64_t{2})
          .attr("strides", Ints{2, 2}),
      conv("ConvTranspose2dDilations", {1, 2, 4, 4}, {2, 2, 3, 3}, true, "ConvTranspose")
          .attr("dilations", Ints{2, 2})
          .attr("pads", Ints{1, 1, 1, 1}),
      conv("ConvTranspose2dOutputShape", {1, 2, 3, 3}, {2, 2, 3, 3}, true, "ConvTranspose")
          .attr("strides", Ints{2, 2})
          .attr("output_shape", Ints{6, 6}),
      conv("ConvTranspose2dSameUpper", {1, 2, 3, 3}, {2, 2, 3, 3}, false, "ConvTranspose")
          .attr("strides", Ints{2, 2})
          .attr("auto_pad", "SAME_UPPER"),
      conv("ConvTranspose1d", {2, 3, 5}, {3, 2, 4}, true, "ConvTranspose")
          .attr("strides", Ints{3})
          .attr("pads", Ints{1, 2})
          .attr("output_padding", Ints{2}),
  };
}

std::vector<GradCase> pool_cases() {
  auto pool = [](const std::string& name, const char* op, const Dims& x, Ints kernel) {
    return GradCase(name, op).input(uniform64(x, -1, 1, 7)).attr("kernel_shape", std::move(kernel));
  };
  return {
      pool("MaxPool2d", "MaxPool", {1, 2, 4, 6}, {2, 2}).attr("strides", Ints{2, 2}),
      pool("MaxPool2dPadsOverlap", "MaxPool", {2, 1, 6, 5}, {3, 3})
          .attr("strides", Ints{2, 2})
          .attr("pads", Ints{1, 1, 1, 1}),
      pool("MaxPool2dDilationsCeil", "MaxPool", {1, 2, 7, 6}, {2, 2})
          .attr("strides", Ints{2, 2})
          .attr("dilations", Ints{2, 1})
          .attr("ceil_mode", int64_t{1}),
      pool("MaxPool2dSameUpper", "MaxPool", {1, 1, 5, 5}, {3, 3})
          .attr("strides", Ints{2, 2})
          .attr("auto_pad", "SAME_UPPER"),
      pool("MaxPool2dIndices", "MaxPool", {1, 2, 4, 4}, {2, 2}).attr("strides", Ints{1, 2}).outputs(2),
      // Older opsets (PyTorch's opset-9 exports): no ceil_mode or dilations yet.
      pool("MaxPoolOpset8Indices", "MaxPool", {1, 2, 4, 5}, {2, 2}).attr("strides", Ints{2, 2}).at_opset(8).outputs(2),
      pool("AveragePoolOpset7IncludePad", "AveragePool", {1, 2, 5, 5}, {3, 3})
          .attr("pads", Ints{1, 1, 1, 1})
          .attr("count_include_pad", int64_t{1})
          .at_opset(7),
      pool("MaxPool1dCeil", "MaxPool", {2, 2, 9}, {3})
          .attr("strides", Ints{2})
          .attr("pads", Ints{1, 1})
          .attr("ceil_mode", int64_t{1}),
      pool("AveragePool2dExcludePad", "AveragePool", {1, 2, 5, 5}, {3, 3})
          .attr("strides", Ints{2, 2})
          .attr("pads", Ints{1, 1, 1, 1}),
      pool("AveragePool2dIncludePad", "AveragePool", {1, 2, 5, 5}, {3, 3})
          .attr("strides", Ints{2, 2})
          .attr("pads", Ints{1, 1, 1, 1})
          .attr("count_include_pad", int64_t{1}),
      pool("AveragePool2dCeilIncludePad", "AveragePool", {1, 1, 6, 6}, {3, 3})
          .attr("strides", Ints{2, 2})
          .attr("pads", Ints{1, 1, 1, 1})
          .attr("ceil_mode", int64_t{1})
          .attr("count_include_pad", int64_t{1}),
      pool("AveragePool2dCeilExcludePad", "AveragePool", {1, 2, 6, 5}, {3, 2})
          .attr("strides", Ints{2, 2})
          .attr("pads", Ints{1, 0, 1, 0})
          .attr("ceil_mode", int64_t{1}),
      pool("AveragePool1d", "AveragePool", {2, 2, 7}, {3}).attr("strides", Ints{2}),
      // AveragePool takes dilations from opset 19.
      pool("AveragePool2dDilatedExcludePadOpset19", "AveragePool", {1, 2, 7, 6}, {2, 2})
          .attr("strides", Ints{2, 1})
          .attr("pads", Ints{1, 0, 1, 1})
          .attr("dilations", Ints{2, 3})
          .at_opset(19),
      pool("AveragePool2dDilatedCeilIncludePad", "AveragePool", {1, 1, 7, 6}, {2, 2})
          .attr("strides", Ints{2, 3})
          .attr("pads", Ints{1, 1, 0, 0})
          .attr("dilations", Ints{2, 2})
          .attr("ceil_mode", int64_t{1})
          .attr("count_include_pad", int64_t{1}),
      pool("AveragePool1dDilated", "AveragePool", {2, 2, 9}, {3}).attr("dilations", Ints{3}),
      GradCase("GlobalAveragePool2d", "GlobalAveragePool").input(uniform64({2, 3, 4, 5})),
      GradCase("GlobalAveragePool1d", "GlobalAveragePool").input(uniform64({2, 3, 4})),
      GradCase("GlobalMaxPool2d", "GlobalMaxPool").input(uniform64({2, 3, 3, 4})),
      GradCase("GlobalMaxPool1d", "GlobalMaxPool").input(uniform64({2, 2, 5})),
  };
}

std::vector<GradCase> norm_cases() {
  auto batch_norm = [](const std::string& name, const Dims& x) {
    const Dims c{x[1]};
    return GradCase(name, "BatchNormalization")
        .input(uniform64(x, -1, 1, 1))
        .input(uniform64(c, 0.5, 1.5, 2))
        .input(uniform64(c, -1, 1, 3))
        .constant_input(uniform64(c, -0.5, 0.5, 4))
        .constant_input(uniform64(c, 0.5, 1.5, 5));
  };
  GradCase training_stats("BatchNormTrainingStatisticsInputs", "BatchNormalization");
  training_stats.input(uniform64({4, 2, 3}))
      .input(uniform64({2}, 0.5, 1.5, 2))
      .input(uniform64({2}, -1, 1, 3))
      .input(uniform64({2}, -0.5, 0.5, 4))
      .input(uniform64({2}, 0.5, 1.5, 5))
      .attr("training_mode", int64_t{1})
      .attr("momentum", 0.7f)
      .outputs(3);
  auto layer_norm = [](const std::string& name, const Dims& x, const Dims& scale, const Dims& bias) {
    GradCase c(name, "LayerNormalization");
    c.input(uniform64(x)).input(uniform64(scale, 0.5, 1.5, 2));
    if (!bias.empty()) c.input(uniform64(bias, -1, 1, 3));
    return c;
  };
  return {
      batch_norm("BatchNormInference", {2, 3, 4, 3}).attr("epsilon", 1e-3f),
      batch_norm("BatchNormInference2d", {4, 3}),
      batch_norm("BatchNormTraining", {3, 2, 3, 2}).attr("training_mode", int64_t{1}),
      batch_norm("BatchNormTrainingRunningStats", {4, 3, 5})
          .attr("training_mode", int64_t{1})
          .attr("momentum", 0.8f)
          .outputs(3),
      training_stats,
      // Opsets 7..13: inference only; 7 and 8 have `spatial` (1: per-channel statistics).
      batch_norm("BatchNormOpset9Inference", {2, 3, 4}).at_opset(9),
      batch_norm("BatchNormOpset7Spatial", {2, 3, 2, 2}).attr("spatial", int64_t{1}).attr("epsilon", 1e-3f).at_opset(7),
      batch_norm("BatchNormOpset13Inference2d", {4, 3}).at_opset(13),
      layer_norm("LayerNormLastAxis", {3, 5}, {5}, {5}),
      layer_norm("LayerNormAxis1BroadcastBias", {2, 3, 4}, {3, 4}, {4}).attr("axis", int64_t{1}),
      layer_norm("LayerNormNoBias", {2, 3, 4}, {3, 4}, {}).attr("axis", int64_t{-2}).attr("epsilon", 1e-3f),
      layer_norm("LayerNormStatistics", {3, 2, 3}, {2, 3}, {2, 3})
          .attr("axis", int64_t{1})
          .attr("stash_type", int64_t{11})
          .outputs(3),
  };
}

std::vector<GradCase> loss_cases() {
  auto loss = [](const std::string& name, const char* op, const Dims& x, Tensor target,
                 const char* reduction) {
    return GradCase(name, op)
        .input(uniform64(x, -2, 1))
        .input(std::move(target))
        .attr("reduction", reduction);
  };
  const Tensor weight = uniform64({4}, 0.5, 1.5, 4);
  const Tensor t3 = ints64({3}, {2, 0, 3}), t5 = ints64({5}, {1, 3, 1, 0, 2});
  const Tensor t_spatial = ints64({2, 2, 2}, {0, 2, 1, 1, 2, 0, 0, 1});
  const Tensor t32 = Tensor::from_vector<int32_t>({3}, {3, 1, 1});
  return {
      loss("NllMean", "NegativeLogLikelihoodLoss", {3, 4}, t3, "mean"),
      loss("NllSumWeight", "NegativeLogLikelihoodLoss", {5, 4}, t5, "sum").input(weight),
      loss("NllMeanWeightIgnore", "NegativeLogLikelihoodLoss", {5, 4}, t5, "mean")
          .input(weight)
          .attr("ignore_index", int64_t{1}),
      loss("NllNoneSpatialIgnore", "NegativeLogLikelihoodLoss", {2, 3, 2, 2}, t_spatial, "none")
          .attr("ignore_index", int64_t{2}),
      loss("NllMeanI32Targets", "NegativeLogLikelihoodLoss", {3, 4}, t32, "mean").input(weight),
      loss("SoftmaxCrossEntropyMean", "SoftmaxCrossEntropyLoss", {3, 4}, t3, "mean"),
      loss("SoftmaxCrossEntropySumWeight", "SoftmaxCrossEntropyLoss", {5, 4}, t5, "sum").input(weight),
      loss("SoftmaxCrossEntropyNoneSpatial", "SoftmaxCrossEntropyLoss", {2, 3, 2, 2}, t_spatial, "none"),
      loss("SoftmaxCrossEntropyLogProbIgnore", "SoftmaxCrossEntropyLoss", {5, 4}, t5, "mean")
          .input(weight)
          .attr("ignore_index", int64_t{3})
          .outputs(2),
      loss("SoftmaxCrossEntropyNegativeIgnore", "SoftmaxCrossEntropyLoss", {3, 4}, ints64({3}, {2, -100, 0}),
           "mean")
          .attr("ignore_index", int64_t{-100}),
  };
}

}  // namespace

std::vector<GradCase> nn_grad_cases() {
  std::vector<GradCase> all;
  for (auto family : {gemm_cases, conv_cases, pool_cases, norm_cases, loss_cases})
    for (GradCase& c : family()) all.push_back(std::move(c));
  return all;
}

namespace {

INSTANTIATE_TEST_SUITE_P(Nn, GradCheckTest, ::testing::ValuesIn(nn_grad_cases()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace kiln::test
