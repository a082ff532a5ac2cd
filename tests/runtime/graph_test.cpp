// The graph IR: building, topological order, rewriting, and validation errors.

#include "kiln/runtime/graph.h"

#include <gtest/gtest.h>

#include "kiln/runtime/op_registry.h"
#include "test_errors.h"

namespace kiln {
namespace {

Tensor f32(const Dims& shape) { return Tensor::zeros(shape, DType::kF32); }

TEST(Graph, BuildsByNameInAnyOrderAndOrdersTopologically) {
  Graph g;
  g.add_input("x", DType::kF32, {2, 3});
  // Listed consumer-first, as ONNX files may list them.
  g.add_node({"Relu", {"y"}, {"z"}, {}, "second"});
  g.add_node({"Neg", {"x"}, {"y"}, {}, "first"});
  g.add_output("z");
  std::vector<Node*> order = g.topological_order();
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0]->name(), "first");
  EXPECT_EQ(order[1]->name(), "second");
  validate(g);
  EXPECT_EQ(g.find_value("z")->shape(), (Shape{2, 3}));
  EXPECT_EQ(g.find_value("y")->producer()->name(), "first");
  ASSERT_EQ(g.find_value("x")->uses().size(), 1u);
  EXPECT_EQ(g.find_value("x")->uses()[0].node->name(), "first");
}

TEST(Graph, TopologicalOrderKeepsInsertionOrderForIndependentNodes) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, {1});
  Value* a = g.op1("Neg", {x});
  Value* b = g.op1("Abs", {x});
  g.op1("Add", {a, b});
  std::vector<Node*> order = g.topological_order();
  EXPECT_EQ(order[0]->op_type(), "Neg");
  EXPECT_EQ(order[1]->op_type(), "Abs");
  EXPECT_EQ(order[2]->op_type(), "Add");
}

TEST(Graph, CycleIsAnError) {
  Graph g;
  g.set_label("cyclic.onnx");
  g.add_input("x", DType::kF32, {1});
  g.add_node({"Add", {"x", "b"}, {"a"}, {}, "n1"});
  g.add_node({"Relu", {"a"}, {"b"}, {}, "n2"});
  g.add_output("b");
  expect_error([&] { g.topological_order(); }, ErrorCode::kInvalidArgument, "cycle");
  expect_error([&] { validate(g); }, ErrorCode::kInvalidArgument, "cyclic.onnx: the graph has a cycle through node 'n");
}

TEST(Graph, UndefinedInputIsAnError) {
  Graph g;
  g.add_input("x", DType::kF32, {1});
  g.add_node({"Add", {"x", "ghost"}, {"y"}, {}, "add0"});
  g.add_output("y");
  expect_error([&] { validate(g); }, ErrorCode::kInvalidArgument,
               "node 'add0' (Add): input 'ghost' is not defined");
}

TEST(Graph, UndefinedOutputIsAnError) {
  Graph g;
  g.add_input("x", DType::kF32, {1});
  g.add_output("nowhere");
  expect_error([&] { validate(g); }, ErrorCode::kInvalidArgument, "graph output 'nowhere' is not defined");
}

TEST(Graph, DefiningAValueTwiceBreaksSsa) {
  Graph g;
  g.add_input("x", DType::kF32, {1});
  g.add_node({"Relu", {"x"}, {"y"}});
  expect_error([&] { g.add_node({"Neg", {"x"}, {"y"}, {}, "dup"}); }, ErrorCode::kInvalidArgument,
               "node 'dup' (Neg): output 'y' is already defined");
  expect_error([&] { g.add_node({"Neg", {"y"}, {"x"}}); }, ErrorCode::kInvalidArgument, "'x' is already defined");
  expect_error([&] { g.add_initializer("x", f32({1})); }, ErrorCode::kInvalidArgument, "already defined");
}

TEST(Graph, UnknownOpIsUnsupported) {
  Graph g;
  g.add_input("x", DType::kF32, {1});
  g.add_node({"FancyOp", {"x"}, {"y"}, {}, "f0"});
  g.add_output("y");
  expect_error([&] { validate(g); }, ErrorCode::kUnsupported, "node 'f0' (FancyOp): unknown op 'FancyOp'");
}

