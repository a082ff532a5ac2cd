// ONNX export: load -> serialize -> load gives the same graph and the same outputs, the written
// model passes onnx's checker, and save_model writes atomically. Models come from code and from
// the onnx 1.12 node test data.

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>

#include "kiln/onnx/model.h"
#include "kiln/runtime/executor.h"
#include "onnx_test_util.h"
#include "test_backends.h"
#include "test_errors.h"

namespace kiln::onnx_test {
namespace {

using kiln::onnx::load_model;
using kiln::onnx::load_model_from_bytes;
using kiln::onnx::Model;
using kiln::onnx::save_model;
using kiln::onnx::serialize_model;

const fs::path kNodeTests = "/usr/share/libonnx-testdata/data/node";

std::vector<Tensor> run(const Graph& graph, const std::vector<Tensor>& inputs) {
  Executor ex(graph, ExecutorOptions{{"cpu"}}, test_registry());
  return ex.run(inputs);
}

// z = LayerNorm(3 * Relu(x @ W + b)) with a symbolic batch, a Constant node, and an omitted
// optional output between two given ones.
ModelProto small_model() {
  ModelProto m = make_model(17, 8);
  add_input(m, "x", TensorProto::FLOAT, {std::string("batch"), int64_t{3}});
  *m.mutable_graph()->add_initializer() =
      raw_tensor<float>("w", TensorProto::FLOAT, {3, 2}, {1, -1, 0.5f, 2, -0.25f, 0.75f});
  *m.mutable_graph()->add_initializer() = float_tensor("b", {2}, {0.5f, -0.5f});
  auto* c = add_node(m, "Constant", {}, {"k"}, "k");
  auto* a = c->add_attribute();
  a->set_name("value_float");
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(3.0f);
  add_node(m, "MatMul", {"x", "w"}, {"h"}, "mm");
  add_node(m, "Add", {"h", "b"}, {"hb"}, "add");
  add_node(m, "Relu", {"hb"}, {"r"}, "relu");
  add_node(m, "Mul", {"r", "k"}, {"y"}, "mul");
  *m.mutable_graph()->add_initializer() = float_tensor("gamma", {2}, {1, 1});
  *m.mutable_graph()->add_initializer() = float_tensor("beta", {2}, {0, 0});
  add_node(m, "LayerNormalization", {"y", "gamma", "beta"}, {"z", "", "istd"}, "ln");  // Mean omitted
  add_output(m, "z", TensorProto::FLOAT, {std::string("batch"), int64_t{2}});
  return m;
}

TEST(OnnxExport, RoundTripGivesTheSameGraphAndOutputs) {
  Model first = load_model_from_bytes(bytes_of(small_model()), "small.onnx");
  std::string bytes = serialize_model(first);
  Model second = load_model_from_bytes(bytes, "small.onnx");
  expect_same_graph(first.graph, second.graph);
  EXPECT_EQ(second.graph.nodes()[5]->output(1), nullptr);
  EXPECT_EQ(second.graph.nodes()[5]->output(2)->name(), "istd");
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, -1, 0.5f, 4});
  auto a = run(first.graph, {x}), b = run(second.graph, {x});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(same_bytes(a[0], b[0]));
  // First row: Relu(x @ w + b) = [1.75, 4.75], times 3 = [5.25, 14.25]: mean 9.75, std 4.5.
  std::vector<float> got = a[0].to_vector<float>();
  EXPECT_NEAR(got[0], -1.0f, 1e-5f);
  EXPECT_NEAR(got[1], 1.0f, 1e-5f);
  // A second round trip changes nothing in the bytes.
  EXPECT_EQ(serialize_model(second), bytes);
}

