// Inference passes: each rewrite has the expected nodes, and the rewritten graph computes the
// same outputs as the original on the cpu backend (seeded random inputs, within 1e-5).

#include "kiln/runtime/passes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>

#include "kiln/runtime/executor.h"
#include "kiln/runtime/op_registry.h"
#include "test_backends.h"
#include "test_errors.h"

namespace kiln {
namespace {

using AttrList = std::initializer_list<std::pair<std::string, Attribute>>;

Attributes attrs(AttrList list) {
  Attributes a;
  for (const auto& [name, value] : list) a.set(name, value);
  return a;
}

Tensor random_tensor(const Dims& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(checked_numel(shape)));
  for (float& x : v) x = dist(gen);
  return Tensor::from_vector(shape, v);
}

Tensor i64s(const Dims& shape, std::vector<int64_t> v) { return Tensor::from_vector(shape, v); }

// op type (domain-qualified when not ONNX's) -> count
std::map<std::string, int> op_counts(const Graph& g) {
  std::map<std::string, int> counts;
  for (const Node* n : g.nodes())
    ++counts[n->domain().empty() ? n->op_type() : n->domain() + "." + n->op_type()];
  return counts;
}

std::vector<Tensor> run_cpu(const Graph& g, const std::vector<Tensor>& inputs) {
  Executor ex(g, ExecutorOptions{{"cpu"}, false, 0}, test_registry());
  return ex.run(inputs);
}

// Runs both graphs on the same inputs and expects equal outputs within 1e-5 (relative for
// large values).
void expect_same_outputs(const Graph& original, const Graph& optimized, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> want = run_cpu(original, inputs), got = run_cpu(optimized, inputs);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].shape(), got[i].shape()) << "output " << i;
    ASSERT_EQ(want[i].dtype(), got[i].dtype()) << "output " << i;
    if (want[i].dtype() != DType::kF32) continue;
    std::vector<float> w = want[i].to_vector<float>(), g = got[i].to_vector<float>();
    for (size_t k = 0; k < w.size(); ++k)
      ASSERT_NEAR(g[k], w[k], 1e-5 * std::max(1.f, std::fabs(w[k]))) << "output " << i << " element " << k;
  }
}

// Clone, optimize with `pass`, validate, and compare outputs.
template <class Pass>
Graph rewritten(const Graph& original, Pass pass, size_t expected_changes,
                const std::vector<Tensor>& inputs) {
  Graph g = original.clone();
  validate(g);
  EXPECT_EQ(pass(g), expected_changes);
  validate(g);
  expect_same_outputs(original, g, inputs);
  return g;
}

size_t fold(Graph& g) { return fold_constants(g, test_registry()); }

// ---------------------------------------------------------------------------------------------
// Constant folding

TEST(FoldConstants, PyTorchShapeChainWithStaticShapes) {
  // x.reshape(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{2, 3, 4});
  Value* shape = g.op1("Shape", {x});
  Value* n = g.op1("Gather", {shape, g.add_initializer("zero", Tensor::scalar<int64_t>(0))},
                   attrs({{"axis", int64_t{0}}}));
  Value* n1 = g.op1("Unsqueeze", {n, g.add_initializer("axes", i64s({1}, {0}))});
  Value* target =
      g.op1("Concat", {n1, g.add_initializer("minus1", i64s({1}, {-1}))}, attrs({{"axis", int64_t{0}}}));
  g.add_output(g.op1("Reshape", {x, target})->name());
  Graph opt = rewritten(g, fold, 4, {random_tensor({2, 3, 4}, 1)});
  eliminate_dead_code(opt);
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Reshape", 1}}));
  const Tensor* folded = opt.nodes()[0]->input(1)->initializer();
  ASSERT_NE(folded, nullptr);
  EXPECT_EQ(folded->to_vector<int64_t>(), (std::vector<int64_t>{2, -1}));
}

TEST(FoldConstants, StaticDimsOfADynamicBatchShape) {
  // x.reshape(-1, x.size(1) * x.size(2)) with a symbolic batch: only the static dims fold.
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 3, 4});
  Value* shape = g.op1("Shape", {x});
  Value* axis0 = g.add_initializer("axes", i64s({1}, {0}));
  Value* d1 = g.op1("Gather", {shape, g.add_initializer("one", Tensor::scalar<int64_t>(1))});
  Value* d2 = g.op1("Gather", {shape, g.add_initializer("two", Tensor::scalar<int64_t>(2))});
  Value* prod = g.op1("Unsqueeze", {g.op1("Mul", {d1, d2}), axis0});
  Value* target =
      g.op1("Concat", {g.add_initializer("minus1", i64s({1}, {-1})), prod}, attrs({{"axis", int64_t{0}}}));
  g.add_output(g.op1("Reshape", {x, target})->name());
  Graph opt = g.clone();
  EXPECT_EQ(fold(opt), 5u);                      // both Gathers, Mul, Unsqueeze, Concat
  EXPECT_EQ(eliminate_dead_code(opt), 1u + 8u);  // Shape; 4 constants and 4 folded values the chain used
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Reshape", 1}}));
  for (int64_t batch : {1, 5}) expect_same_outputs(g, opt, {random_tensor({batch, 3, 4}, 2)});
}

TEST(FoldConstants, WeightTransposeAndSmallArithmeticRunOnABackend) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 64});
  Value* wt = g.op1("Transpose", {g.add_initializer("w", random_tensor({32, 64}, 3))},
                    attrs({{"perm", std::vector<int64_t>{1, 0}}}));
  Value* scale = g.op1("Mul", {g.add_initializer("a", random_tensor({32}, 4)),
                               g.add_initializer("b", random_tensor({32}, 5))});
  g.add_output(g.op1("Mul", {g.op1("MatMul", {x, wt}), scale})->name());
  Graph opt = rewritten(g, fold, 2, {random_tensor({3, 64}, 6)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"MatMul", 1}, {"Mul", 1}}));
  EXPECT_EQ(eliminate_dead_code(opt), 3u);  // w, a, b
  EXPECT_EQ(opt.initializers().size(), 2u);
  expect_same_outputs(g, opt, {random_tensor({3, 64}, 7)});
}

TEST(FoldConstants, BigResultsThatDuplicateConstantsStay) {
  // Expand of a small constant to 4 MiB: folding would add memory and save almost nothing.
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{1024, 1024});
  Value* big = g.op1("Expand", {g.add_initializer("row", random_tensor({1, 1024}, 8)),
                                g.add_initializer("shape", i64s({2}, {1024, 1024}))});
  g.add_output(g.op1("Add", {x, big})->name());
  // A 1 MiB transpose of a weight used elsewhere too folds (at the cap).
  Value* y = g.add_input("y", DType::kF32, Shape{512, 512});
  Value* w = g.add_initializer("w", random_tensor({512, 512}, 9));
  g.add_output(g.op1("Add", {y, g.op1("Transpose", {w})})->name());
  g.add_output(g.op1("Add", {y, w})->name());
  Graph opt = g.clone();
  EXPECT_EQ(fold(opt), 1u);
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Add", 3}, {"Expand", 1}}));
  expect_same_outputs(g, opt, {random_tensor({1024, 1024}, 10), random_tensor({512, 512}, 15)});
}

TEST(FoldConstants, WithoutBackendsOnlyShapeArithmeticFolds) {
  BackendRegistry none(std::vector<std::string>{});
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{2, 3});
  Value* wt = g.op1("Transpose", {g.add_initializer("w", random_tensor({3, 2}, 11))});
  Value* target = g.op1("Shape", {g.add_input("y", DType::kF32, Shape{4})});
  g.add_output(g.op1("Reshape", {g.op1("MatMul", {x, g.op1("Transpose", {wt})}), target})->name());
  Graph opt = g.clone();
  EXPECT_EQ(fold_constants(opt, none), 1u);  // Shape only
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"MatMul", 1}, {"Reshape", 1}, {"Transpose", 2}}));
  expect_same_outputs(g, opt, {random_tensor({2, 3}, 12), random_tensor({4}, 16)});
}