TEST(Graph, OpsetOutsideTheDefinitionIsUnsupported) {
  Graph g;
  g.set_opset("", 30);
  g.add_input("x", DType::kF32, {1});
  g.add_node({"Relu", {"x"}, {"y"}, {}, "r"});
  g.add_output("y");
  expect_error([&] { validate(g); }, ErrorCode::kUnsupported, "opset 30 is not supported");
}

TEST(Graph, AttributeOfTheWrongTypeIsAnError) {
  Graph g;
  g.add_input("x", DType::kF32, {2, 3});
  Attributes attrs;
  attrs.set("axis", 1.5f);
  g.add_node({"Softmax", {"x"}, {"y"}, attrs, "sm"});
  g.add_output("y");
  expect_error([&] { validate(g); }, ErrorCode::kInvalidArgument,
               "node 'sm' (Softmax): attribute 'axis' has type float, expected int");
}

TEST(Graph, UnknownAttributeIsAnError) {
  Graph g;
  g.add_input("x", DType::kF32, {2, 3});
  Attributes attrs;
  attrs.set("slope", 0.5f);
  g.add_node({"Relu", {"x"}, {"y"}, attrs, "r"});
  g.add_output("y");
  expect_error([&] { validate(g); }, ErrorCode::kInvalidArgument, "node 'r' (Relu): unknown attribute 'slope'");
}

TEST(Graph, ShapeMismatchNamesTheNode) {
  Graph g;
  g.add_input("a", DType::kF32, {2, 3});
  g.add_input("b", DType::kF32, {4, 5});
  g.add_node({"MatMul", {"a", "b"}, {"c"}, {}, "mm"});
  g.add_output("c");
  expect_error([&] { validate(g); }, ErrorCode::kInvalidArgument, "node 'mm' (MatMul)");
}

TEST(Graph, WrongArityIsAnError) {
  Graph g;
  g.add_input("a", DType::kF32, {2});
  g.add_node({"Add", {"a"}, {"c"}, {}, "add"});
  g.add_output("c");
  expect_error([&] { validate(g); }, ErrorCode::kInvalidArgument, "node 'add' (Add): has 1 inputs, expected 2..2");
}

TEST(Graph, SymbolicDimsFlowThroughInference) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, {"N", 4});
  Value* w = g.add_initializer("w", f32({4, 3}));
  Value* y = g.op1("Relu", {g.op1("MatMul", {x, w})});
  g.add_output(y->name());
  validate(g);
  EXPECT_EQ(y->shape(), (Shape{"N", 3}));
  EXPECT_EQ(y->dtype(), DType::kF32);
}

TEST(Graph, CloneIsDeepAndIndependent) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, {2});
  Value* y = g.op1("Relu", {x});
  g.add_output(y->name());
  Graph c = g.clone();
  c.op1("Neg", {c.find_value(y->name())});
  EXPECT_EQ(g.num_nodes(), 1u);
  EXPECT_EQ(c.num_nodes(), 2u);
  EXPECT_NE(c.find_value("x"), x);
  EXPECT_EQ(c.outputs()[0]->name(), y->name());
}

TEST(Graph, ReplaceUsesAndDeadNodeRemoval) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, {2});
  Value* a = g.op1("Neg", {x});
  Value* b = g.op1("Relu", {a});
  g.add_output(b->name());
  // Bypass Neg: Relu reads x; Neg is now dead.
  g.replace_uses(a, x);
  EXPECT_EQ(b->producer()->input(0), x);
  EXPECT_EQ(g.remove_dead_nodes(), 1u);
  EXPECT_EQ(g.num_nodes(), 1u);
  validate(g);
}

TEST(Graph, RemovesOnlyUnusedInitializers) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, {2});
  Value* used = g.add_initializer("used", f32({2}));
  Value* unused = g.add_initializer("unused", f32({2}));
  g.add_output(g.op1("Add", {x, used})->name());
  expect_error([&] { g.remove_initializer(used); }, ErrorCode::kInvalidArgument, "'used' is not an unused initializer");
  expect_error([&] { g.remove_initializer(x); }, ErrorCode::kInvalidArgument, "'x' is not an unused initializer");
  g.remove_initializer(unused);
  EXPECT_EQ(g.find_value("unused"), nullptr);
  EXPECT_EQ(g.initializers().size(), 1u);
  EXPECT_EQ(g.find_value("used"), used);  // other values keep their addresses
  validate(g);
}

}  // namespace
}  // namespace kiln
