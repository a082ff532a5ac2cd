// GraphModule: an imported graph as a module — nested parameter names, trainability repair
// (untied Identity-shared initializers, mapped transposed MatMul weights, report), BatchNorm and
// Dropout in train and eval, freezing, input checks and export back to a graph.
#include "kiln/frontend/nn/graph_module.h"

#include <gtest/gtest.h>

#include <cmath>

#include "kiln/frontend/optim.h"
#include "test_errors.h"

namespace kiln::nn {
namespace {

Tensor floats(const Dims& shape, std::vector<float> v) { return Tensor::from_vector<float>(shape, v); }

std::vector<std::string> keys(const OrderedDict<Tensor>& d) { return d.keys(); }

// x [N,2] -> MatMul(onnx::MatMul_7 [2,3]) + fc.bias -> Relu -> Add(Identity(fc.bias) as head.bias)
Graph exported_mlp() {
  Graph g;
  g.set_label("mlp.onnx");
  g.set_opset("", 17);
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 2});
  Value* w = g.add_initializer("onnx::MatMul_7", floats({2, 3}, {1, 2, 3, 4, 5, 6}));
  Value* b = g.add_initializer("fc.bias", floats({3}, {0.5f, -0.5f, 0}));
  Value* h = g.op1("Relu", {g.op1("Add", {g.op1("MatMul", {x, w}), b})});
  g.add_node({"Identity", {"fc.bias"}, {"head.bias"}});
  g.add_output(g.op1("Add", {h, g.find_value("head.bias")})->name());
  return g;
}

TEST(GraphModule, RepairUntiesSharedInitializersAndMapsTransposedWeights) {
  GraphModule m(exported_mlp());
  EXPECT_EQ(keys(m->named_parameters()), (std::vector<std::string>{"fc.bias", "fc.weight", "head.bias"}));
  EXPECT_EQ(m->named_parameters()["fc.weight"].to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  const TrainabilityReport& r = m->report();
  ASSERT_EQ(r.untied.size(), 1u);
  EXPECT_EQ(r.untied[0], "head.bias (was shared with fc.bias)");
  ASSERT_EQ(r.mapped.size(), 1u);
  EXPECT_EQ(r.mapped[0], "fc.weight <- onnx::MatMul_7 (transposed)");
  // Same outputs as the graph as exported: relu(x W + b) + b.
  Tensor y = m->forward(floats({1, 2}, {1, 1}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{6, 6, 9}));
  // Untied: each bias gets its own gradient (PyTorch trains them separately); x = [-1, 0.5]
  // leaves only unit 0 alive after the Relu: x W + b = [1.5, 0, 0].
  sum(m->forward(floats({1, 2}, {-1, 0.5f}))).backward();
  EXPECT_EQ(m->named_parameters()["head.bias"].grad().to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(m->named_parameters()["fc.bias"].grad().to_vector<float>(), (std::vector<float>{1, 0, 0}));
  // fc.weight in PyTorch's layout [out, in] gets dY^T x: row 0 only.
  std::vector<float> dw = m->named_parameters()["fc.weight"].grad().to_vector<float>();
  EXPECT_EQ(dw, (std::vector<float>{-1, 0.5f, 0, 0, 0, 0}));
}

TEST(GraphModule, NestedNamesLikePyTorch) {
  Graph g;
  g.set_opset("", 17);
  Value* x = g.add_input("x", DType::kF32, Shape{2});
  Value* a = g.add_initializer("layer1.0.conv1.weight", floats({2}, {1, 2}));
  Value* b = g.add_initializer("layer1.1.weight", floats({2}, {3, 4}));
  Value* c = g.add_initializer("onnx::Mul_3", floats({}, {2}));
  g.add_output(g.op1("Mul", {g.op1("Add", {g.op1("Mul", {x, a}), b}), c})->name());
  GraphModule m(std::move(g));
  EXPECT_EQ(keys(m->named_parameters()), (std::vector<std::string>{"layer1.0.conv1.weight", "layer1.1.weight"}));
  EXPECT_EQ(m->report().unmapped_constants, (std::vector<std::string>{"onnx::Mul_3"}));
  EXPECT_EQ(m->forward(floats({2}, {1, 1})).to_vector<float>(), (std::vector<float>{8, 12}));
}

// x [N,2,1,1] -> BatchNormalization (gamma, beta, running mean/var) -> Dropout(0.5)
Graph bn_dropout() {
  Graph g;
  g.set_label("bn.onnx");
  g.set_opset("", 15);
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 2, 1, 1});
  std::vector<Value*> in{x, g.add_initializer("bn.weight", floats({2}, {1, 2})),
                         g.add_initializer("bn.bias", floats({2}, {0, 1})),
                         g.add_initializer("bn.running_mean", floats({2}, {0, 0})),
                         g.add_initializer("bn.running_var", floats({2}, {1, 1}))};
  Attributes a;
  a.set("epsilon", 0.0f);
  a.set("momentum", 0.9f);
  Value* y = g.op1("BatchNormalization", in, a);
  Value* ratio = g.add_initializer("ratio", floats({}, {0.5f}));
  Value* on = g.add_initializer("training", Tensor::scalar<bool>(false));
  g.add_output(g.op1("Dropout", {y, ratio, on})->name());
  return g;
}