TEST(FoldConstants, ConstantNodesAndFoldedGraphOutputs) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{4});
  Value* c = g.op1("Constant", {}, attrs({{"value", random_tensor({4}, 13)}}));
  Value* s = g.op1("Sqrt", {g.op1("Abs", {c})});
  g.add_output(s->name());  // a graph output that becomes an initializer
  g.add_output(g.op1("Add", {x, s})->name());
  Graph opt = rewritten(g, fold, 3, {random_tensor({4}, 14)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Add", 1}}));
  EXPECT_NE(opt.outputs()[0]->initializer(), nullptr);
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization folding

// x -> Conv(W[, B]) -> BatchNormalization -> output
Graph conv_bn(bool conv_bias, const Shape& x_shape = Shape{2, 3, 8, 8}) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, x_shape);
  std::vector<Value*> conv_in{x, g.add_initializer("conv.weight", random_tensor({4, 3, 3, 3}, 20))};
  if (conv_bias) conv_in.push_back(g.add_initializer("conv.bias", random_tensor({4}, 21)));
  Value* y =
      g.op1("Conv", conv_in,
            attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{2, 2}}}));
  Value* z = g.op1("BatchNormalization",
                   {y, g.add_initializer("bn.weight", random_tensor({4}, 22, 0.5f, 2.f)),
                    g.add_initializer("bn.bias", random_tensor({4}, 23)),
                    g.add_initializer("bn.running_mean", random_tensor({4}, 24)),
                    g.add_initializer("bn.running_var", random_tensor({4}, 25, 0.1f, 3.f))},
                   attrs({{"epsilon", 1e-3f}}));
  g.add_output(z->name());
  return g;
}

TEST(FoldBatchNorm, ConvWithAndWithoutBias) {
  for (bool bias : {true, false}) {
    Graph g = conv_bn(bias);
    Graph opt = rewritten(g, fold_batch_norm, 1, {random_tensor({2, 3, 8, 8}, 26)});
    EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Conv", 1}}));
    EXPECT_EQ(opt.nodes()[0]->inputs().size(), 3u);
    EXPECT_EQ(opt.outputs()[0]->name(), g.outputs()[0]->name());
    EXPECT_EQ(eliminate_dead_code(opt), bias ? 6u : 5u);
  }
}

TEST(FoldBatchNorm, DynamicBatch) {
  Graph g = conv_bn(true, Shape{"N", 3, 8, 8});
  Graph opt = rewritten(g, fold_batch_norm, 1, {random_tensor({5, 3, 8, 8}, 27)});
  expect_same_outputs(g, opt, {random_tensor({1, 3, 8, 8}, 28)});
}

TEST(FoldBatchNorm, NotWhenTheConvOutputHasAnotherConsumer) {
  Graph g = conv_bn(true);
  g.add_output(g.op1("Relu", {g.nodes()[0]->output(0)})->name());
  Graph opt = rewritten(g, fold_batch_norm, 0, {random_tensor({2, 3, 8, 8}, 29)});
  EXPECT_EQ(op_counts(opt),
            (std::map<std::string, int>{{"BatchNormalization", 1}, {"Conv", 1}, {"Relu", 1}}));
}

TEST(FoldBatchNorm, NotWhenParametersAreInputs) {
  Graph g = conv_bn(true);
  Value* mean = g.add_input("mean", DType::kF32, Shape{4});
  Node* bn = g.nodes()[1];
  NodeSpec spec{"BatchNormalization", {}, {bn->output(0)->name()}, bn->attrs()};
  for (const Value* v : bn->inputs()) spec.inputs.push_back(v->name());
  spec.inputs[3] = mean->name();
  g.remove_node(bn);
  g.add_node(spec);
  validate(g);
  Graph opt = g.clone();
  EXPECT_EQ(fold_batch_norm(opt), 0u);
}

// ---------------------------------------------------------------------------------------------
// Bias and activation fusion

struct ConvChain {
  Graph graph;
  Value* conv_out = nullptr;
};

// x -> Conv -> [Add bias] -> [activation]
ConvChain conv_chain(bool conv_bias, const Dims& add_bias_shape, const std::string& act) {
  ConvChain c;
  Graph& g = c.graph;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 4, 9, 9});
  std::vector<Value*> in{x, g.add_initializer("w", random_tensor({6, 2, 3, 3}, 30))};
  if (conv_bias) in.push_back(g.add_initializer("b", random_tensor({6}, 31)));
  Value* y = c.conv_out =
      g.op1("Conv", in, attrs({{"group", int64_t{2}}, {"pads", std::vector<int64_t>{1, 0, 1, 0}}}));
  if (!add_bias_shape.empty())
    y = g.op1("Add", {g.add_initializer("bias", random_tensor(add_bias_shape, 32)), y});
  if (act == "Relu") y = g.op1("Relu", {y});
  if (act == "Clip")
    y = g.op1("Clip", {y, g.add_initializer("lo", Tensor::scalar(-0.25f)),
                       g.add_initializer("hi", Tensor::scalar(0.5f))});
  g.add_output(y->name());
  return c;
}

TEST(FuseBiasActivation, ConvAddRelu) {
  Graph opt = rewritten(conv_chain(false, {1, 6, 1, 1}, "Relu").graph, fuse_bias_activation, 1,
                        {random_tensor({2, 4, 9, 9}, 33)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"kiln.FusedConv", 1}}));
  const Node* n = opt.nodes()[0];
  EXPECT_EQ(n->attrs().get_string("activation", ""), "Relu");
  EXPECT_EQ(n->attrs().get_int("group", 1), 2);
  EXPECT_EQ(n->inputs().size(), 3u);
  EXPECT_EQ(opt.opset("kiln"), 1);
}

TEST(FuseBiasActivation, ConvWithBiasPlusAddAndClip) {
  Graph opt = rewritten(conv_chain(true, {6, 1, 1}, "Clip").graph, fuse_bias_activation, 1,
                        {random_tensor({3, 4, 9, 9}, 34)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"kiln.FusedConv", 1}}));
  EXPECT_EQ(opt.nodes()[0]->attrs().get_float("activation_min", 0), -0.25f);
  EXPECT_EQ(opt.nodes()[0]->attrs().get_float("activation_max", 0), 0.5f);
}

TEST(FuseBiasActivation, ConvAddAloneBecomesTheConvBias) {
  Graph opt = rewritten(conv_chain(true, {1, 6, 1, 1}, "").graph, fuse_bias_activation, 1,
                        {random_tensor({1, 4, 9, 9}, 35)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Conv", 1}}));
  // A scalar bias also broadcasts over the channels.
  Graph opt2 = rewritten(conv_chain(false, {1}, "Relu").graph, fuse_bias_activation, 1,
                         {random_tensor({1, 4, 9, 9}, 36)});
  EXPECT_EQ(op_counts(opt2), (std::map<std::string, int>{{"kiln.FusedConv", 1}}));
}

TEST(FuseBiasActivation, ConvRelu) {
  Graph opt = rewritten(conv_chain(true, {}, "Relu").graph, fuse_bias_activation, 1,
                        {random_tensor({2, 4, 9, 9}, 37)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"kiln.FusedConv", 1}}));
}

