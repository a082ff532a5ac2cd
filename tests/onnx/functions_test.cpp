// Function calls at import (onnx/src/functions.cpp): model-local functions, nested and with
// attribute references, are inlined; ONNX ops kiln lacks but ONNX defines as functions expand
// into their bodies; graph and node metadata_props survive import and export.

#include <gtest/gtest.h>

#include <cmath>

#include "kiln/onnx/model.h"
#include "kiln/runtime/executor.h"
#include "onnx_test_util.h"
#include "test_backends.h"
#include "test_errors.h"

namespace kiln::onnx_test {
namespace {

using kiln::onnx::load_model_from_bytes;
using kiln::onnx::serialize_model;

std::vector<float> run1(const Graph& graph, const Tensor& x) {
  Executor ex(graph, ExecutorOptions{{"cpu"}}, test_registry());
  auto out = ex.run({x});
  EXPECT_EQ(out.size(), 1u);
  return out[0].to_vector<float>();
}

void add_opset(::onnx::FunctionProto* f, const std::string& domain, int64_t version) {
  auto* imp = f->add_opset_import();
  imp->set_domain(domain);
  imp->set_version(version);
}

void add_ref_attr(::onnx::NodeProto* n, const std::string& name, const std::string& ref) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_ref_attr_name(ref);
}

// y = Outer<beta=0.1>(x) with, as the dynamo exporter writes them, two model-local functions:
// Outer(X) = Leaky<alpha=beta>(X) + X, Leaky(X) = LeakyRelu<alpha=alpha>(X).
ModelProto nested_function_model() {
  ModelProto m = make_model(18, 10);
  auto* imp = m.add_opset_import();
  imp->set_domain("pkg.test");
  imp->set_version(1);
  add_input(m, "x", TensorProto::FLOAT, {std::string("s0"), int64_t{4}});
  auto* call = add_node(m, "Outer", {"x"}, {"y"}, "outer_call");
  call->set_domain("pkg.test");
  auto* beta = call->add_attribute();
  beta->set_name("beta");
  beta->set_type(::onnx::AttributeProto::FLOAT);
  beta->set_f(0.1f);
  add_output(m, "y", TensorProto::FLOAT, {std::string("s0"), int64_t{4}});

  auto* leaky = m.add_functions();
  leaky->set_name("Leaky");
  leaky->set_domain("pkg.test");
  leaky->add_input("X");
  leaky->add_output("Y");
  leaky->add_attribute("alpha");
  add_opset(leaky, "", 18);
  auto* lr = leaky->add_node();
  lr->set_op_type("LeakyRelu");
  lr->add_input("X");
  lr->add_output("Y");
  add_ref_attr(lr, "alpha", "alpha");

  auto* outer = m.add_functions();
  outer->set_name("Outer");
  outer->set_domain("pkg.test");
  outer->add_input("X");
  outer->add_output("Y");
  outer->add_attribute("beta");
  add_opset(outer, "", 18);
  add_opset(outer, "pkg.test", 1);
  auto* inner = outer->add_node();
  inner->set_op_type("Leaky");
  inner->set_domain("pkg.test");
  inner->add_input("X");
  inner->add_output("L");
  add_ref_attr(inner, "alpha", "beta");
  auto* add = outer->add_node();
  add->set_op_type("Add");
  add->add_input("L");
  add->add_input("X");
  add->add_output("Y");
  return m;
}

TEST(OnnxFunctions, NestedLocalFunctionsWithAttributeReferencesAreInlined) {
  auto model = load_model_from_bytes(bytes_of(nested_function_model()), "nested.onnx");
  for (const Node* n : model.graph.nodes()) EXPECT_TRUE(n->domain().empty()) << n->describe();
  std::vector<float> x = {-2.0f, -0.5f, 0.0f, 3.0f, 1.5f, -4.0f, 2.0f, -1.0f};
  auto y = run1(model.graph, Tensor::from_vector<float>({2, 4}, x));
  ASSERT_EQ(y.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(y[i], (x[i] < 0 ? 0.1f * x[i] : x[i]) + x[i]) << i;
}

TEST(OnnxFunctions, LocalFunctionCallingAnUnknownOpNamesTheOp) {
  ModelProto m = nested_function_model();
  m.mutable_functions(0)->mutable_node(0)->set_op_type("NoSuchOp");
  expect_error([&] { load_model_from_bytes(bytes_of(m), "bad_fn.onnx"); }, ErrorCode::kInvalidArgument,
               {"bad_fn.onnx", "NoSuchOp"});
}

// kiln has no HannWindow; ONNX defines it (opset 17) as a function of ops kiln has.
TEST(OnnxFunctions, OpDefinedAsAFunctionExpandsWhenKilnLacksIt) {
  ModelProto m = make_model(18, 8);
  add_input(m, "x", TensorProto::FLOAT, {int64_t{5}});
  *m.mutable_graph()->add_initializer() = raw_tensor<int64_t>("size", TensorProto::INT64, {}, {5});
  add_node(m, "HannWindow", {"size"}, {"w"}, "hann");
  add_node(m, "Mul", {"x", "w"}, {"y"}, "mul");
  add_output(m, "y", TensorProto::FLOAT, {int64_t{5}});
  auto model = load_model_from_bytes(bytes_of(m), "hann.onnx");
  for (const Node* node : model.graph.nodes()) EXPECT_NE(node->op_type(), "HannWindow");
  std::vector<float> x = {1, 2, 3, 4, 5};
  auto y = run1(model.graph, Tensor::from_vector<float>({5}, x));
  ASSERT_EQ(y.size(), 5u);
  const double pi = std::acos(-1.0);
  for (int n = 0; n < 5; ++n)  // periodic (the default): N = size
    EXPECT_NEAR(y[n], x[n] * (0.5 - 0.5 * std::cos(2 * pi * n / 5)), 1e-6) << n;
}

// GroupNormalization-21 (scale and bias per channel) and Swish-24 are functions too; their bodies
// need the shapes of the call (a context-dependent body) or an attribute default.
TEST(OnnxFunctions, GroupNormalizationAndSwishExpand) {
  ModelProto m = make_model(24, 12);
  add_input(m, "x", TensorProto::FLOAT, {int64_t{1}, int64_t{4}, int64_t{1}, int64_t{2}});
  *m.mutable_graph()->add_initializer() = float_tensor("scale", {4}, {2.0f, 1.0f, 0.5f, -1.0f});
  *m.mutable_graph()->add_initializer() = float_tensor("bias", {4}, {1.0f, 0.0f, -1.0f, 0.25f});
  auto* n = add_node(m, "GroupNormalization", {"x", "scale", "bias"}, {"g"}, "gn");
  add_int_attr(n, "num_groups", 2);
  add_node(m, "Swish", {"g"}, {"y"}, "swish");
  add_output(m, "y", TensorProto::FLOAT, {int64_t{1}, int64_t{4}, int64_t{1}, int64_t{2}});
  auto model = load_model_from_bytes(bytes_of(m), "gn.onnx");
  for (const Node* node : model.graph.nodes()) {
    EXPECT_NE(node->op_type(), "GroupNormalization");
    EXPECT_NE(node->op_type(), "Swish");
  }
  std::vector<float> x = {1, 2, 3, 4, -1, 0, 5, 8};
  auto y = run1(model.graph, Tensor::from_vector<float>({1, 4, 1, 2}, x));
  ASSERT_EQ(y.size(), 8u);
  const double scale[] = {2.0, 1.0, 0.5, -1.0}, bias[] = {1.0, 0.0, -1.0, 0.25};
  for (int g = 0; g < 2; ++g) {  // group g holds channels 2g and 2g+1, two values each
    double mean = 0, var = 0;
    for (int i = 0; i < 4; ++i) mean += x[g * 4 + i] / 4.0;
    for (int i = 0; i < 4; ++i) var += (x[g * 4 + i] - mean) * (x[g * 4 + i] - mean) / 4.0;
    for (int i = 0; i < 4; ++i) {
      const int c = g * 2 + i / 2;
      const double v = scale[c] * (x[g * 4 + i] - mean) / std::sqrt(var + 1e-5) + bias[c];
      const double want = v / (1.0 + std::exp(-v));  // Swish with its default alpha 1
      EXPECT_NEAR(y[g * 4 + i], want, 1e-5) << "group " << g << " i " << i;
    }
  }
}

TEST(OnnxFunctions, GraphAndNodeMetadataSurviveImportAndExport) {
  ModelProto m = nested_function_model();
  auto* gm = m.mutable_graph()->add_metadata_props();
  gm->set_key("pkg.torch.export");
  gm->set_value("graph note");
  add_node(m, "Relu", {"y"}, {"z"}, "relu");
  auto* nm = m.mutable_graph()->mutable_node(1)->add_metadata_props();
  nm->set_key("namespace");
  nm->set_value(": Net/relu: torch.nn.modules.activation.ReLU");
  m.mutable_graph()->mutable_output(0)->set_name("z");
  auto model = load_model_from_bytes(bytes_of(m), "meta.onnx");
  EXPECT_EQ(model.graph.metadata().at("pkg.torch.export"), "graph note");
  ModelProto back;
  ASSERT_TRUE(back.ParseFromString(serialize_model(model)));
  ASSERT_EQ(back.graph().metadata_props_size(), 1);
  EXPECT_EQ(back.graph().metadata_props(0).value(), "graph note");
  bool found = false;
  for (const auto& node : back.graph().node())
    if (node.name() == "relu") {
      ASSERT_EQ(node.metadata_props_size(), 1);
      EXPECT_EQ(node.metadata_props(0).key(), "namespace");
      found = true;
    }
  EXPECT_TRUE(found);
}

TEST(OnnxFunctions, Float8InitializerNamesTheTypeTheTensorAndTheNode) {
  ModelProto m = make_model(18, 10);
  add_input(m, "x", TensorProto::FLOAT, {int64_t{2}});
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("w8");
  w->set_data_type(TensorProto::FLOAT8E4M3FN);
  w->add_dims(2);
  w->set_raw_data(std::string(2, '\x38'));
  add_node(m, "Cast", {"w8"}, {"w"}, "cast_w")->add_attribute()->CopyFrom([] {
    ::onnx::AttributeProto a;
    a.set_name("to");
    a.set_type(::onnx::AttributeProto::INT);
    a.set_i(TensorProto::FLOAT);
    return a;
  }());
  add_node(m, "Mul", {"x", "w"}, {"y"}, "mul");
  add_output(m, "y", TensorProto::FLOAT, {int64_t{2}});
  expect_error([&] { load_model_from_bytes(bytes_of(m), "f8.onnx"); }, ErrorCode::kUnsupported,
               {"f8.onnx", "FLOAT8E4M3FN", "'w8'", "'cast_w'"});
}

}  // namespace
}  // namespace kiln::onnx_test
