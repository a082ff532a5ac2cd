// Export (issue 5, item 5): frontend models traced into ONNX (checker, re-import, outputs at two
// batch sizes, PyTorch's names), a traced graph that would bake the batch size, GraphModule
// export in inference form and as trained, safetensors under PyTorch's names, and export paths
// in folders that do not exist (clear error, no file).
#include "kiln/train/export.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "../frontend/frontend_test_util.h"
#include "kiln/frontend/nn.h"
#include "kiln/frontend/safetensors.h"
#include "kiln/onnx/inference_session.h"
#include "kiln/onnx/model.h"
#include "kiln/runtime/trace.h"
#include "kiln/train/load_module.h"
#include "test_errors.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

// Largest |a - b| / (|b| + 1e-6)-style relative difference, elementwise.
double max_rel_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i)
    worst = std::max(worst, std::abs(double(x[i]) - y[i]) / (std::abs(double(y[i])) + 1e-3));
  return worst;
}

std::vector<std::string> op_types(const Graph& g) {
  std::vector<std::string> ops;
  for (const Node* n : g.topological_order()) ops.push_back(n->op_type());
  return ops;
}

std::vector<std::string> initializer_names(const Graph& g) {
  std::vector<std::string> names;
  for (const Value* v : g.initializers()) names.push_back(v->name());
  std::sort(names.begin(), names.end());
  return names;
}

// Exports, re-imports through the ONNX importer (checker on) and runs both at two batch sizes.
void expect_round_trip(nn::Module& model, const Dims& sample_shape, const std::string& path) {
  Generator gen(3);
  Dims shape = sample_shape;
  shape.insert(shape.begin(), 4);
  const bool training = model.is_training();
  export_onnx(model, randn(shape, gen), path);
  EXPECT_EQ(model.is_training(), training) << "export restores the training flag";
  onnx::Model loaded = onnx::load_model(path);
  ASSERT_EQ(loaded.graph.inputs().size(), 1u);
  EXPECT_EQ(loaded.graph.inputs()[0]->name(), "input");
  EXPECT_EQ(loaded.graph.inputs()[0]->shape()[0].symbol(), "batch");
  EXPECT_EQ(loaded.graph.outputs()[0]->name(), "output");
  EXPECT_EQ(loaded.graph.opset(""), 17);
  EXPECT_EQ(loaded.producer_name, "kiln");
  InferenceSession session(path);
  model.eval();
  for (int64_t batch : {1, 7}) {
    shape[0] = batch;
    Tensor x = randn(shape, gen);
    Tensor expected = model.forward(x);
    Tensor got = session.run({{"input", x}}).at("output");
    EXPECT_LT(max_rel_diff(got, expected), 1e-5) << "batch " << batch;
  }
}

TEST(TraceExport, SequentialMlpExportsAndReimportsAtTwoBatchSizes) {
  manual_seed(1);
  nn::Sequential mlp(nn::Linear(6, 16), nn::ReLU(), nn::Dropout(0.3), nn::Linear(16, 16), nn::GELU(),
                     nn::Linear(16, 3), nn::LogSoftmax(1));
  mlp->train();
  TempDir dir;
  expect_round_trip(*mlp, {6}, dir.file("mlp.onnx"));
  Graph g = onnx::load_model(dir.file("mlp.onnx")).graph;
  // Dropout is gone (eval); Gelu is written as its opset-17 decomposition.
  const auto ops = op_types(g);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Gemm"), 3);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Dropout"), 0);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Erf"), 1);
  EXPECT_EQ(initializer_names(g).size(), 6u + 3u);  // 6 parameters + Gelu's 3 constants
  for (const char* name : {"0.weight", "0.bias", "3.weight", "3.bias", "5.weight", "5.bias"})
    EXPECT_NE(g.find_value(name), nullptr) << name;
}

class SmallCnnImpl : public nn::Module {
 public:
  SmallCnnImpl() : Module("SmallCnn") {
    features = register_module("features", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)),
                                                          nn::BatchNorm2d(4), nn::ReLU(), nn::MaxPool2d(2),
                                                          nn::Conv2d(nn::Conv2dOptions(4, 8, 3).padding(1)),
                                                          nn::ReLU(), nn::AvgPool2d(2)));
    drop = register_module("drop", nn::Dropout(0.5));
    fc = register_module("fc", nn::Linear(8 * 2 * 2, 5));
  }
  Tensor forward(const Tensor& x) override {
    return fc->forward(drop->forward(flatten(features->forward(x), 1)));
  }
  nn::Sequential features{nullptr};
  nn::Dropout drop{nullptr};
  nn::Linear fc{nullptr};
};
KILN_MODULE(SmallCnn);