TEST(GraphModule, BatchNormAndDropoutFollowTrainAndEval) {
  Generator gen(3);
  GraphModule m(bn_dropout(), &gen);
  EXPECT_EQ(keys(m->named_buffers()), (std::vector<std::string>{"bn.running_mean", "bn.running_var"}));
  Tensor x = floats({4, 2, 1, 1}, {1, 2, 3, 4, 5, 6, 7, 8});
  m->eval();  // running statistics, Dropout off
  EXPECT_EQ(m->forward(x).to_vector<float>(), (std::vector<float>{1, 5, 3, 9, 5, 13, 7, 17}));
  m->train();  // batch statistics (mean 4 and 5, variance 5) and Dropout's scaled mask
  std::vector<float> y = m->forward(x).to_vector<float>();
  int kept = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const float xi = x.to_vector<float>()[i];
    const float bn = i % 2 == 0 ? (xi - 4) / std::sqrt(5.0f) : 2 * (xi - 5) / std::sqrt(5.0f) + 1;
    if (y[i] == 0 && bn != 0) continue;
    EXPECT_NEAR(y[i], 2 * bn, 1e-5) << i;  // kept values are scaled by 1 / (1 - 0.5)
    ++kept;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 8);
  // running = 0.9 * running + 0.1 * batch (unbiased variance for running_var, as PyTorch)
  std::vector<float> mean = m->named_buffers()["bn.running_mean"].to_vector<float>();
  std::vector<float> var = m->named_buffers()["bn.running_var"].to_vector<float>();
  EXPECT_NEAR(mean[0], 0.4, 1e-6);
  EXPECT_NEAR(mean[1], 0.5, 1e-6);
  EXPECT_NEAR(var[0], 0.9 + 0.1 * 20.0 / 3.0, 1e-5);
  EXPECT_NEAR(var[1], 0.9 + 0.1 * 20.0 / 3.0, 1e-5);
  // The inference export keeps BatchNorm on the updated running statistics and drops Dropout.
  Graph out = m->to_graph(ExportForm::kInference);
  for (const Node* n : out.nodes()) EXPECT_NE(n->op_type(), "Dropout");
  EXPECT_EQ(out.outputs()[0]->name(), m->graph().outputs()[0]->name());
  EXPECT_EQ(out.find_value("bn.running_mean")->initializer()->to_vector<float>(), mean);
  EXPECT_EQ(out.inputs()[0]->shape().to_string(), "[N,2,1,1]");
  Graph trained = m->to_graph(ExportForm::kAsTrained);
  int dropouts = 0;
  for (const Node* n : trained.nodes()) dropouts += n->op_type() == "Dropout";
  EXPECT_EQ(dropouts, 1);
}

