// Export at another opset (SaveOptions::opset, onnx/src/opset_convert.cpp): ops whose form
// changed are rewritten by onnx's version converter, the IR version follows the opset, the result
// computes the same, and an op that cannot convert is named in one line.

#include <gtest/gtest.h>

#include "kiln/onnx/model.h"
#include "kiln/runtime/executor.h"
#include "onnx_test_util.h"
#include "test_backends.h"
#include "test_errors.h"

namespace kiln::onnx_test {
namespace {

using kiln::onnx::load_model_from_bytes;
using kiln::onnx::Model;
using kiln::onnx::SaveOptions;
using kiln::onnx::serialize_model;

std::vector<float> run1(const Graph& graph, const Tensor& x) {
  Executor ex(graph, ExecutorOptions{{"cpu"}}, test_registry());
  return ex.run({x})[0].to_vector<float>();
}

Attributes keepdims0() {
  Attributes a;
  a.set("keepdims", int64_t{0});
  return a;
}

// y = ReduceMean(Relu(x), axes=[1]) at opset 18, where axes is an input (an attribute before 18).
Model reduce_mean_model() {
  Model model;
  Graph& g = model.graph;
  g.set_label("mean18");
  g.set_opset("", 18);
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 3});
  Value* axes = g.add_initializer("axes", Tensor::from_vector<int64_t>({1}, {1}));
  Value* r = g.op1("Relu", {x});
  Value* y = g.op1("ReduceMean", {r, axes}, keepdims0());
  g.add_output(y->name());
  return model;
}

TEST(OnnxOpsetConvert, ReduceMeanMovesItsAxesToTheAttributeAndComputesTheSame) {
  Model model = reduce_mean_model();
  SaveOptions to13;
  to13.opset = 13;
  ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(serialize_model(model, to13)));
  EXPECT_EQ(proto.ir_version(), 7);
  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).version(), 13);
  bool has_axes_attr = false;
  for (const auto& n : proto.graph().node())
    if (n.op_type() == "ReduceMean") {
      EXPECT_EQ(n.input_size(), 1);
      for (const auto& a : n.attribute()) has_axes_attr = has_axes_attr || a.name() == "axes";
    }
  EXPECT_TRUE(has_axes_attr);

  Model back = load_model_from_bytes(proto.SerializeAsString(), "mean13.onnx");
  EXPECT_EQ(back.graph.opset(), 13);
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, -2, 5, 0.5f, 3, -1});
  auto want = run1(model.graph, x), got = run1(back.graph, x);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FLOAT_EQ(want[0], 2.0f);
  EXPECT_FLOAT_EQ(want[1], 3.5f / 3.0f);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]);
}

TEST(OnnxOpsetConvert, UpwardConversionKeepsTheResult) {
  Model model = reduce_mean_model();
  SaveOptions up;
  up.opset = 21;
  ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(serialize_model(model, up)));
  EXPECT_EQ(proto.opset_import(0).version(), 21);
  EXPECT_EQ(proto.ir_version(), 10);
}

TEST(OnnxOpsetConvert, OpWithoutAnOlderFormIsNamed) {
  Model model;
  Graph& g = model.graph;
  g.set_label("gelu20");
  g.set_opset("", 20);
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 3});
  g.add_output(g.op1("Gelu", {x})->name());
  SaveOptions to17;
  to17.opset = 17;
  expect_error([&] { serialize_model(model, to17); }, ErrorCode::kUnsupported,
               {"gelu20", "opset 20 to 17", "Gelu"});
  // The reason only: not the path and assertion text of onnx's sources.
  std::string message = error_message([&] { serialize_model(model, to17); }, ErrorCode::kUnsupported);
  EXPECT_EQ(message.find("Assertion"), std::string::npos) << message;
  EXPECT_EQ(message.find(".h:"), std::string::npos) << message;
}

TEST(OnnxOpsetConvert, OpsetOutsideWhatOnnxKnowsIsAnError) {
  Model model = reduce_mean_model();
  for (int opset : {3, 99}) {
    SaveOptions bad;
    bad.opset = opset;
    expect_error([&] { serialize_model(model, bad); }, ErrorCode::kInvalidArgument,
                 {"mean18", std::to_string(opset)});
  }
}

}  // namespace
}  // namespace kiln::onnx_test
