// The executor: repeated runs, memory planning, re-planning, folding of shape arithmetic,
// input checking and the thread option. Numbers are checked against values computed here.

#include "kiln/runtime/executor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "kiln/runtime/op_registry.h"
#include "test_backends.h"
#include "test_errors.h"

namespace kiln {
namespace {

ExecutorOptions cpu_only(int threads = 0) { return ExecutorOptions{{"cpu"}, false, threads}; }

// x -> (Neg, Relu, Abs, Neg, ...) a chain of n unary ops: every intermediate dies right after
// its consumer runs, so a plan needs two buffers however long the chain is.
Graph unary_chain(int n, Dims shape) {
  Graph g;
  Value* v = g.add_input("x", DType::kF32, Shape::of(shape));
  const char* ops[] = {"Neg", "Relu", "Abs"};
  for (int i = 0; i < n; ++i) v = g.op1(ops[i % 3], {v});
  g.add_output(v->name());
  return g;
}

float chain_reference(int n, float x) {
  for (int i = 0; i < n; ++i) {
    if (i % 3 == 0) x = -x;
    else if (i % 3 == 1) x = std::max(x, 0.0f);
    else x = std::fabs(x);
  }
  return x;
}

TEST(Executor, MemoryPlanReusesBuffers) {
  const int n = 12;
  Graph g = unary_chain(n, {64, 64});
  Executor ex(g, cpu_only(), test_registry());
  std::vector<float> xs(64 * 64);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i % 17) - 8.0f;
  auto out = ex.run({Tensor::from_vector<float>({64, 64}, xs)});
  std::vector<float> got = out[0].to_vector<float>();
  for (size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(got[i], chain_reference(n, xs[i])) << i;

  MemoryStats m = ex.memory();
  const size_t one = 64 * 64 * sizeof(float);
  EXPECT_EQ(m.num_values, static_cast<size_t>(n - 1));  // the last value is the output
  EXPECT_EQ(m.unshared_bytes, (n - 1) * one);
  EXPECT_LT(m.planned_bytes, m.unshared_bytes);
  EXPECT_EQ(m.planned_bytes, 2 * one);  // ping-pong between two buffers
}

TEST(Executor, RunsManyTimesOnOnePlanAndReplansOnNewShapes) {
  Graph g = unary_chain(4, {});
  g.inputs()[0]->set_type(DType::kF32, Shape{"N", 3});
  Executor ex(g, cpu_only(), test_registry());
  // Neg, Relu, Abs, Neg: x -> -max(-x, 0)
  for (int i = 0; i < 3; ++i) {
    auto out = ex.run({Tensor::from_vector<float>({2, 3}, {1, -2, 3, -4, 5, -6})});
    EXPECT_EQ(out[0].shape(), (Dims{2, 3}));
    EXPECT_EQ(out[0].to_vector<float>(), (std::vector<float>{0, -2, 0, -4, 0, -6}));
  }
  EXPECT_EQ(ex.num_plans(), 1u);
  auto out = ex.run({Tensor::from_vector<float>({1, 3}, {-7, 8, -9})});
  EXPECT_EQ(out[0].shape(), (Dims{1, 3}));
  EXPECT_EQ(out[0].to_vector<float>(), (std::vector<float>{-7, 0, -9}));
  EXPECT_EQ(ex.num_plans(), 2u);
}

TEST(Executor, OutputsOfOneRunAreNotOverwrittenByTheNext) {
  Graph g = unary_chain(2, {2});
  Executor ex(g, cpu_only(), test_registry());
  Tensor first = ex.run({Tensor::from_vector<float>({2}, {-1, -2})})[0];
  Tensor second = ex.run({Tensor::from_vector<float>({2}, {-3, -4})})[0];
  EXPECT_EQ(first.to_vector<float>(), (std::vector<float>{1, 2}));
  EXPECT_EQ(second.to_vector<float>(), (std::vector<float>{3, 4}));
}

// PyTorch's flatten export: Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape.
Graph flatten_like_pytorch() {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, {"N", 2, 3});
  Value* shape = g.op1("Shape", {x});
  Value* zero = g.add_initializer("zero", Tensor::scalar<int64_t>(0));
  Attributes axis0;
  axis0.set("axis", int64_t{0});
  Value* batch = g.op1("Gather", {shape, zero}, axis0);
  Value* axes = g.add_initializer("axes", Tensor::from_vector<int64_t>({1}, {0}));
  Value* batch1 = g.op1("Unsqueeze", {batch, axes});
  Value* minus1 = g.add_initializer("minus1", Tensor::from_vector<int64_t>({1}, {-1}));
  Value* target = g.op1("Concat", {batch1, minus1}, axis0);
  Value* y = g.op1("Reshape", {x, target});
  g.add_output(y->name());
  return g;
}

TEST(Executor, FoldsShapeArithmeticAtPlanTime) {
  Graph g = flatten_like_pytorch();
  validate(g);
  EXPECT_EQ(g.outputs()[0]->shape().rank(), 2u);  // rank known even with a symbolic batch
  Executor ex(g, cpu_only(), test_registry());
  std::vector<float> xs(4 * 6);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i);
  auto out = ex.run({Tensor::from_vector<float>({4, 2, 3}, xs)});
  EXPECT_EQ(out[0].shape(), (Dims{4, 6}));
  EXPECT_EQ(out[0].to_vector<float>(), xs);
  const PlacementReport& report = ex.placement();
  // Shape, Gather, Unsqueeze and Concat are folded; only Reshape runs.
  EXPECT_EQ(report.num_folded, 4u);
  ASSERT_EQ(report.nodes.size(), 5u);
  EXPECT_EQ(report.nodes.back().node->op_type(), "Reshape");
  EXPECT_FALSE(report.nodes.back().folded);
  auto out2 = ex.run({Tensor::from_vector<float>({1, 2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(out2[0].shape(), (Dims{1, 6}));
}

TEST(Executor, ShapeGivenAsAnInputReplansWhenItsValueChanges) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, {2, 3});
  Value* s = g.add_input("s", DType::kI64, {2});
  g.add_output(g.op1("Reshape", {x, s})->name());
  Executor ex(g, cpu_only(), test_registry());
  Tensor data = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(ex.run({data, Tensor::from_vector<int64_t>({2}, {3, 2})})[0].shape(), (Dims{3, 2}));
  EXPECT_EQ(ex.run({data, Tensor::from_vector<int64_t>({2}, {1, 6})})[0].shape(), (Dims{1, 6}));
  EXPECT_EQ(ex.run({data, Tensor::from_vector<int64_t>({2}, {1, 6})})[0].shape(), (Dims{1, 6}));
  EXPECT_EQ(ex.num_plans(), 2u);
}

TEST(Executor, ChecksInputsAgainstTheDeclaration) {
  Graph g;
  g.set_label("model.onnx");
  Value* a = g.add_input("a", DType::kF32, {"N", 3});
  Value* b = g.add_input("b", DType::kF32, {"N", 3});
  g.add_output(g.op1("Add", {a, b})->name());
  Executor ex(g, cpu_only(), test_registry());
  Tensor ok = Tensor::zeros({2, 3}, DType::kF32);
  expect_error([&] { ex.run({ok}); }, ErrorCode::kInvalidArgument, "model.onnx: expected 2 inputs, got 1");
  expect_error([&] { ex.run({ok, Tensor::zeros({2, 3}, DType::kI64)}); }, ErrorCode::kInvalidArgument,
               "input 'b' has dtype i64, expected f32");
  expect_error([&] { ex.run({ok, Tensor::zeros({2, 4}, DType::kF32)}); }, ErrorCode::kInvalidArgument,
               "input 'b' has shape [2,4], expected [N,3]");
  expect_error([&] { ex.run({ok, Tensor::zeros({6}, DType::kF32)}); }, ErrorCode::kInvalidArgument,
               "expected rank 2");
  expect_error([&] { ex.run({ok, Tensor::zeros({5, 3}, DType::kF32)}); }, ErrorCode::kInvalidArgument,
               "dim 'N' is 5 in input 'b' but 2 in input 'a'");
  expect_error([&] { ex.run_named(std::map<std::string, Tensor>{{"a", ok}}); }, ErrorCode::kInvalidArgument,
               "input 'b' is missing");
  expect_error([&] { ex.run_named(std::map<std::string, Tensor>{{"a", ok}, {"b", ok}, {"c", ok}}); },
               ErrorCode::kInvalidArgument, "'c' is not an input");
  auto named = ex.run_named(std::map<std::string, Tensor>{{"a", ok}, {"b", ok}});
  EXPECT_EQ(named.size(), 1u);
}

TEST(Executor, AcceptsNonContiguousInputs) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, {3, 2});
  g.add_output(g.op1("Neg", {x})->name());
  Executor ex(g, cpu_only(), test_registry());
  Tensor t = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}).transpose(0, 1);
  EXPECT_EQ(ex.run({t})[0].to_vector<float>(), (std::vector<float>{-1, -4, -2, -5, -3, -6}));
}