TEST(OnnxExport, WrittenModelHasKilnFieldsAndPassesTheChecker) {
  Model model = load_model_from_bytes(bytes_of(small_model()), "small.onnx");
  model.metadata["author"] = "tests";
  ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(serialize_model(model)));
  EXPECT_NO_THROW(::onnx::checker::check_model(proto));
  EXPECT_EQ(proto.producer_name(), "kiln");
  EXPECT_EQ(proto.ir_version(), 8);
  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).domain(), "");
  EXPECT_EQ(proto.opset_import(0).version(), 17);
  ASSERT_EQ(proto.metadata_props_size(), 1);
  EXPECT_EQ(proto.metadata_props(0).value(), "tests");
  // Initializers as raw_data, including the one that came in float_data.
  ASSERT_EQ(proto.graph().initializer_size(), 4);
  for (const auto& init : proto.graph().initializer()) {
    EXPECT_TRUE(init.has_raw_data()) << init.name();
    EXPECT_EQ(init.float_data_size(), 0) << init.name();
  }
  // Nodes in topological order, the omitted output kept as "".
  std::vector<std::string> ops;
  for (const auto& n : proto.graph().node()) ops.push_back(n.op_type());
  EXPECT_EQ(ops,
            (std::vector<std::string>{"Constant", "MatMul", "Add", "Relu", "Mul", "LayerNormalization"}));
  EXPECT_EQ(proto.graph().node(5).output(1), "");
  // Inputs, outputs and value_info carry dtypes and symbolic dims.
  const auto& in = proto.graph().input(0).type().tensor_type();
  EXPECT_EQ(in.elem_type(), TensorProto::FLOAT);
  EXPECT_EQ(in.shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(in.shape().dim(1).dim_value(), 3);
  bool found_h = false;
  for (const auto& vi : proto.graph().value_info())
    if (vi.name() == "h") {
      found_h = true;
      EXPECT_EQ(vi.type().tensor_type().shape().dim(0).dim_param(), "batch");
      EXPECT_EQ(vi.type().tensor_type().shape().dim(1).dim_value(), 2);
    }
  EXPECT_TRUE(found_h);
  EXPECT_EQ(proto.graph().output(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
}

TEST(OnnxExport, GraphBuiltInCodeExportsAndRuns) {
  Model model;
  Graph& g = model.graph;
  g.set_label("built");
  g.set_opset("", 17);
  Value* x = g.add_input("x", DType::kF32, Shape{"N", 4});
  Value* s = g.add_initializer("scale", Tensor::from_vector<float>({4}, {1, 2, 3, 4}));
  Value* y = g.op1("Mul", {x, s});
  Value* z = g.op1("Softmax", {y}, [] {
    Attributes a;
    a.set("axis", int64_t{-1});
    return a;
  }());
  g.add_output(z->name());  // no type yet: export infers it
  Model back = load_model_from_bytes(serialize_model(model), "built.onnx");
  EXPECT_EQ(back.graph.opset(), 17);
  EXPECT_EQ(back.graph.outputs()[0]->dtype(), DType::kF32);
  EXPECT_EQ(back.graph.outputs()[0]->shape(), (Shape{"N", 4}));
  auto out = run(back.graph, {Tensor::from_vector<float>({1, 4}, {0, 0, 0, 0})})[0].to_vector<float>();
  // softmax([0, 0, 0, 0] * scale) is uniform
  for (float v : out) EXPECT_NEAR(v, 0.25f, 1e-6f);
}

TEST(OnnxExport, SaveModelWritesAtomicallyAndReportsIoErrors) {
  TempDir dir;
  Model model = load_model_from_bytes(bytes_of(small_model()), "small.onnx");
  fs::path path = dir / "out.onnx";
  write_file(path, "old contents");
  save_model(model, path.string());
  // Only the model is in the folder: the temporary file was renamed into place.
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir.path()))
    files.push_back(entry.path().filename().string());
  EXPECT_EQ(files, std::vector<std::string>{"out.onnx"});
  // Permissions as for any new file: 0666 less the umask.
  mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(static_cast<mode_t>(fs::status(path).permissions()), 0666 & ~mask);
  Model back = load_model(path.string());
  expect_same_graph(model.graph, back.graph);
  expect_error([&] { save_model(model, (dir / "missing" / "x.onnx").string()); }, ErrorCode::kIo, "x.onnx");
}

TEST(OnnxExport, GraphThatOnnxCannotExpressIsAnError) {
  Model model;
  model.graph.set_label("untyped");
  model.graph.add_input("x", DType::kUndefined, Shape{2});
  Value* y = model.graph.op1("Relu", {model.graph.find_value("x")});
  model.graph.add_output(y->name());
  expect_error([&] { serialize_model(model); }, ErrorCode::kInvalidArgument, "'x'");
}

// Node tests of the onnx 1.12 test data: kiln's outputs match the stored ones, and again after
// a round trip through export, with the same graph.
class NodeTestRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(NodeTestRoundTrip, MatchesStoredOutputsBeforeAndAfterExport) {
  fs::path dir = kNodeTests / GetParam();
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " is not installed (libonnx-testdata)";
  Model first = load_model((dir / "model.onnx").string());
  std::vector<Tensor> inputs, expected;
  for (size_t i = 0; fs::exists(dir / "test_data_set_0" / fmt::format("input_{}.pb", i)); ++i)
    inputs.push_back(read_tensor_pb(dir / "test_data_set_0" / fmt::format("input_{}.pb", i)));
  for (size_t i = 0; fs::exists(dir / "test_data_set_0" / fmt::format("output_{}.pb", i)); ++i)
    expected.push_back(read_tensor_pb(dir / "test_data_set_0" / fmt::format("output_{}.pb", i)));
  ASSERT_EQ(inputs.size(), first.graph.inputs().size());
  auto got = run(first.graph, inputs);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], expected[i], fmt::format("output {}", i));

  Model second = load_model_from_bytes(serialize_model(first), "model.onnx");
  expect_same_graph(first.graph, second.graph);
  auto again = run(second.graph, inputs);
  ASSERT_EQ(again.size(), got.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(same_bytes(again[i], got[i])) << "output " << i;
}