TEST(FuseBiasActivation, NotWhenTheConvOutputIsAlsoAGraphOutput) {
  ConvChain c = conv_chain(false, {1, 6, 1, 1}, "Relu");
  c.graph.add_output(c.conv_out->name());
  Graph opt = rewritten(c.graph, fuse_bias_activation, 0, {random_tensor({2, 4, 9, 9}, 38)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Add", 1}, {"Conv", 1}, {"Relu", 1}}));
}

TEST(FuseBiasActivation, NotWhenTheConvOutputIsUsedTwice) {
  ConvChain c = conv_chain(false, {1, 6, 1, 1}, "Relu");
  c.graph.add_output(c.graph.op1("Sigmoid", {c.conv_out})->name());
  Graph opt = rewritten(c.graph, fuse_bias_activation, 0, {random_tensor({2, 4, 9, 9}, 39)});
  EXPECT_EQ(op_counts(opt),
            (std::map<std::string, int>{{"Add", 1}, {"Conv", 1}, {"Relu", 1}, {"Sigmoid", 1}}));
}

TEST(FuseBiasActivation, BiasFusesButReluStaysWhenTheSumIsUsedTwice) {
  ConvChain c = conv_chain(false, {1, 6, 1, 1}, "Relu");
  Value* sum = c.graph.nodes()[1]->output(0);
  c.graph.add_output(sum->name());
  Graph opt = rewritten(c.graph, fuse_bias_activation, 1, {random_tensor({2, 4, 9, 9}, 40)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Conv", 1}, {"Relu", 1}}));
}

TEST(FuseBiasActivation, NotForBiasesThatAreNotPerChannel) {
  // Varies along the width, or is an input: the Add stays.
  Graph g1 = conv_chain(false, {1, 1, 1, 7}, "").graph;
  Graph opt1 = rewritten(g1, fuse_bias_activation, 0, {random_tensor({2, 4, 9, 9}, 41)});
  Graph g2 = conv_chain(false, {}, "").graph;
  Value* bias = g2.add_input("bias", DType::kF32, Shape{1, 6, 1, 1});
  Value* y = g2.op1("Add", {g2.outputs()[0], bias});
  g2.add_output(y->name());
  Graph opt2 = rewritten(g2, fuse_bias_activation, 0,
                         {random_tensor({2, 4, 9, 9}, 42), random_tensor({1, 6, 1, 1}, 43)});
  // Clip bounds given at run time: no fusion either.
  Graph g3 = conv_chain(false, {}, "").graph;
  Value* lo = g3.add_input("lo", DType::kF32, Shape{});
  g3.add_output(g3.op1("Clip", {g3.outputs()[0], lo})->name());
  Graph opt3 =
      rewritten(g3, fuse_bias_activation, 0, {random_tensor({2, 4, 9, 9}, 44), Tensor::scalar(0.1f)});
}

// x -> Conv -> Add(x) -> [Relu]: ResNet's skip connection.
Graph residual_block(const Shape& x_shape, bool conv_bias, bool relu,
                     const Shape& z_shape = Shape::unknown_rank()) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, x_shape);
  Value* z = z_shape.has_rank() ? g.add_input("z", DType::kF32, z_shape) : x;
  std::vector<Value*> in{x, g.add_initializer("w", random_tensor({4, 4, 3, 3}, 200))};
  if (conv_bias) in.push_back(g.add_initializer("b", random_tensor({4}, 201)));
  Value* y = g.op1("Add", {z, g.op1("Conv", in, attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}))});
  if (relu) y = g.op1("Relu", {y});
  g.add_output(y->name());
  return g;
}

TEST(FuseBiasActivation, ResidualAddAndRelu) {
  Graph opt = rewritten(residual_block(Shape{"N", 4, 6, 6}, true, true), fuse_bias_activation, 1,
                        {random_tensor({2, 4, 6, 6}, 202)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"kiln.FusedConv", 1}}));
  ASSERT_EQ(opt.nodes()[0]->inputs().size(), 4u);
  EXPECT_EQ(opt.nodes()[0]->input(3)->name(), "x");
  Graph opt2 = rewritten(residual_block(Shape{"N", 4, 6, 6}, false, false), fuse_bias_activation, 1,
                         {random_tensor({3, 4, 6, 6}, 203)});
  EXPECT_EQ(op_counts(opt2), (std::map<std::string, int>{{"kiln.FusedConv", 1}}));
  EXPECT_EQ(opt2.nodes()[0]->input(2), nullptr);  // no B
}

TEST(FuseBiasActivation, NoResidualFusionWhenZBroadcastsOrHasUnknownDims) {
  // Z of [1, 4, 6, 6] broadcast over the batch: Y's buffer cannot start as Z.
  Graph g1 = residual_block(Shape{2, 4, 6, 6}, true, true, Shape{1, 4, 6, 6});
  Graph opt1 = rewritten(g1, fuse_bias_activation, 0,
                         {random_tensor({2, 4, 6, 6}, 204), random_tensor({1, 4, 6, 6}, 205)});
  EXPECT_EQ(op_counts(opt1), (std::map<std::string, int>{{"Add", 1}, {"Conv", 1}, {"Relu", 1}}));
  // Unknown dims might differ at run time (and broadcast).
  Graph g2 = residual_block(Shape{Dim(), 4, 6, 6}, true, true, Shape{Dim(), 4, 6, 6});
  Graph opt2 = rewritten(g2, fuse_bias_activation, 0,
                         {random_tensor({2, 4, 6, 6}, 206), random_tensor({2, 4, 6, 6}, 207)});
  EXPECT_EQ(op_counts(opt2), (std::map<std::string, int>{{"Add", 1}, {"Conv", 1}, {"Relu", 1}}));
}

TEST(FuseBiasActivation, SharedBiasConstantServesTwoFusions) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{2, 4, 5, 5});
  Value* bias = g.add_initializer("bias", random_tensor({1, 4, 1, 1}, 45));
  for (uint32_t i = 0; i < 2; ++i) {
    Value* y =
        g.op1("Conv", {x, g.add_initializer(i == 0 ? "w0" : "w1", random_tensor({4, 4, 1, 1}, 46 + i))});
    g.add_output(g.op1("Relu", {g.op1("Add", {y, bias})})->name());
  }
  Graph opt = rewritten(g, fuse_bias_activation, 2, {random_tensor({2, 4, 5, 5}, 48)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"kiln.FusedConv", 2}}));
}

TEST(FuseBiasActivation, GemmReluAndGemmAdd) {
  // PyTorch's Linear: Gemm(transB=1) with C, then Relu.
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 16});
  Value* h = g.op1("Gemm",
                   {x, g.add_initializer("fc1.weight", random_tensor({8, 16}, 50)),
                    g.add_initializer("fc1.bias", random_tensor({8}, 51))},
                   attrs({{"transB", int64_t{1}}, {"beta", 0.5f}, {"alpha", 2.f}}));
  h = g.op1("Relu", {h});
  Value* o = g.op1("Gemm", {h, g.add_initializer("fc2.weight", random_tensor({8, 4}, 52))});
  o = g.op1("Add", {o, g.add_initializer("fc2.extra", random_tensor({1, 4}, 53))});
  Value* p = g.op1("Gemm",
                   {h, g.add_initializer("fc3.weight", random_tensor({8, 4}, 54)),
                    g.add_initializer("fc3.bias", random_tensor({3, 4}, 55))},
                   attrs({{"beta", 3.f}}));
  p = g.op1("Clip",
            {g.op1("Add", {p, g.add_initializer("fc3.extra", random_tensor({4}, 56))}),
             g.add_initializer("zero", Tensor::scalar(0.f)), g.add_initializer("six", Tensor::scalar(0.6f))});
  g.add_output(o->name());
  g.add_output(p->name());
  Graph opt = rewritten(g, fuse_bias_activation, 3, {random_tensor({3, 16}, 57)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Gemm", 1}, {"kiln.FusedGemm", 2}}));
}

TEST(FuseBiasActivation, MatMulAddReluAndMatMulAdd) {
  // A transformer's Linear on [N, T, D]: MatMul then Add of the bias.
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 5, 8});
  Value* h = g.op1("MatMul", {x, g.add_initializer("w1", random_tensor({8, 12}, 60))});
  h = g.op1("Relu", {g.op1("Add", {h, g.add_initializer("b1", random_tensor({12}, 61))})});
  Value* o = g.op1("MatMul", {h, g.add_initializer("w2", random_tensor({12, 6}, 62))});
  o = g.op1("Add", {g.add_initializer("b2", random_tensor({1, 1, 6}, 63)), o});
  g.add_output(o->name());
  Graph opt = rewritten(g, fuse_bias_activation, 2, {random_tensor({2, 5, 8}, 64)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"kiln.FusedMatMul", 2}}));
  for (const Node* n : opt.nodes()) EXPECT_EQ(n->inputs().size(), 3u);
  expect_same_outputs(g, opt, {random_tensor({1, 5, 8}, 65)});
}