TEST(Executor, ThreadOptionGivesTheSameResult) {
  Graph g;
  Value* a = g.add_input("a", DType::kF32, {64, 64});
  Value* b = g.add_input("b", DType::kF32, {64, 64});
  g.add_output(g.op1("MatMul", {a, b})->name());
  std::vector<float> av(64 * 64), bv(64 * 64);
  for (size_t i = 0; i < av.size(); ++i) {
    av[i] = static_cast<float>(i % 13) / 8.0f;
    bv[i] = static_cast<float>(i % 7) / 4.0f - 0.5f;
  }
  Tensor at = Tensor::from_vector<float>({64, 64}, av), bt = Tensor::from_vector<float>({64, 64}, bv);
  std::vector<float> expected(64 * 64);
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < 64; ++j) {
      double s = 0;
      for (int k = 0; k < 64; ++k) s += static_cast<double>(av[i * 64 + k]) * bv[k * 64 + j];
      expected[i * 64 + j] = static_cast<float>(s);
    }
  for (int threads : {1, 2}) {
    Executor ex(g, cpu_only(threads), test_registry());
    std::vector<float> got = ex.run({at, bt})[0].to_vector<float>();
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-4) << "threads " << threads;
  }
}

TEST(Executor, UnknownBackendNamesAreReported) {
  Graph g = unary_chain(1, {2});
  expect_error([&] { Executor(g, ExecutorOptions{{"nope"}, false, 0}, test_registry()); }, ErrorCode::kNotFound,
               "none of the listed backends is available: nope: no libkiln_backend_nope.so");
  Executor ex(g, ExecutorOptions{{"nope", "cpu"}, false, 0}, test_registry());
  ex.run({Tensor::zeros({2}, DType::kF32)});
  ASSERT_EQ(ex.placement().unavailable.size(), 1u);
  EXPECT_TRUE(ex.placement().nodes[0].fell_back);
}