INSTANTIATE_TEST_SUITE_P(
    OnnxExport, NodeTestRoundTrip,
    ::testing::Values("test_relu", "test_add_bcast", "test_matmul_2d", "test_gemm_all_attributes",
                      "test_conv_with_strides_padding", "test_softmax_axis_1",
                      "test_transpose_all_permutations_0", "test_reshape_negative_dim",
                      "test_concat_2d_axis_0", "test_clip_default_min", "test_squeeze",
                      "test_unsqueeze_axis_0", "test_slice", "test_split_equal_parts_1d",
                      "test_reduce_mean_default_axes_keepdims_example", "test_maxpool_2d_pads",
                      "test_batchnorm_example", "test_constant", "test_cast_FLOAT_to_DOUBLE",
                      "test_where_example", "test_gather_0", "test_flatten_axis1", "test_expand_dim_changed",
                      "test_averagepool_2d_default", "test_globalaveragepool", "test_sigmoid",
                      "test_reduce_sum_default_axes_keepdims_example", "test_constantofshape_int_zeros",
                      "test_range_float_type_positive_delta", "test_shape",
                      "test_layer_normalization_2d_axis0"),
    [](const ::testing::TestParamInfo<std::string>& p) { return p.param.substr(5); });

}  // namespace
}  // namespace kiln::onnx_test

namespace kiln::onnx_test {
namespace {

// Every model of the node test data either loads or fails with one kiln::Error; every model
// that loads exports, passes the checker, and loads back as the same graph.
TEST(OnnxExport, EveryNodeTestModelRoundTripsOrFailsCleanly) {
  if (!fs::exists(kNodeTests)) GTEST_SKIP() << kNodeTests << " is not installed (libonnx-testdata)";
  size_t loaded = 0, refused = 0;
  for (const auto& entry : fs::directory_iterator(kNodeTests)) {
    fs::path path = entry.path() / "model.onnx";
    if (!fs::exists(path)) continue;
    std::optional<Model> model;
    try {
      model.emplace(load_model(path.string()));
    } catch (const Error& e) {
      ++refused;
      // KILN_SHOW_REFUSED=1 lists why each refused model was refused.
      if (std::getenv("KILN_SHOW_REFUSED"))
        std::cout << entry.path().filename().string() << ": " << e.what() << "\n";
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "multi-line message: " << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("model.onnx: ", 0), 0u) << "unlabelled message: " << e.what();
      continue;
    } catch (const std::exception& e) {
      ADD_FAILURE() << path << ": not a kiln::Error: " << e.what();
      continue;
    }
    ++loaded;
    SCOPED_TRACE(path.string());
    Model back = load_model_from_bytes(serialize_model(*model), "model.onnx");
    expect_same_graph(model->graph, back.graph);
  }
  EXPECT_GT(loaded, 300u);
  std::cout << "node test models: " << loaded << " loaded and round-tripped, " << refused << " refused\n";
}

}  // namespace
}  // namespace kiln::onnx_test

namespace kiln::onnx_test {
namespace {

// An input for a declared type: symbolic and unknown dims become 1, floats a smooth ramp,
// integers zero.
Tensor example_input(const Value& v) {
  Dims dims;
  for (const Dim& d : v.shape().dims()) dims.push_back(d.is_static() ? d.value() : 1);
  Tensor t = Tensor::zeros(dims, v.dtype());
  if (v.dtype() == DType::kF32) {
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = std::sin(0.01f * static_cast<float>(i));
  }
  return t;
}

// Models named in KILN_ROUNDTRIP_MODELS (colon separated, e.g. PyTorch exports made by the
// interop scripts) load, export, load back as the same graph, and give identical outputs.
TEST(OnnxExport, ModelsFromTheEnvironmentRoundTrip) {
  const char* list = std::getenv("KILN_ROUNDTRIP_MODELS");
  if (!list || !*list) GTEST_SKIP() << "KILN_ROUNDTRIP_MODELS is not set";
  std::stringstream paths(list);
  for (std::string path; std::getline(paths, path, ':');) {
    if (path.empty()) continue;
    SCOPED_TRACE(path);
    Model first = load_model(path);
    Model second = load_model_from_bytes(serialize_model(first), first.graph.label());
    expect_same_graph(first.graph, second.graph);
    std::vector<Tensor> inputs;
    for (const Value* in : first.graph.inputs()) inputs.push_back(example_input(*in));
    auto a = run(first.graph, inputs), b = run(second.graph, inputs);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bytes(a[i], b[i])) << "output " << i;
  }
}

}  // namespace
}  // namespace kiln::onnx_test