TEST(FuseBiasActivation, MatMulClipWithoutBias) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{4, 8});
  Value* h = g.op1("MatMul", {x, g.add_initializer("w", random_tensor({8, 3}, 66))});
  g.add_output(g.op1("Clip", {h, g.add_initializer("lo", Tensor::scalar(-0.1f))})->name());
  Graph opt = rewritten(g, fuse_bias_activation, 1, {random_tensor({4, 8}, 67)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"kiln.FusedMatMul", 1}}));
  EXPECT_EQ(opt.nodes()[0]->inputs().size(), 2u);
}

// PyTorch's export of the exact GELU: x * (1 + Erf(x / sqrt(2))) * 0.5.
// `p` prefixes the constants' names; div: Div by sqrt(2), else Mul by 1/sqrt(2) first.
Value* gelu_decomposition(Graph& g, Value* x, const std::string& p = "g", bool div = true) {
  Value* scaled = div ? g.op1("Div", {x, g.add_initializer(p + "sqrt2", Tensor::scalar(1.4142135f))})
                      : g.op1("Mul", {g.add_initializer(p + "rsqrt2", Tensor::scalar(0.70710677f)), x});
  Value* one_plus = g.op1("Add", {g.op1("Erf", {scaled}), g.add_initializer(p + "one", Tensor::scalar(1.f))});
  return g.op1("Mul", {g.op1("Mul", {x, one_plus}), g.add_initializer(p + "half", Tensor::scalar(0.5f))});
}

TEST(FuseGelu, PyTorchDecompositionsBecomeGelu) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 6});
  Value* a = gelu_decomposition(g, x);
  Value* b = gelu_decomposition(g, g.op1("Tanh", {a}), "h", /*div=*/false);
  g.add_output(b->name());
  Graph opt = rewritten(g, fuse_gelu, 2, {random_tensor({3, 6}, 170, -4.f, 4.f)});
  eliminate_dead_code(opt);
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Gelu", 2}, {"Tanh", 1}}));
}

TEST(FuseGelu, NotForOtherConstantsOrSharedIntermediates) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{2, 6});
  Value* erf = g.op1("Erf", {g.op1("Div", {x, g.add_initializer("two", Tensor::scalar(2.f))})});
  Value* y = g.op1("Mul", {g.op1("Mul", {x, g.op1("Add", {erf, g.add_initializer("one", Tensor::scalar(1.f))})}),
                           g.add_initializer("half", Tensor::scalar(0.5f))});
  g.add_output(y->name());
  Graph h;  // the Erf is also a graph output
  Value* hx = h.add_input("x", DType::kF32, Shape{2, 6});
  h.add_output(gelu_decomposition(h, hx)->name());
  h.add_output(h.nodes()[1]->output(0)->name());
  rewritten(g, fuse_gelu, 0, {random_tensor({2, 6}, 171)});
  rewritten(h, fuse_gelu, 0, {random_tensor({2, 6}, 172)});
}

TEST(FuseGelu, LinearGeluBecomesOneFusedGemm) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 16});
  Value* h = g.op1("Gemm",
                   {x, g.add_initializer("fc.weight", random_tensor({8, 16}, 173)),
                    g.add_initializer("fc.bias", random_tensor({8}, 174))},
                   attrs({{"transB", int64_t{1}}}));
  g.add_output(gelu_decomposition(g, h)->name());
  Graph opt = g.clone();
  optimize_for_inference(opt, test_registry());
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"kiln.FusedGemm", 1}}));
  EXPECT_EQ(opt.nodes()[0]->attrs().get_string("activation", ""), "Gelu");
  for (int64_t batch : {1, 32}) expect_same_outputs(g, opt, {random_tensor({batch, 16}, 175, -3.f, 3.f)});
}

// The fused ops' Gelu is the exact (erf) one: a tanh-approximated Gelu stays its own node.
TEST(FuseBiasActivation, TanhGeluIsNotFused) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 16});
  Value* h = g.op1("Gemm",
                   {x, g.add_initializer("fc.weight", random_tensor({8, 16}, 176)),
                    g.add_initializer("fc.bias", random_tensor({8}, 177))},
                   attrs({{"transB", int64_t{1}}}));
  g.add_output(g.op1("Gelu", {h}, attrs({{"approximate", std::string("tanh")}}))->name());
  Graph opt = g.clone();
  optimize_for_inference(opt, test_registry());
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Gemm", 1}, {"Gelu", 1}}));
  EXPECT_EQ(opt.nodes()[1]->attrs().get_string("approximate", ""), "tanh");
  for (int64_t batch : {1, 32}) expect_same_outputs(g, opt, {random_tensor({batch, 16}, 178, -3.f, 3.f)});
}

// ---------------------------------------------------------------------------------------------
// Identity removal

TEST(RemoveIdentities, ZeroPadsAndIdentityNodes) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 2, 4, 4});
  Value* zero = g.add_initializer("zero_pads", Tensor::from_vector(Dims{8}, std::vector<int64_t>(8, 0)));
  Value* some = g.add_initializer("pads", i64s({8}, {0, 0, 1, 1, 0, 0, 1, 1}));
  Value* h = g.op1("Relu", {g.op1("Pad", {g.op1("Identity", {x}), zero})});
  Value* padded = g.op1("Pad", {h, some});        // pads something: stays
  Value* out = g.op1("Identity", {g.op1("Neg", {h})});  // a graph output: stays
  g.add_output(padded->name());
  g.add_output(out->name());
  Graph opt = rewritten(g, remove_identities, 2, {random_tensor({2, 2, 4, 4}, 176)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Identity", 1}, {"Neg", 1}, {"Pad", 1}, {"Relu", 1}}));
  EXPECT_EQ(opt.outputs()[1]->name(), out->name());
}

// ---------------------------------------------------------------------------------------------
// Channels-last convolution chains

// conv -> MaxPool -> conv -> AveragePool counting pads with ceil_mode (no channels-last form).
Graph small_cnn_like() {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 1, 6, 6});
  Value* h = g.op1("Conv", {x, g.add_initializer("c1.w", random_tensor({4, 1, 3, 3}, 189))});
  h = g.op1("MaxPool", {h}, attrs({{"kernel_shape", std::vector<int64_t>{2, 2}}}));
  h = g.op1("Conv", {h, g.add_initializer("c2.w", random_tensor({3, 4, 1, 1}, 190))});
  g.add_output(g.op1("AveragePool", {h},
                     attrs({{"kernel_shape", std::vector<int64_t>{2, 2}},
                            {"strides", std::vector<int64_t>{2, 2}},
                            {"ceil_mode", int64_t{1}},
                            {"count_include_pad", int64_t{1}}}))
                   ->name());
  return g;
}