TEST(TraceExport, SmallCnnWithBatchNormExportsAndReimportsAtTwoBatchSizes) {
  manual_seed(2);
  SmallCnn cnn;
  // Non-trivial running statistics, as after training.
  cnn->train();
  Generator gen(9);
  for (int i = 0; i < 3; ++i) cnn->forward(randn({8, 1, 8, 8}, gen) * 2.0 + 0.5);
  TempDir dir;
  expect_round_trip(*cnn, {1, 8, 8}, dir.file("cnn.onnx"));
  Graph g = onnx::load_model(dir.file("cnn.onnx")).graph;
  const auto ops = op_types(g);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Flatten"), 1) << "flatten is shape-agnostic";
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Reshape"), 0);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "BatchNormalization"), 1);
  for (const char* name :
       {"features.1.running_mean", "features.1.running_var", "features.1.weight", "fc.weight"})
    EXPECT_NE(g.find_value(name), nullptr) << name;
}

TEST(TraceExport, LinearOnThreeDimsTracesTheWeightTranspose) {
  manual_seed(5);
  nn::Sequential m(nn::Linear(4, 3), nn::Tanh());
  Graph g = trace_module(*m, randn({2, 5, 4}));
  // MatMul(input, Transpose(0.weight)) + 0.bias: the view of the weight became a Transpose node.
  EXPECT_EQ(op_types(g), (std::vector<std::string>{"Transpose", "MatMul", "Add", "Tanh"}));
  TempDir dir;
  export_onnx(*m, randn({2, 5, 4}), dir.file("m.onnx"));
  InferenceSession session(dir.file("m.onnx"));
  Tensor x = randn({3, 5, 4});
  EXPECT_LT(max_rel_diff(session.run({{"input", x}}).at("output"), m->forward(x)), 1e-5);
}

// A module whose graph holds the batch size: ones_like expands a constant to x's shape.
class BakesBatchImpl : public nn::Module {
 public:
  BakesBatchImpl() : Module("BakesBatch") {}
  Tensor forward(const Tensor& x) override { return x + ones_like(x); }
};
KILN_MODULE(BakesBatch);

TEST(TraceExport, AGraphThatBakesTheBatchSizeIsRefused) {
  BakesBatch m;
  TempDir dir;
  const std::string path = dir.file("b.onnx");
  expect_error(
      [&] {
        export_onnx(*m, zeros({4, 3}), path);
      },
      ErrorCode::kInvalidArgument,
      {"(Expand)", "[4,3]", "[5,3]", "depends on the batch size", "dynamic_batch=false"});
  EXPECT_FALSE(fs::exists(path));
  // A fixed batch is fine.
  export_onnx(*m, zeros({4, 3}), path, /*dynamic_batch=*/false);
  InferenceSession session(path);
  EXPECT_EQ(session.run({{"input", zeros({4, 3})}}).at("output").to_vector<float>(),
            std::vector<float>(12, 1.0f));
}

TEST(TraceExport, TracerMapsViewsAndConstants) {
  Tracer tracer;
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor w = Tensor::from_vector<float>({3}, {1, 1, 1});
  tracer.add_input("x", x, Shape{"n", 3});
  tracer.name_tensor("w", w);
  Tensor y;
  {
    TraceGuard guard(tracer);
    EXPECT_EQ(active_tracer(), &tracer);
    Tensor a = relu(x) * w;                    // named initializer
    Tensor b = a.slice(1, 1, 3) + 2.0;         // Slice view, then a constant
    y = b.transpose(0, 1).contiguous() * 1.0;  // Transpose view
  }
  EXPECT_EQ(active_tracer(), nullptr);
  tracer.add_output("y", y, Shape{2, "n"});
  Graph g = tracer.finish("t");
  EXPECT_EQ(op_types(g), (std::vector<std::string>{"Relu", "Mul", "Slice", "Add", "Transpose", "Mul"}));
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  validate(g);
  InferenceSession session(g);
  EXPECT_EQ(session.run({{"x", x}}).at("y").to_vector<float>(), y.to_vector<float>());
}

