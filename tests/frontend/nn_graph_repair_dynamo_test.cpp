// Trainability repair of torch 2.15 dynamo exports (graph_repair_dynamo.cpp) on small graphs
// built by hand with the metadata the exporter writes: per-module untying of merged
// initializers, val_N weights renamed (and transposed back), zero biases restored, constants
// frozen, names checked against the graph signature, folded BatchNorm reported.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kiln/frontend/nn/graph_module.h"

namespace kiln::nn {
namespace {

Tensor floats(const Dims& shape, std::vector<float> v) { return Tensor::from_vector<float>(shape, v); }

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> parameter_names(const GraphModule& m) {
  return sorted(m->named_parameters().keys());
}

// The metadata dynamo writes on a node: the module path from the root ('') to the innermost
// module, then the fx node; the classes alike.
Metadata from_module(const std::string& path, const std::string& cls, const std::string& op,
                     const std::string& rule = "") {
  Metadata md;
  std::string scopes = "['', ", classes = "['model.Model', ";
  if (!path.empty()) {
    scopes += "'" + path + "', ";
    classes += "'" + cls + "', ";
  }
  md["pkg.torch.onnx.name_scopes"] = scopes + "'" + op + "']";
  md["pkg.torch.onnx.class_hierarchy"] = classes + "'aten." + op + ".default']";
  md["namespace"] = ": model.Model/" + path + ": " + cls;
  if (!rule.empty()) md["pkg.onnxscript.rewriter.rule_name"] = rule;
  return md;
}

void set_signature(Graph& g, const std::vector<std::string>& parameters) {
  std::string text = "\n# inputs\n";
  for (const std::string& p : parameters) {
    std::string arg = "p_" + p;
    std::replace(arg.begin(), arg.end(), '.', '_');
    text += arg + ": PARAMETER target='" + p + "'\n";
  }
  text += "x: USER_INPUT\n\n# outputs\ny: USER_OUTPUT\n";
  g.set_metadata({{"pkg.torch.export.ExportedProgram.graph_signature", text}});
}

const char* kLayerNorm = "torch.nn.modules.normalization.LayerNorm";
const char* kLinear = "torch.nn.modules.linear.Linear";

// Two encoder layers as the optimizer leaves them: layer 1's LayerNorm and Linear bias read
// layer 0's initializers (equal values merged), the Linear weights are transposed "val_N"
// initializers, and a scale constant was lifted to "val_9".
//   h_l = LayerNorm_l(in); y_l = h_l W_l^T + b_l; layer 0 scales y_0 by val_9.
Graph merged_encoder(bool with_metadata) {
  Graph g;
  g.set_label("encoder.onnx");
  g.set_opset("", 18);
  g.add_input("x", DType::kF32, Shape{"N", 4});
  g.add_initializer("enc.0.norm.weight", floats({4}, {1, 2, 0.5f, -1}));
  g.add_initializer("enc.0.norm.bias", floats({4}, {0.1f, 0, -0.2f, 0.3f}));
  g.add_initializer("enc.0.fc.bias", floats({3}, {0.5f, -0.5f, 0.25f}));
  // [in=4, out=3]: PyTorch's weight is the transpose.
  g.add_initializer("val_2", floats({4, 3}, {1, 2, 3, 4, 5, 6, -1, -2, -3, 0.5f, 0.25f, 0}));
  g.add_initializer("val_5",
                    floats({3, 4}, {0.1f, 0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f, 0.9f, 1, -1, 0}));
  g.add_initializer("val_9", floats({}, {0.5f}));
  auto md = [&](const std::string& path, const std::string& cls, const std::string& op) {
    return with_metadata ? from_module(path, cls, op) : Metadata{};
  };
  g.add_node({"LayerNormalization",
              {"x", "enc.0.norm.weight", "enc.0.norm.bias"},
              {"h0"},
              {},
              "ln0",
              "",
              md("enc.0.norm", kLayerNorm, "layer_norm")});
  g.add_node({"MatMul", {"h0", "val_2"}, {"m0"}, {}, "mm0", "", md("enc.0.fc", kLinear, "linear")});
  g.add_node({"Add", {"m0", "enc.0.fc.bias"}, {"y0"}, {}, "add0", "", md("enc.0.fc", kLinear, "linear")});
  g.add_node({"Mul", {"y0", "val_9"}, {"z0"}, {}, "scale", "", md("enc.0", "model.Layer", "mul")});
  g.add_node({"MatMul", {"z0", "val_5"}, {"up"}, {}, "up", "", md("", "", "matmul")});
  g.add_node({"LayerNormalization",
              {"up", "enc.0.norm.weight", "enc.0.norm.bias"},
              {"h1"},
              {},
              "ln1",
              "",
              md("enc.1.norm", kLayerNorm, "layer_norm_1")});
  g.add_node({"MatMul", {"h1", "val_2"}, {"m1"}, {}, "mm1", "", md("enc.1.fc", kLinear, "linear_1")});
  g.add_node({"Add", {"m1", "enc.0.fc.bias"}, {"y"}, {}, "add1", "", md("enc.1.fc", kLinear, "linear_1")});
  g.add_output("y");
  if (with_metadata) {
    set_signature(g, {"enc.0.norm.weight", "enc.0.norm.bias", "enc.0.fc.weight", "enc.0.fc.bias",
                      "enc.1.norm.weight", "enc.1.norm.bias", "enc.1.fc.weight", "enc.1.fc.bias"});
  }
  return g;
}

TEST(GraphRepairDynamo, UntiesMergedInitializersPerModuleAndRenamesTransposedWeights) {
  GraphModule m(merged_encoder(true));
  EXPECT_EQ(parameter_names(m),
            sorted({"enc.0.norm.weight", "enc.0.norm.bias", "enc.0.fc.weight", "enc.0.fc.bias",
                    "enc.1.norm.weight", "enc.1.norm.bias", "enc.1.fc.weight", "enc.1.fc.bias"}));
  const TrainabilityReport& r = m->report();
  // val_2 serves both layers: each gets its own copy in PyTorch's [out, in] layout.
  EXPECT_EQ(sorted(r.mapped),
            sorted({"enc.0.fc.weight <- val_2 (transposed)", "enc.1.fc.weight <- val_2 (transposed)"}));
  EXPECT_EQ(sorted(r.untied), sorted({"enc.1.norm.weight (was shared with enc.0.norm.weight)",
                                      "enc.1.norm.bias (was shared with enc.0.norm.bias)",
                                      "enc.1.fc.bias (was shared with enc.0.fc.bias)"}));
  // val_5 (no module) and the scale val_9 stay constants: frozen, not parameters.
  EXPECT_EQ(sorted(r.unmapped_constants), sorted({"val_5", "val_9"}));
  EXPECT_TRUE(r.unmapped_parameters.empty());
  EXPECT_TRUE(r.folded_batchnorm.empty());
  EXPECT_TRUE(r.missing_parameters.empty());  // every parameter of the signature is in the graph now
  auto params = m->named_parameters();
  const std::vector<float> w_t{1, 4, -1, 0.5f, 2, 5, -2, 0.25f, 3, 6, -3, 0};
  EXPECT_EQ(params["enc.0.fc.weight"].to_vector<float>(), w_t);
  EXPECT_EQ(params["enc.1.fc.weight"].to_vector<float>(), w_t);
  EXPECT_EQ(params["enc.1.fc.weight"].shape(), (Dims{3, 4}));
  EXPECT_EQ(params["enc.1.norm.bias"].to_vector<float>(), (std::vector<float>{0.1f, 0, -0.2f, 0.3f}));

  // The same function as the file (the graph without metadata, trained tied), and each untied
  // copy's gradient is its share of the tied tensor's gradient.
  GraphModule tied(merged_encoder(false));
  EXPECT_EQ(parameter_names(tied), sorted({"enc.0.norm.weight", "enc.0.norm.bias", "enc.0.fc.bias"}));
  const Tensor x = floats({2, 4}, {1, -2, 3, 0.5f, -1, 0, 2, 4});
  const Tensor probe = floats({2, 3}, {1, -1, 2, 0.5f, 3, -2});
  Tensor y = m->forward(x), y_tied = tied->forward(x);
  std::vector<float> a = y.to_vector<float>(), b = y_tied.to_vector<float>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << i;
  sum(y * probe).backward();
  sum(y_tied * probe).backward();
  auto tied_params = tied->named_parameters();
  for (const char* p : {"norm.weight", "norm.bias", "fc.bias"}) {
    std::vector<float> g0 = params[std::string("enc.0.") + p].grad().to_vector<float>();
    std::vector<float> g1 = params[std::string("enc.1.") + p].grad().to_vector<float>();
    std::vector<float> gt = tied_params[std::string("enc.0.") + p].grad().to_vector<float>();
    ASSERT_EQ(g0.size(), gt.size());
    for (size_t i = 0; i < gt.size(); ++i) EXPECT_NEAR(g0[i] + g1[i], gt[i], 1e-4) << p << " " << i;
    EXPECT_NE(g0, g1) << p;  // really two tensors
  }
  // fc.bias of the last layer: dL/db = sum over the batch of the probe.
  EXPECT_EQ(params["enc.1.fc.bias"].grad().to_vector<float>(), (std::vector<float>{1.5f, 2, 0}));
  EXPECT_EQ(params["enc.0.fc.weight"].grad().shape(), (Dims{3, 4}));
}

// MultiheadAttention: the packed in_proj (out = 3 * in) as MatMul + Add, out_proj as a Gemm
// whose zero bias the rewriter removed (RemoveOptionalBiasFromGemm): restored as zeros.
TEST(GraphRepairDynamo, MultiheadAttentionProjectionsAndRemovedZeroBias) {
  Graph g;
  g.set_opset("", 18);
  g.add_input("x", DType::kF32, Shape{"N", 2});
  g.add_initializer("val_3", floats({2, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  g.add_initializer("attn.in_proj_bias", floats({6}, {0, 0, 0, 0, 0, 1}));
  g.add_initializer("attn.out_proj.weight", floats({2, 2}, {1, 0, 0, 2}));
  const char* mha = "torch.nn.modules.activation.MultiheadAttention";
  g.add_node({"MatMul", {"x", "val_3"}, {"p"}, {}, "in_mm", "", from_module("attn", mha, "linear")});
  g.add_node(
      {"Add", {"p", "attn.in_proj_bias"}, {"qkv"}, {}, "in_add", "", from_module("attn", mha, "linear")});
  Attributes trans_b;
  trans_b.set("transB", int64_t{1});
  g.add_node({"Gemm",
              {"x", "attn.out_proj.weight"},
              {"o"},
              trans_b,
              "out_gemm",
              "",
              from_module("attn", mha, "linear_1", "RemoveOptionalBiasFromGemm")});
  g.add_output("qkv");
  g.add_output("o");
  set_signature(g,
                {"attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias"});
  GraphModule m(std::move(g));
  EXPECT_EQ(parameter_names(m), sorted({"attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
                                        "attn.out_proj.bias"}));
  auto params = m->named_parameters();
  EXPECT_EQ(params["attn.in_proj_weight"].shape(), (Dims{6, 2}));
  EXPECT_EQ(params["attn.out_proj.bias"].to_vector<float>(), (std::vector<float>{0, 0}));
  ASSERT_EQ(m->report().mapped.size(), 2u);
  EXPECT_EQ(m->report().mapped[0], "attn.in_proj_weight <- val_3 (transposed)");
  EXPECT_NE(m->report().mapped[1].find("attn.out_proj.bias <- zeros"), std::string::npos);
  EXPECT_NE(m->report().mapped[1].find("RemoveOptionalBiasFromGemm"), std::string::npos);
  std::vector<Tensor> out = m->forward_all({floats({2, 2}, {1, 1, 2, -1})});
  EXPECT_EQ(out[0].to_vector<float>(), (std::vector<float>{8, 10, 12, 14, 16, 19, -5, -4, -3, -2, -1, 1}));
  EXPECT_EQ(out[1].to_vector<float>(), (std::vector<float>{1, 2, 2, -2}));
  sum(out[1]).backward();
  EXPECT_EQ(params["attn.out_proj.bias"].grad().to_vector<float>(), (std::vector<float>{2, 2}));
}

// The metadata lists every rule applied to a node; a Conv2d's zero bias removed among others is
// restored with the conv's output channels.
TEST(GraphRepairDynamo, ConvZeroBiasRemovedAmongOtherRulesIsRestored) {
  Graph g;
  g.set_opset("", 18);
  g.add_input("x", DType::kF32, Shape{"N", 1, 1, 1});
  g.add_initializer("se.fc1.weight", floats({3, 1, 1, 1}, {1, 2, 3}));
  g.add_node({"Conv",
              {"x", "se.fc1.weight"},
              {"y"},
              {},
              "conv",
              "",
              from_module("se.fc1", "torch.nn.modules.conv.Conv2d", "conv2d",
                          "FuseConsecutiveTransposes, RemoveOptionalBiasFromConv")});
  g.add_output("y");
  GraphModule m(std::move(g));
  EXPECT_EQ(parameter_names(m), sorted({"se.fc1.weight", "se.fc1.bias"}));
  EXPECT_EQ(m->named_parameters()["se.fc1.bias"].to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(m->report().mapped,
            (std::vector<std::string>{"se.fc1.bias <- zeros (the exporter's "
                                      "RemoveOptionalBiasFromConv dropped this zero bias)"}));
  EXPECT_EQ(m->forward(floats({1, 1, 1, 1}, {2})).to_vector<float>(), (std::vector<float>{2, 4, 6}));
}

// A decomposed RMSNorm (opset < 23): Pow's exponent 2.0 and eps are lifted to val_N
// initializers. Trained, the exponent's gradient x^2 ln x is NaN for negative x; they are
// constants. The norm weight merged across two RMSNorms is untied.
TEST(GraphRepairDynamo, LiftedConstantsAreFrozenAndNormWeightsUntied) {
  Graph g;
  g.set_opset("", 18);
  g.add_input("x", DType::kF32, Shape{"N", 3});
  g.add_initializer("val_1", floats({}, {2}));
  g.add_initializer("val_5", floats({}, {1e-5f}));
  g.add_initializer("a_norm.weight", floats({3}, {1, 1, 1}));
  const char* rms = "torch.nn.modules.normalization.RMSNorm";
  g.add_node({"Pow", {"x", "val_1"}, {"sq"}, {}, "pow", "", from_module("a_norm", rms, "pow")});
  g.add_node({"Add", {"sq", "val_5"}, {"ms"}, {}, "eps", "", from_module("a_norm", rms, "add")});
  g.add_node({"Sqrt", {"ms"}, {"rt"}, {}, "sqrt", "", from_module("a_norm", rms, "sqrt")});
  g.add_node({"Div", {"x", "rt"}, {"n"}, {}, "div", "", from_module("a_norm", rms, "div")});
  g.add_node({"Mul", {"n", "a_norm.weight"}, {"h"}, {}, "mul_a", "", from_module("a_norm", rms, "mul")});
  g.add_node({"Mul", {"h", "a_norm.weight"}, {"y"}, {}, "mul_b", "", from_module("b_norm", rms, "mul_1")});
  g.add_output("y");
  GraphModule m(std::move(g));  // no signature: every role-derived name is taken
  EXPECT_EQ(parameter_names(m), sorted({"a_norm.weight", "b_norm.weight"}));
  EXPECT_EQ(sorted(m->report().unmapped_constants), sorted({"val_1", "val_5"}));
  EXPECT_EQ(m->report().untied, (std::vector<std::string>{"b_norm.weight (was shared with a_norm.weight)"}));
  sum(m->forward(floats({2, 3}, {-1, -2, 3, -0.5f, 4, -4}))).backward();
  for (const auto& item : m->named_parameters())
    for (float v : item.second.grad().to_vector<float>()) EXPECT_TRUE(std::isfinite(v)) << item.first;
}

// Opset 23's RMSNormalization reading one weight from three modules.
TEST(GraphRepairDynamo, RmsNormalizationWeightUntiedPerModule) {
  Graph g;
  g.set_opset("", 23);
  g.add_input("x", DType::kF32, Shape{"N", 2});
  g.add_initializer("block.attn_norm.weight", floats({2}, {1, 1}));
  const char* rms = "torch.nn.modules.normalization.RMSNorm";
  g.add_node({"RMSNormalization",
              {"x", "block.attn_norm.weight"},
              {"a"},
              {},
              "n0",
              "",
              from_module("block.attn_norm", rms, "rms_norm")});
  g.add_node({"RMSNormalization",
              {"a", "block.attn_norm.weight"},
              {"b"},
              {},
              "n1",
              "",
              from_module("block.mlp_norm", rms, "rms_norm_1")});
  g.add_node({"RMSNormalization",
              {"b", "block.attn_norm.weight"},
              {"y"},
              {},
              "n2",
              "",
              from_module("norm", rms, "rms_norm_2")});
  g.add_output("y");
  set_signature(g, {"block.attn_norm.weight", "block.mlp_norm.weight", "norm.weight"});
  GraphModule m(std::move(g));
  EXPECT_EQ(parameter_names(m), sorted({"block.attn_norm.weight", "block.mlp_norm.weight", "norm.weight"}));
  EXPECT_EQ(m->report().untied.size(), 2u);
}

// Names the exported program does not have are not made: a Linear weight whose name is not in
// the signature stays "val_N", a frozen constant. The Embedding's weight is renamed as is.
TEST(GraphRepairDynamo, OnlyNamesOfTheSignatureAreMade) {
  Graph g;
  g.set_opset("", 18);
  g.add_input("x", DType::kI64, Shape{"N"});
  g.add_initializer("val_3", floats({5, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  g.add_initializer("val_8", floats({2, 2}, {1, 0, 0, 1}));
  g.add_node({"Gather",
              {"val_3", "x"},
              {"e"},
              {},
              "embedding",
              "",
              from_module("embed", "torch.nn.modules.sparse.Embedding", "embedding")});
  g.add_node({"MatMul", {"e", "val_8"}, {"y"}, {}, "fc", "", from_module("fc", kLinear, "linear")});
  g.add_output("y");
  set_signature(g, {"embed.weight"});
  GraphModule m(std::move(g));
  EXPECT_EQ(parameter_names(m), (std::vector<std::string>{"embed.weight"}));
  EXPECT_EQ(m->report().mapped, (std::vector<std::string>{"embed.weight <- val_3"}));
  EXPECT_EQ(m->report().unmapped_constants, (std::vector<std::string>{"val_8"}));
  EXPECT_EQ(m->named_parameters()["embed.weight"].to_vector<float>(),
            (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(m->forward(Tensor::from_vector<int64_t>({2}, {4, 1})).to_vector<float>(),
            (std::vector<float>{8, 9, 2, 3}));
}

// A parameter a custom module reads in its own forward (no layer class to name its role), merged
// with the equal one of the next layer: untied by its name relative to its module, when the
// signature lists the other layer's name.
Graph layer_scales(bool signature) {
  Graph g;
  g.set_opset("", 18);
  g.add_input("x", DType::kF32, Shape{"N", 2});
  g.add_initializer("enc.0.gamma", floats({2}, {0.5f, 2}));
  g.add_node(
      {"Mul", {"x", "enc.0.gamma"}, {"h"}, {}, "mul_0", "", from_module("enc.0", "model.Layer", "mul")});
  g.add_node(
      {"Mul", {"h", "enc.0.gamma"}, {"y"}, {}, "mul_1", "", from_module("enc.1", "model.Layer", "mul_1")});
  g.add_output("y");
  if (signature) set_signature(g, {"enc.0.gamma", "enc.1.gamma"});
  return g;
}

TEST(GraphRepairDynamo, CustomModuleParameterUntiedByItsRelativeName) {
  GraphModule m(layer_scales(true));
  EXPECT_EQ(parameter_names(m), sorted({"enc.0.gamma", "enc.1.gamma"}));
  EXPECT_EQ(m->report().untied, (std::vector<std::string>{"enc.1.gamma (was shared with enc.0.gamma)"}));
  sum(m->forward(floats({1, 2}, {1, 1}))).backward();
  // y = x * g0 * g1: dy/dg0 = x * g1, dy/dg1 = x * g0.
  EXPECT_EQ(m->named_parameters()["enc.0.gamma"].grad().to_vector<float>(), (std::vector<float>{0.5f, 2}));
  EXPECT_EQ(m->named_parameters()["enc.1.gamma"].grad().to_vector<float>(), (std::vector<float>{0.5f, 2}));
  // Without the signature nothing says enc.1 has a gamma: left as exported (tied).
  GraphModule tied(layer_scales(false));
  EXPECT_EQ(parameter_names(tied), (std::vector<std::string>{"enc.0.gamma"}));
}

// The rewriter's FuseBatchNormIntoConv: the Conv (in the BatchNorm's scope) carries the folded
// weight under the conv's own name and a new val_N bias. Reported as folded; the folded conv
// trains (its new bias under the ONNX name, listed as unmapped).
TEST(GraphRepairDynamo, BatchNormFoldedByTheRewriterIsReported) {
  Graph g;
  g.set_label("cnn.onnx");
  g.set_opset("", 18);
  g.add_input("x", DType::kF32, Shape{"N", 1, 2, 2});
  g.add_initializer("features.0.weight", floats({2, 1, 1, 1}, {2, -1}));
  g.add_initializer("val_7", floats({2}, {0.5f, 0.25f}));
  g.add_node({"Conv",
              {"x", "features.0.weight", "val_7"},
              {"y"},
              {},
              "node_Conv_13",
              "",
              from_module("features.1", "torch.nn.modules.batchnorm.BatchNorm2d",
                          "_native_batch_norm_legit_no_training", "FuseBatchNormIntoConv")});
  g.add_output("y");
  set_signature(g, {"features.0.weight", "features.1.weight", "features.1.bias"});
  GraphModule m(std::move(g));
  const TrainabilityReport& r = m->report();
  // The BatchNorm's own parameters are gone from the file: listed as missing.
  EXPECT_EQ(r.missing_parameters, (std::vector<std::string>{"features.1.bias", "features.1.weight"}));
  ASSERT_EQ(r.folded_batchnorm.size(), 1u);
  EXPECT_NE(r.folded_batchnorm[0].find("features.0.weight (node 'node_Conv_13' (Conv))"), std::string::npos)
      << r.folded_batchnorm[0];
  EXPECT_NE(r.folded_batchnorm[0].find("FuseBatchNormIntoConv"), std::string::npos);
  EXPECT_EQ(r.unmapped_parameters, (std::vector<std::string>{"val_7"}));
  EXPECT_EQ(parameter_names(m), sorted({"features.0.weight", "val_7"}));
}

}  // namespace
}  // namespace kiln::nn