// A ResNet basic block after a stem conv: stem -> Relu -> [conv -> Relu -> conv + skip -> Relu]
// -> GlobalAveragePool, plus a lone conv on the input that no other conv touches.
Graph conv_chain_graph(bool chain_value_is_output) {
  Graph g;
  using V = std::vector<int64_t>;
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 3, 8, 8});
  Attributes same = attrs({{"pads", V{1, 1, 1, 1}}});
  Value* stem = g.op1("Conv", {x, g.add_initializer("stem.w", random_tensor({6, 3, 3, 3}, 180))}, same);
  Value* h = g.op1("Relu", {stem});
  Value* a = g.op1("Relu", {g.op1("Conv",
                                  {h, g.add_initializer("a.w", random_tensor({6, 6, 3, 3}, 181)),
                                   g.add_initializer("a.b", random_tensor({6}, 182))},
                                  same)});
  Value* b = g.op1("Conv", {a, g.add_initializer("b.w", random_tensor({6, 1, 3, 3}, 183))},
                   attrs({{"pads", V{1, 1, 1, 1}}, {"group", int64_t{6}}}));  // depthwise
  Value* y = g.op1("GlobalAveragePool", {g.op1("Relu", {g.op1("Add", {b, h})})});
  Value* lone = g.op1("Conv", {x, g.add_initializer("lone.w", random_tensor({2, 3, 1, 1}, 184))});
  g.add_output(y->name());
  g.add_output(lone->name());
  if (chain_value_is_output) g.add_output(a->name());
  return g;
}

TEST(UseChannelsLast, ConvChainsRunChannelsLastBetweenTwoTransposes) {
  Graph g = conv_chain_graph(false);
  Graph opt = g.clone();
  fuse_bias_activation(opt);
  opt = rewritten(opt, use_channels_last, 3, {random_tensor({2, 3, 8, 8}, 185)});
  // In: x for the stem; out: the block's output for the pool. The lone conv stays NCHW.
  EXPECT_EQ(op_counts(opt),
            (std::map<std::string, int>{{"Conv", 1}, {"GlobalAveragePool", 1}, {"Transpose", 2}, {"kiln.FusedConv", 3}}));
  for (const Node* n : opt.nodes())
    if (n->op_type() == "FusedConv") {
      EXPECT_EQ(n->attrs().get_int("channels_last", 0), 1) << n->name();
    }
  for (int64_t batch : {1, 3}) expect_same_outputs(g, opt, {random_tensor({batch, 3, 8, 8}, 186, -2.f, 2.f)});
}

TEST(UseChannelsLast, AChainValueThatIsAGraphOutputKeepsItsNameAndLayout) {
  Graph g = conv_chain_graph(true);
  Graph opt = g.clone();
  optimize_for_inference(opt, test_registry());
  EXPECT_EQ(op_counts(opt)["Transpose"], 3);  // x in; the pool's input and output 2 out
  EXPECT_EQ(opt.outputs()[2]->name(), g.outputs()[2]->name());
  expect_same_outputs(g, opt, {random_tensor({2, 3, 8, 8}, 187, -2.f, 2.f)});
}

TEST(UseChannelsLast, PoolsBetweenConvsJoinTheChain) {
  Graph g = small_cnn_like();
  Graph opt = rewritten(g, use_channels_last, 3, {random_tensor({2, 1, 6, 6}, 188)});
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"AveragePool", 1},
                                                        {"Transpose", 2},
                                                        {"kiln.FusedConv", 2},
                                                        {"kiln.MaxPoolChannelsLast", 1}}));
  expect_same_outputs(g, opt, {random_tensor({1, 1, 6, 6}, 195)});
}

TEST(UseChannelsLast, ChannelsLastPoolsMatchThePlainOnes) {
  using V = std::vector<int64_t>;
  for (const char* op : {"MaxPool", "AveragePool"}) {
    Graph g;
    Value* x = g.add_input("x", DType::kF32, Shape{"N", 5, 7, 7});
    Value* h = g.op1("Conv", {x, g.add_initializer("w", random_tensor({5, 5, 1, 1}, 196))});
    h = g.op1(op, {h},
              attrs({{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"pads", V{1, 0, 1, 1}}, {"ceil_mode", int64_t{1}}}));
    g.add_output(h->name());
    Graph opt = rewritten(g, use_channels_last, 2, {random_tensor({2, 5, 7, 7}, 197, -3.f, 3.f)});
    EXPECT_EQ(op_counts(opt)[std::string("kiln.") + op + "ChannelsLast"], 1) << op;
  }
}

// ---------------------------------------------------------------------------------------------
// The fused ops against their unfused graphs (op-case style: built directly, not by the pass)

struct FusedCase {
  std::string name;
  std::function<void(Graph& fused, Graph& plain, std::vector<Tensor>& inputs)> build;
};

// Appends the activation to `plain` and returns its output.
Value* plain_activation(Graph& g, Value* y, const std::string& act, float lo, float hi) {
  if (act == "Relu") return g.op1("Relu", {y});
  if (act == "Gelu") return g.op1("Gelu", {y});
  if (act == "Clip")
    return g.op1("Clip", {y, g.add_initializer("clip_lo", Tensor::scalar(lo)),
                          g.add_initializer("clip_hi", Tensor::scalar(hi))});
  return y;
}

Attributes with_activation(Attributes a, const std::string& act, float lo, float hi) {
  a.set("activation", act);
  a.set("activation_min", lo);
  a.set("activation_max", hi);
  return a;
}

// z: the shape of a residual input Z added before the activation (the output's); empty for none.
void fused_conv_case(Graph& f, Graph& p, std::vector<Tensor>& in, const Dims& x, const Dims& w, bool bias,
                     Attributes conv_attrs, const std::string& act, float lo = 0, float hi = 0,
                     const Dims& z = {}) {
  f.set_opset("kiln", 1);
  std::vector<Value*> fi{f.add_input("x", DType::kF32, Shape::of(x)),
                         f.add_initializer("w", random_tensor(w, 70))};
  std::vector<Value*> pi{p.add_input("x", DType::kF32, Shape::of(x)),
                         p.add_initializer("w", random_tensor(w, 70))};
  if (bias) {
    fi.push_back(f.add_initializer("b", random_tensor({w[0]}, 71)));
    pi.push_back(p.add_initializer("b", random_tensor({w[0]}, 71)));
  }
  NodeSpec spec{"FusedConv", {}, {"y"}, with_activation(conv_attrs, act, lo, hi), "fc", "kiln"};
  for (Value* v : fi) spec.inputs.push_back(v->name());
  Value* y = p.op1("Conv", pi, conv_attrs);
  in.push_back(random_tensor(x, 72, -2.f, 2.f));
  if (!z.empty()) {
    if (!bias) spec.inputs.push_back("");
    spec.inputs.push_back(f.add_input("z", DType::kF32, Shape::of(z))->name());
    y = p.op1("Add", {y, p.add_input("z", DType::kF32, Shape::of(z))});
    in.push_back(random_tensor(z, 73, -2.f, 2.f));
  }
  f.add_node(spec);
  f.add_output("y");
  p.add_output(plain_activation(p, y, act, lo, hi)->name());
}

void PrintTo(const FusedCase& c, std::ostream* os) { *os << c.name; }

class FusedOpCase : public testing::TestWithParam<FusedCase> {};

TEST_P(FusedOpCase, MatchesTheUnfusedGraph) {
  Graph fused, plain;
  std::vector<Tensor> inputs;
  GetParam().build(fused, plain, inputs);
  validate(fused);
  validate(plain);
  expect_same_outputs(plain, fused, inputs);
}