TEST(TraceExport, MissingFolderIsAClearErrorAndNoFile) {
  TempDir dir;
  nn::Sequential m(nn::Linear(2, 2));
  const std::string path = dir.file("OUT/x.onnx");
  expect_error(
      [&] {
        export_onnx(*m, zeros({1, 2}), path);
      },
      ErrorCode::kNotFound, {path, "folder '" + dir.file("OUT") + "' does not exist"});
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// ---- GraphModule export ----

Tensor floats(const Dims& shape, std::vector<float> v) { return Tensor::from_vector<float>(shape, v); }

// x [batch,2] -> Gemm(fc.weight, fc.bias) -> BatchNormalization(bn.*) -> Dropout -> output
Graph imported_model(bool unmapped) {
  Graph g;
  g.set_label("m.onnx");
  g.set_opset("", 13);
  Value* x = g.add_input("x", DType::kF32, Shape{"batch", 2});
  Attributes t;
  t.set("transB", int64_t{1});
  Value* h = g.op1("Gemm",
                   {x, g.add_initializer("fc.weight", floats({3, 2}, {1, 2, 3, 4, 5, 6})),
                    g.add_initializer("fc.bias", floats({3}, {0.1f, 0.2f, 0.3f}))},
                   t);
  Value* bn = g.op1("BatchNormalization", {h, g.add_initializer("bn.weight", floats({3}, {1, 2, 3})),
                                           g.add_initializer("bn.bias", floats({3}, {0, 0, 1})),
                                           g.add_initializer("bn.running_mean", floats({3}, {0, 1, 2})),
                                           g.add_initializer("bn.running_var", floats({3}, {1, 1, 4}))});
  Value* d = g.op("Dropout", {bn}, {}, 1)[0];
  Value* out =
      unmapped ? g.op1("MatMul",
                       {d, g.add_initializer("onnx::MatMul_9", floats({3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1}))})
               : d;
  g.add_node({"Identity", {out->name()}, {"y"}});
  g.add_output("y");
  return g;
}

TEST(GraphModuleExport, InferenceFormAndAsTrained) {
  nn::GraphModule m(imported_model(false));
  // One SGD-like change so the export must carry current values, not the imported ones.
  {
    NoGradGuard ng;
    m->named_parameters()["fc.bias"].copy_from(floats({3}, {1, 1, 1}));
  }
  TempDir dir;
  export_onnx(m, dir.file("inf.onnx"));
  export_onnx(m, dir.file("trained.onnx"), nn::ExportForm::kAsTrained);
  onnx::Model inf = onnx::load_model(dir.file("inf.onnx"));
  onnx::Model trained = onnx::load_model(dir.file("trained.onnx"));
  EXPECT_EQ(inf.graph.opset(""), 13);
  EXPECT_EQ(inf.producer_name, "kiln");
  auto count = [](const Graph& g, const char* op) {
    const auto ops = op_types(g);
    return std::count(ops.begin(), ops.end(), op);
  };
  EXPECT_EQ(count(inf.graph, "Dropout"), 0);
  EXPECT_EQ(count(trained.graph, "Dropout"), 1);
  EXPECT_EQ(count(inf.graph, "BatchNormalization"), 1);
  EXPECT_EQ(inf.graph.find_value("fc.bias")->initializer()->to_vector<float>(),
            (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(inf.graph.inputs()[0]->shape()[0].symbol(), "batch");
  m->eval();
  InferenceSession session(dir.file("inf.onnx"));
  for (int64_t batch : {1, 3}) {
    Tensor x = randn({batch, 2});
    EXPECT_LT(max_rel_diff(session.run({{"x", x}}).at("y"), m->forward(x)), 1e-5);
  }
  expect_error([&] { export_onnx(m, dir.file("no/such/dir/m.onnx")); }, ErrorCode::kNotFound,
               "folder '" + dir.file("no/such/dir") + "' does not exist");
}

TEST(GraphModuleExport, SafetensorsUnderPyTorchNames) {
  nn::GraphModule m(imported_model(false));
  TempDir dir;
  SafetensorsExportOptions opts;
  opts.num_batches_tracked = 5;
  SafetensorsExportResult r = export_safetensors(m, dir.file("w.safetensors"), opts);
  EXPECT_EQ(r.added, (std::vector<std::string>{"bn.num_batches_tracked"}));
  EXPECT_TRUE(r.skipped_unmapped.empty());
  SafetensorsFile f = read_safetensors(dir.file("w.safetensors"));
  std::vector<std::string> names;
  for (const auto& [name, t] : f.tensors) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"bn.bias", "bn.num_batches_tracked", "bn.running_mean",
                                             "bn.running_var", "bn.weight", "fc.bias", "fc.weight"}));
  EXPECT_EQ(f.tensors.at("fc.weight").shape(), (Dims{3, 2}));
  EXPECT_EQ(f.tensors.at("bn.running_var").to_vector<float>(), (std::vector<float>{1, 1, 4}));
  EXPECT_EQ(f.tensors.at("bn.num_batches_tracked").item<int64_t>(), 5);
  EXPECT_EQ(f.metadata.at("format"), "pt");
  // Loading the file back into a fresh module gives the same state.
  nn::GraphModule fresh(imported_model(false));
  f.tensors.erase("bn.num_batches_tracked");
  fresh->load_state_dict(f.tensors);
}

TEST(GraphModuleExport, UnmappedParametersFailUnlessSkipped) {
  nn::GraphModule m(imported_model(true));
  ASSERT_EQ(m->report().unmapped_parameters, (std::vector<std::string>{"onnx::MatMul_9"}));
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  expect_error([&] { export_safetensors(m, path); }, ErrorCode::kInvalidArgument,
               {"onnx::MatMul_9", "strict=True", "skip_unmapped"});
  EXPECT_FALSE(fs::exists(path));
  SafetensorsExportOptions opts;
  opts.skip_unmapped = true;
  SafetensorsExportResult r = export_safetensors(m, path, opts);
  EXPECT_EQ(r.skipped_unmapped, (std::vector<std::string>{"onnx::MatMul_9"}));
  EXPECT_EQ(read_safetensors(path).tensors.count("onnx::MatMul_9"), 0u);
  expect_error([&] { export_safetensors(m, dir.file("OUT/w.safetensors"), opts); }, ErrorCode::kNotFound,
               "does not exist");
}

}  // namespace
}  // namespace kiln::train