// A file exported in training mode (training_mode=1, running-statistics outputs) still follows
// the module's mode: eval() uses the running statistics.
TEST(GraphModule, BatchNormExportedInTrainingModeFollowsEval) {
  Graph g;
  g.set_opset("", 15);
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 1, 1, 1});
  g.add_initializer("bn.weight", floats({1}, {1}));
  g.add_initializer("bn.bias", floats({1}, {0}));
  g.add_initializer("bn.running_mean", floats({1}, {1}));
  g.add_initializer("bn.running_var", floats({1}, {4}));
  Attributes a;
  a.set("epsilon", 0.0f);
  a.set("training_mode", int64_t{1});
  g.add_node({"BatchNormalization", {x->name(), "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"},
              {"y", "mean_out", "var_out"}, a});
  g.add_output("y");
  GraphModule m(std::move(g));
  m->eval();
  EXPECT_EQ(m->forward(floats({2, 1, 1, 1}, {3, 5})).to_vector<float>(), (std::vector<float>{1, 2}));
  m->train();
  EXPECT_EQ(m->forward(floats({2, 1, 1, 1}, {3, 5})).to_vector<float>(), (std::vector<float>{-1, 1}));
  // running_var is PyTorch's: 0.9 * 4 + 0.1 * unbiased variance 2 (ONNX's op gives the biased 1).
  EXPECT_NEAR(m->named_buffers()["bn.running_var"].to_vector<float>()[0], 3.8, 1e-6);
  // As PyTorch, training needs more than one value per channel.
  expect_error([&] { m->forward(floats({1, 1, 1, 1}, {3})); }, ErrorCode::kInvalidArgument,
               "expected more than 1 value per channel when training, got input [1,1,1,1]");
}

TEST(GraphModule, FreezingByGlob) {
  GraphModule m(bn_dropout());
  EXPECT_EQ(m->freeze("bn.w*"), 1u);
  EXPECT_EQ(m->trainable_names(), (std::vector<std::string>{"bn.bias"}));
  EXPECT_EQ(m->frozen_names(), (std::vector<std::string>{"bn.weight"}));
  EXPECT_EQ(m->freeze("nothing.*"), 0u);
  EXPECT_EQ(m->train_only("bn.weight"), 1u);
  EXPECT_EQ(m->trainable_names(), (std::vector<std::string>{"bn.weight"}));
  ASSERT_EQ(m->trainable_parameters().size(), 1u);
  // Frozen parameters get no gradient and no optimizer state.
  m->eval();
  optim::SGD opt(m->trainable_parameters(), optim::SGDOptions(0.1).momentum(0.9));
  sum(m->forward(floats({1, 2, 1, 1}, {1, 2}))).backward();
  opt.step();
  EXPECT_FALSE(m->named_parameters()["bn.bias"].grad().defined());
  EXPECT_EQ(opt.state().size(), 1u);
}

TEST(GraphModule, InputsAreCheckedAgainstTheModel) {
  GraphModule m(exported_mlp());
  expect_error([&] { m->forward(Tensor::from_vector<double>({1, 2}, {1, 1})); }, ErrorCode::kInvalidArgument,
               {"mlp.onnx", "input 'x'", "f64", "expects f32"});
  expect_error([&] { m->forward(floats({1, 3}, {1, 1, 1})); }, ErrorCode::kInvalidArgument,
               {"input 'x'", "[1,3]", "[N,2]"});
  expect_error([&] { m->forward_all({}); }, ErrorCode::kInvalidArgument, "takes 1 inputs, 0 were given");
  expect_error([&] { m->forward_named({{"y", floats({1, 2}, {1, 1})}}); }, ErrorCode::kInvalidArgument,
               "input 'x' is missing");
}

TEST(GraphModule, ReportsOpsWithoutGradientOnTheTrainingPath) {
  Graph g;
  g.set_label("hard.onnx");
  g.set_opset("", 17);
  Value* x = g.add_input("x", DType::kF32, Shape{1, 3});
  Value* w = g.add_initializer("w", floats({1, 3}, {1, 2, 3}));
  g.add_output(g.op1("Hardmax", {g.op1("Mul", {x, w})})->name());
  GraphModule m(std::move(g));
  ASSERT_EQ(m->report().non_differentiable.size(), 1u);
  EXPECT_NE(m->report().non_differentiable[0].find("(Hardmax)"), std::string::npos);
}

}  // namespace
}  // namespace kiln::nn