std::vector<FusedCase> fused_cases() {
  using V = std::vector<int64_t>;
  std::vector<FusedCase> cases;
  cases.push_back({"Conv2dRelu", [](Graph& f, Graph& p, auto& in) {
                     fused_conv_case(f, p, in, {2, 3, 7, 7}, {5, 3, 3, 3}, true,
                                     attrs({{"pads", V{1, 1, 1, 1}}}), "Relu");
                   }});
  cases.push_back({"Conv2dStridedClipNoBias", [](Graph& f, Graph& p, auto& in) {
                     fused_conv_case(f, p, in, {1, 4, 8, 8}, {4, 4, 3, 3}, false,
                                     attrs({{"strides", V{2, 2}}}), "Clip", -0.5f, 0.75f);
                   }});
  cases.push_back({"Conv2dDepthwiseRelu6", [](Graph& f, Graph& p, auto& in) {
                     fused_conv_case(f, p, in, {2, 6, 6, 6}, {6, 1, 3, 3}, true,
                                     attrs({{"group", int64_t{6}}, {"auto_pad", std::string("SAME_UPPER")}}),
                                     "Clip", 0.f, 6.f);
                   }});
  cases.push_back({"Conv1dNoActivation", [](Graph& f, Graph& p, auto& in) {
                     fused_conv_case(f, p, in, {2, 3, 10}, {4, 3, 3}, true, attrs({{"dilations", V{2}}}), "");
                   }});
  cases.push_back({"Conv2dResidualRelu", [](Graph& f, Graph& p, auto& in) {
                     fused_conv_case(f, p, in, {2, 3, 7, 7}, {5, 3, 3, 3}, true,
                                     attrs({{"pads", V{1, 1, 1, 1}}}), "Relu", 0, 0, {2, 5, 7, 7});
                   }});
  cases.push_back({"Conv2dResidualNoBiasNoActivation", [](Graph& f, Graph& p, auto& in) {
                     fused_conv_case(f, p, in, {1, 8, 5, 5}, {8, 8, 1, 1}, false, {}, "", 0, 0, {1, 8, 5, 5});
                   }});
  cases.push_back(
      {"Conv2dEmptyInputChannelsResidualClip", [](Graph& f, Graph& p, auto& in) {
         fused_conv_case(f, p, in, {1, 0, 4, 4}, {3, 0, 1, 1}, true, {}, "Clip", -1.f, 1.f, {1, 3, 4, 4});
       }});
  cases.push_back({"Conv2dEmptyInputChannelsRelu", [](Graph& f, Graph& p, auto& in) {
                     fused_conv_case(f, p, in, {1, 0, 4, 4}, {3, 0, 1, 1}, true, {}, "Relu");
                   }});
  auto matmul_case = [](Dims a, Dims b, bool bias, std::string act) {
    return [=](Graph& f, Graph& p, std::vector<Tensor>& in) {
      f.set_opset("kiln", 1);
      Value* fa = f.add_input("a", DType::kF32, Shape::of(a));
      Value* pa = p.add_input("a", DType::kF32, Shape::of(a));
      NodeSpec spec{"FusedMatMul", {"a", f.add_initializer("b", random_tensor(b, 80))->name()},
                    {"y"},         with_activation({}, act, -0.2f, 0.3f),
                    "fm",          "kiln"};
      Value* y = p.op1("MatMul", {pa, p.add_initializer("b", random_tensor(b, 80))});
      if (bias) {
        spec.inputs.push_back(f.add_initializer("bias", random_tensor({b.back()}, 81))->name());
        y = p.op1("Add", {y, p.add_initializer("bias", random_tensor({b.back()}, 81))});
      }
      (void)fa;
      f.add_node(spec);
      f.add_output("y");
      p.add_output(plain_activation(p, y, act, -0.2f, 0.3f)->name());
      in.push_back(random_tensor(a, 82, -2.f, 2.f));
    };
  };
  cases.push_back({"MatMul2dBiasRelu", matmul_case({4, 6}, {6, 5}, true, "Relu")});
  cases.push_back({"MatMulBatchedBiasClip", matmul_case({2, 3, 6}, {6, 5}, true, "Clip")});
  cases.push_back({"MatMulBroadcastBatchNoBiasRelu", matmul_case({2, 3, 4, 6}, {3, 6, 5}, false, "Relu")});
  cases.push_back({"MatMulVectorTimesMatrixBias", matmul_case({6}, {6, 5}, true, "")});
  cases.push_back({"MatMulEmptyInnerDimBiasClip", matmul_case({3, 0}, {0, 5}, true, "Clip")});
  cases.push_back({"MatMulBatchedBiasGelu", matmul_case({2, 3, 6}, {6, 5}, true, "Gelu")});
  auto gemm_case = [](bool trans_a, bool trans_b, Dims c, float alpha, float beta, std::string act) {
    return [=](Graph& f, Graph& p, std::vector<Tensor>& in) {
      f.set_opset("kiln", 1);
      Dims a = trans_a ? Dims{6, 4} : Dims{4, 6}, b = trans_b ? Dims{5, 6} : Dims{6, 5};
      Attributes ga = attrs(
          {{"transA", int64_t{trans_a}}, {"transB", int64_t{trans_b}}, {"alpha", alpha}, {"beta", beta}});
      f.add_input("a", DType::kF32, Shape::of(a));
      Value* pa = p.add_input("a", DType::kF32, Shape::of(a));
      NodeSpec spec{"FusedGemm", {"a", f.add_initializer("b", random_tensor(b, 90))->name()},
                    {"y"},       with_activation(ga, act, -0.5f, 0.5f),
                    "fg",        "kiln"};
      std::vector<Value*> pi{pa, p.add_initializer("b", random_tensor(b, 90))};
      if (!c.empty()) {
        spec.inputs.push_back(f.add_initializer("c", random_tensor(c, 91))->name());
        pi.push_back(p.add_initializer("c", random_tensor(c, 91)));
      }
      f.add_node(spec);
      f.add_output("y");
      p.add_output(plain_activation(p, p.op1("Gemm", pi, ga), act, -0.5f, 0.5f)->name());
      in.push_back(random_tensor(a, 92, -2.f, 2.f));
    };
  };
  cases.push_back({"GemmTransBBiasRelu", gemm_case(false, true, {5}, 1.f, 1.f, "Relu")});
  cases.push_back({"GemmTransAFullCClip", gemm_case(true, false, {4, 5}, 0.5f, 2.f, "Clip")});
  cases.push_back({"GemmNoCRelu", gemm_case(false, false, {}, 1.5f, 1.f, "Relu")});
  // A C of one row is the primitive's bias only when alpha = beta = 1.
  cases.push_back({"GemmRowCBiasGelu", gemm_case(false, true, {1, 5}, 1.f, 1.f, "Gelu")});
  cases.push_back({"GemmRowCAlphaRelu", gemm_case(false, true, {1, 5}, 2.f, 1.f, "Relu")});
  cases.push_back({"GemmRowCBeta", gemm_case(true, true, {5}, 1.f, 0.25f, "")});
  cases.push_back({"GemmColumnC", gemm_case(false, false, {4, 1}, 1.f, 1.f, "Gelu")});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Fused, FusedOpCase, testing::ValuesIn(fused_cases()),
                         [](const testing::TestParamInfo<FusedCase>& p) { return p.param.name; });