TEST(Executor, PlacementBeforeAnyPlanIsAnError) {
  Graph g = unary_chain(1, {2});
  Executor ex(g, cpu_only(), test_registry());
  expect_error([&] { ex.placement(); }, ErrorCode::kInvalidArgument, "no plan yet");
  ex.plan({Tensor::zeros({2}, DType::kF32)});
  EXPECT_EQ(ex.placement().nodes.size(), 1u);
}

TEST(Executor, OmittedOptionalOutputsAreNotComputed) {
  // LayerNormalization with Mean omitted ("") and InvStdDev kept, as ONNX files write it.
  Graph g;
  g.set_opset("", 17);
  g.add_input("x", DType::kF32, {2, 2});
  g.add_initializer("scale", Tensor::from_vector<float>({2}, {1, 1}));
  g.add_node({"LayerNormalization", {"x", "scale"}, {"y", "", "inv_std"}, {}, "ln"});
  g.add_output("y");
  g.add_output("inv_std");
  validate(g);
  EXPECT_EQ(g.nodes()[0]->output(1), nullptr);
  Executor ex(g, cpu_only(), test_registry());
  auto out = ex.run({Tensor::from_vector<float>({2, 2}, {1, 3, -2, 2})});
  std::vector<float> y = out[0].to_vector<float>(), inv = out[1].to_vector<float>();
  // Row means 2 and 0, variances 1 and 4 (eps 1e-5).
  EXPECT_NEAR(y[0], -1.0f, 1e-4);
  EXPECT_NEAR(y[1], 1.0f, 1e-4);
  EXPECT_NEAR(y[2], -1.0f, 1e-4);
  EXPECT_NEAR(inv[0], 1.0f / std::sqrt(1.0f + 1e-5f), 1e-5);
  EXPECT_NEAR(inv[1], 1.0f / std::sqrt(4.0f + 1e-5f), 1e-5);
  Graph copy = g.clone();
  EXPECT_EQ(copy.nodes()[0]->output(1), nullptr);
}

TEST(Executor, InvalidGraphIsRejectedAtConstruction) {
  Graph g;
  g.add_input("x", DType::kF32, {2});
  g.add_node({"Add", {"x", "missing"}, {"y"}});
  g.add_output("y");
  expect_error([&] { Executor(g, cpu_only(), test_registry()); }, ErrorCode::kInvalidArgument,
               "input 'missing' is not defined");
}

}  // namespace
}  // namespace kiln