// FusedConv with channels_last = 1 against Transpose -> Conv (+ Z) -> Relu -> Transpose.
void expect_channels_last_conv(const Dims& x_nhwc, const Dims& w, bool bias, bool residual) {
  using V = std::vector<int64_t>;
  Graph f, p;
  f.set_opset("kiln", 1);
  Dims y_nhwc{x_nhwc[0], x_nhwc[1], x_nhwc[2], w[0]};
  Attributes conv = attrs({{"pads", V{1, 1, 1, 1}}});
  NodeSpec spec{"FusedConv", {"x", "w", bias ? "b" : ""}, {"y"}, conv, "fc", "kiln"};
  spec.attrs.set("channels_last", int64_t{1});
  spec.attrs.set("activation", std::string("Relu"));
  std::vector<Tensor> in{random_tensor(x_nhwc, 191, -2.f, 2.f)};
  Attributes to_nchw = attrs({{"perm", V{0, 3, 1, 2}}}), to_nhwc = attrs({{"perm", V{0, 2, 3, 1}}});
  std::vector<Value*> pi{p.op1("Transpose", {p.add_input("x", DType::kF32, Shape::of(x_nhwc))}, to_nchw),
                         p.add_initializer("w", random_tensor(w, 192))};
  f.add_input("x", DType::kF32, Shape::of(x_nhwc));
  f.add_initializer("w", random_tensor(w, 192));
  if (bias) {
    f.add_initializer("b", random_tensor({w[0]}, 193));
    pi.push_back(p.add_initializer("b", random_tensor({w[0]}, 193)));
  }
  Value* y = p.op1("Conv", pi, conv);
  if (residual) {
    spec.inputs.push_back(f.add_input("z", DType::kF32, Shape::of(y_nhwc))->name());
    y = p.op1("Add", {y, p.op1("Transpose", {p.add_input("z", DType::kF32, Shape::of(y_nhwc))}, to_nchw)});
    in.push_back(random_tensor(y_nhwc, 194, -2.f, 2.f));
  }
  f.add_node(spec);
  f.add_output("y");
  p.add_output(p.op1("Transpose", {p.op1("Relu", {y})}, to_nhwc)->name());
  validate(f);
  validate(p);
  EXPECT_EQ(f.find_value("y")->shape(), Shape::of(y_nhwc));
  expect_same_outputs(p, f, in);
}

TEST(FusedOps, ChannelsLastConvMatchesTheTransposedConv) {
  expect_channels_last_conv({2, 5, 6, 3}, {4, 3, 3, 3}, true, true);
  expect_channels_last_conv({1, 4, 4, 8}, {8, 8, 3, 3}, false, false);
  expect_channels_last_conv({1, 4, 4, 0}, {3, 0, 3, 3}, true, true);  // no input channels: bias + Z
}

TEST(FusedOps, InferenceChecksActivationAndBias) {
  Graph g;
  g.set_opset("kiln", 1);
  g.add_input("x", DType::kF32, Shape{1, 2, 4, 4});
  g.add_initializer("w", random_tensor({3, 2, 1, 1}, 100));
  g.add_node(
      NodeSpec{"FusedConv", {"x", "w"}, {"y"}, attrs({{"activation", std::string("Tanh")}}), "fc", "kiln"});
  g.add_output("y");
  expect_error([&] { validate(g); }, ErrorCode::kInvalidArgument, {"'fc' (FusedConv)", "activation 'Tanh'"});

  Graph m;
  m.set_opset("kiln", 1);
  m.add_input("a", DType::kF32, Shape{"N", 4});
  m.add_initializer("b", random_tensor({4, 3}, 101));
  m.add_initializer("bias", random_tensor({4}, 102));
  m.add_node(NodeSpec{"FusedMatMul", {"a", "b", "bias"}, {"y"}, {}, "fm", "kiln"});
  m.add_output("y");
  expect_error([&] { validate(m); }, ErrorCode::kInvalidArgument,
               {"'fm' (FusedMatMul)", "bias has shape [4], expected [3]"});

  Graph c;
  c.set_opset("kiln", 1);
  c.add_input("a", DType::kF32, Shape{2, 4});
  c.add_initializer("b", random_tensor({4, 3}, 103));
  c.add_node(
      NodeSpec{"FusedGemm",
               {"a", "b"},
               {"y"},
               attrs({{"activation", std::string("Clip")}, {"activation_min", 1.f}, {"activation_max", 0.f}}),
               "fg",
               "kiln"});
  c.add_output("y");
  expect_error([&] { validate(c); }, ErrorCode::kInvalidArgument,
               {"'fg' (FusedGemm)", "activation_min 1 is above"});
}

// ---------------------------------------------------------------------------------------------
// Dead code and the whole pipeline

TEST(EliminateDeadCode, RemovesUnusedNodesAndInitializers) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, Shape{3});
  Value* unused_w = g.add_initializer("unused", random_tensor({3}, 110));
  g.op1("Mul", {g.op1("Add", {x, unused_w}), x});  // reaches no output
  g.add_initializer("orphan", random_tensor({2}, 111));
  Value* kept = g.add_initializer("kept", random_tensor({3}, 112));
  g.add_output(g.op1("Sub", {x, kept})->name());
  Value* x2 = g.add_initializer("as_output", random_tensor({1}, 113));
  g.add_output(x2->name());
  Graph opt = rewritten(g, eliminate_dead_code, 4, {random_tensor({3}, 114)});  // Add, Mul, unused, orphan
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Sub", 1}}));
  EXPECT_EQ(opt.initializers().size(), 2u);
  EXPECT_EQ(opt.inputs().size(), 1u);
  EXPECT_EQ(eliminate_dead_code(opt), 0u);
}

// A small CNN as PyTorch exports it: Conv-BN-Relu, Conv-BN (+ residual) -Relu, then a flatten
// through a shape chain and a Linear with Relu; plus a MatMul head with a Clip.
Graph small_cnn() {
  Graph g;
  Value* x = g.add_input("input", DType::kF32, Shape{"batch", 3, 8, 8});
  auto bn = [&](Value* v, const std::string& p, uint32_t seed) {
    return g.op1("BatchNormalization",
                 {v, g.add_initializer(p + ".weight", random_tensor({8}, seed, 0.5f, 1.5f)),
                  g.add_initializer(p + ".bias", random_tensor({8}, seed + 1)),
                  g.add_initializer(p + ".running_mean", random_tensor({8}, seed + 2)),
                  g.add_initializer(p + ".running_var", random_tensor({8}, seed + 3, 0.5f, 2.f))});
  };
  std::vector<int64_t> pads{1, 1, 1, 1};
  Value* h = g.op1("Conv", {x, g.add_initializer("conv1.weight", random_tensor({8, 3, 3, 3}, 120))},
                   attrs({{"pads", pads}}));
  h = g.op1("Relu", {bn(h, "bn1", 121)});
  Value* r = g.op1("Conv", {h, g.add_initializer("conv2.weight", random_tensor({8, 8, 3, 3}, 130))},
                   attrs({{"pads", pads}}));
  h = g.op1("Relu", {g.op1("Add", {bn(r, "bn2", 131), h})});
  h = g.op1("GlobalAveragePool", {h});
  Value* shape = g.op1("Shape", {h});
  Value* n = g.op1("Gather", {shape, g.add_initializer("zero", Tensor::scalar<int64_t>(0))});
  Value* target = g.op1("Concat",
                        {g.op1("Unsqueeze", {n, g.add_initializer("axes", i64s({1}, {0}))}),
                         g.add_initializer("minus1", i64s({1}, {-1}))},
                        attrs({{"axis", int64_t{0}}}));
  h = g.op1("Reshape", {h, target});
  Value* wt = g.op1("Transpose", {g.add_initializer("fc.weight", random_tensor({10, 8}, 140))});
  h = g.op1(
      "Relu",
      {g.op1("Add", {g.op1("MatMul", {h, wt}), g.add_initializer("fc.bias", random_tensor({10}, 141))})});
  Value* six = g.op1("Constant", {}, attrs({{"value", Tensor::scalar(6.f)}}));
  h = g.op1("Clip", {g.op1("Gemm",
                           {h, g.add_initializer("head.weight", random_tensor({4, 10}, 150, -0.1f, 0.1f)),
                            g.add_initializer("head.bias", random_tensor({4}, 151))},
                           attrs({{"transB", int64_t{1}}})),
                     g.add_initializer("zero_f", Tensor::scalar(0.f)), six});
  g.add_output(h->name());
  return g;
}

TEST(OptimizeForInference, SmallCnn) {
  Graph g = small_cnn();
  Graph opt = g.clone();
  PassReport report = optimize_for_inference(opt, test_registry());
  std::map<std::string, size_t> changes;
  for (const auto& [name, n] : report.changes) changes[name] += n;
  EXPECT_EQ(changes["fold_batch_norm"], 2u);
  EXPECT_EQ(changes["fuse_bias_activation"],
            4u);                             // conv1+Relu, conv2+residual+Relu, MatMul+Add+Relu, Gemm+Clip
  EXPECT_EQ(changes["use_channels_last"], 2u);  // conv1 -> conv2
  EXPECT_GE(changes["fold_constants"], 2u);  // Transpose, Constant (Shape chain: batch is dynamic)
  EXPECT_EQ(op_counts(opt), (std::map<std::string, int>{{"Concat", 1},
                                                        {"Gather", 1},
                                                        {"GlobalAveragePool", 1},
                                                        {"Reshape", 1},
                                                        {"Shape", 1},
                                                        {"Transpose", 2},
                                                        {"Unsqueeze", 1},
                                                        {"kiln.FusedConv", 2},
                                                        {"kiln.FusedGemm", 1},
                                                        {"kiln.FusedMatMul", 1}}));
  for (const Value* v : opt.initializers()) EXPECT_FALSE(v->uses().empty()) << v->name();
  for (int64_t batch : {1, 4}) expect_same_outputs(g, opt, {random_tensor({batch, 3, 8, 8}, 160, -3.f, 3.f)});
}

using Pick = std::function<size_t(size_t)>;
using OwnStep = std::function<Value*(Graph&, size_t choice, const std::vector<Value*>&, uint32_t k, const Pick&)>;

// A random chain of 12 steps, each one of `own_choices` steps of the caller (`own`) or a shared
// one (a bias Add of one of bias_shapes in either order, a residual Add of an earlier value,
// Relu, Clip); some values are also graph outputs. Whatever the passes rewrite, the outputs of
// such graphs must stay the same.
Graph random_chain(uint32_t seed, Shape input, size_t own_choices, const OwnStep& own,
                   const std::vector<Dims>& bias_shapes) {
  std::mt19937 gen(seed);
  const Pick pick = [&](size_t n) { return static_cast<size_t>(gen() % n); };
  Graph g;
  std::vector<Value*> values{g.add_input("x", DType::kF32, std::move(input))};
  uint32_t k = seed * 100;
  for (int step = 0; step < 12; ++step) {
    Value* last = values.back();
    Value* v = nullptr;
    const size_t choice = pick(own_choices + 4);
    if (choice < own_choices) {
      v = own(g, choice, values, k, pick);
    } else if (choice == own_choices) {
      Value* c = g.add_initializer(fmt::format("bias{}", k),
                                   random_tensor(bias_shapes[pick(bias_shapes.size())], k));
      v = pick(2) ? g.op1("Add", {last, c}) : g.op1("Add", {c, last});
    } else if (choice == own_choices + 1) {
      v = g.op1("Add", {last, values[pick(values.size())]});
    } else if (choice == own_choices + 2) {
      v = g.op1("Relu", {last});
    } else {
      v = g.op1("Clip", {last, g.add_initializer(fmt::format("lo{}", k), Tensor::scalar(-0.5f)),
                         g.add_initializer(fmt::format("hi{}", k), Tensor::scalar(0.8f))});
    }
    if (pick(6) == 0) g.add_output(v->name());
    values.push_back(v);
    k += 10;
  }
  g.add_output(values.back()->name());
  return g;
}

// Random chains of Conv, BatchNormalization and the shared steps over [N, 4, 5, 5] values.
Graph random_conv_graph(uint32_t seed) {
  auto own = [](Graph& g, size_t choice, const std::vector<Value*>& values, uint32_t k, const Pick& pick) {
    Value* last = values.back();
    Value* v = nullptr;
    switch (choice) {
      case 0:
      case 1: {
        std::vector<Value*> in{
            values[pick(values.size())],
            g.add_initializer(fmt::format("w{}", k), random_tensor({4, 4, 3, 3}, k, -0.3f, 0.3f))};
        if (pick(2)) in.push_back(g.add_initializer(fmt::format("b{}", k), random_tensor({4}, k + 1)));
        v = g.op1("Conv", in, attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
        break;
      }
      case 2:
        v = g.op1("BatchNormalization",
                  {last, g.add_initializer(fmt::format("s{}", k), random_tensor({4}, k, 0.5f, 1.5f)),
                   g.add_initializer(fmt::format("t{}", k), random_tensor({4}, k + 1)),
                   g.add_initializer(fmt::format("m{}", k), random_tensor({4}, k + 2)),
                   g.add_initializer(fmt::format("v{}", k), random_tensor({4}, k + 3, 0.5f, 2.f))});
        break;
    }
    return v;
  };
  return random_chain(seed, Shape{"N", 4, 5, 5}, 3, own,
                      {{1, 4, 1, 1}, {4, 1, 1}, {1}, {}, {1, 1, 1, 5}, {4, 5, 5}});
}

// The same over [3, 6] values with MatMul and Gemm (transposes, alpha, beta, C of several shapes).
Graph random_dense_graph(uint32_t seed) {
  auto own = [](Graph& g, size_t choice, const std::vector<Value*>& values, uint32_t k, const Pick& pick) {
    Value* v = nullptr;
    switch (choice) {
      case 0:
        v = g.op1("MatMul", {values[pick(values.size())],
                             g.add_initializer(fmt::format("w{}", k), random_tensor({6, 6}, k))});
        break;
      case 1: {
        bool trans_b = pick(2);
        std::vector<Value*> in{values[pick(values.size())],
                               g.add_initializer(fmt::format("w{}", k), random_tensor({6, 6}, k))};
        const Dims c_shapes[] = {{6}, {1, 6}, {3, 6}, {3, 1}, {}};
        if (size_t c = pick(6); c < 5)
          in.push_back(g.add_initializer(fmt::format("c{}", k), random_tensor(c_shapes[c], k + 1)));
        v = g.op1("Gemm", in,
                  attrs({{"transB", int64_t{trans_b}},
                         {"alpha", pick(2) ? 1.f : 0.5f},
                         {"beta", pick(2) ? 1.f : 2.f}}));
        break;
      }
    }
    return v;
  };
  return random_chain(seed, Shape{3, 6}, 2, own, {{6}, {1, 6}, {1}, {}});
}

TEST(OptimizeForInference, RandomConvGraphsKeepTheirOutputs) {
  size_t fused = 0, folded = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Graph g = random_conv_graph(seed);
    validate(g);
    Graph opt = g.clone();
    PassReport report = optimize_for_inference(opt, test_registry());
    for (const auto& [name, n] : report.changes) {
      if (name == "fuse_bias_activation") fused += n;
      if (name == "fold_batch_norm") folded += n;
    }
    expect_same_outputs(g, opt, {random_tensor({2, 4, 5, 5}, seed, -2.f, 2.f)});
  }
  // The generator must exercise the rewrites.
  EXPECT_GT(fused, 20u);
  EXPECT_GT(folded, 3u);
}

TEST(OptimizeForInference, RandomDenseGraphsKeepTheirOutputs) {
  size_t fused = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Graph g = random_dense_graph(seed);
    validate(g);
    Graph opt = g.clone();
    for (const auto& [name, n] : optimize_for_inference(opt, test_registry()).changes)
      if (name == "fuse_bias_activation") fused += n;
    expect_same_outputs(g, opt, {random_tensor({3, 6}, seed, -2.f, 2.f)});
  }
  EXPECT_GT(fused, 20u);
}

TEST(OptimizeForInference, RejectsAnInvalidGraph) {
  Graph g;
  g.add_input("x", DType::kF32, Shape{2});
  g.add_node(NodeSpec{"Relu", {"nowhere"}, {"y"}});
  g.add_output("y");
  expect_error([&] { optimize_for_inference(g, test_registry()); }, ErrorCode::kInvalidArgument, "'nowhere'");
}

}  // namespace
}  // namespace kiln
