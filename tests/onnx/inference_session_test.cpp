// InferenceSession: runs small graphs (and a saved model) and compares with values computed
// here; checks input names, dtypes and shapes with messages that name the model and the input.

#include "kiln/onnx/inference_session.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "kiln/onnx/model.h"
#include "test_errors.h"
#include "tiny_model.h"

namespace kiln {
namespace {

std::vector<float> batch(int64_t n) {
  std::vector<float> x;
  for (int64_t i = 0; i < n * 3; ++i) x.push_back(static_cast<float>((i * 7) % 11) / 4.0f - 1.2f);
  return x;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << i;
}

SessionOptions with_optimize(bool optimize) {
  SessionOptions o;
  o.optimize = optimize;
  return o;
}

class SessionTest : public ::testing::TestWithParam<bool> {};

TEST_P(SessionTest, RunsAndMatchesReference) {
  InferenceSession session(tiny_graph(), with_optimize(GetParam()));
  for (int64_t n : {2, 5, 1}) {  // each batch size re-plans
    std::vector<float> x = batch(n);
    auto out = session.run({{"x", Tensor::from_vector<float>({n, 3}, x)}});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out.at("y").shape(), (Dims{n, 2}));
    expect_near(out.at("y").to_vector<float>(), tiny_expected_y(x));
    std::vector<float> z;
    for (float v : x) z.push_back(v * 2);
    expect_near(out.at("z").to_vector<float>(), z);
  }
}

INSTANTIATE_TEST_SUITE_P(Optimize, SessionTest, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "optimized" : "plain"; });

TEST(InferenceSession, DescribesInputsAndOutputs) {
  InferenceSession session(tiny_graph());
  ASSERT_EQ(session.inputs().size(), 1u);
  EXPECT_EQ(session.inputs()[0].name, "x");
  EXPECT_EQ(session.inputs()[0].dtype, DType::kF32);
  EXPECT_EQ(session.inputs()[0].shape, (Shape{"N", 3}));
  ASSERT_EQ(session.outputs().size(), 2u);
  EXPECT_EQ(session.outputs()[0].name, "y");
  EXPECT_EQ(session.outputs()[0].dtype, DType::kF32);
  EXPECT_EQ(session.outputs()[0].shape.rank(), 2u);
  EXPECT_EQ(session.outputs()[0].shape[1], Dim(2));
  EXPECT_EQ(session.outputs()[1].name, "z");
}

TEST(InferenceSession, RejectsUnknownAndMissingInputs) {
  InferenceSession session(tiny_graph());
  Tensor x = Tensor::from_vector<float>({1, 3}, batch(1));
  expect_error(
      [&] {
        session.run({{"x", x}, {"extra", x}});
      },
      ErrorCode::kInvalidArgument, {"tiny.onnx", "'extra'", "not an input", "inputs: x"});
  expect_error([&] { session.run({}); }, ErrorCode::kInvalidArgument, {"tiny.onnx", "input 'x'", "missing"});
}

TEST(InferenceSession, RejectsWrongDtypeAndShape) {
  InferenceSession session(tiny_graph());
  expect_error(
      [&] {
        session.run({{"x", Tensor::from_vector<double>({1, 3}, {1, 2, 3})}});
      },
      ErrorCode::kInvalidArgument, {"tiny.onnx", "input 'x'", "f64", "f32"});
  expect_error(
      [&] {
        session.run({{"x", Tensor::zeros({2, 4}, DType::kF32)}});
      },
      ErrorCode::kInvalidArgument, {"tiny.onnx", "input 'x'", "[2,4]"});
  expect_error(
      [&] {
        session.run({{"x", Tensor::zeros({3}, DType::kF32)}});
      },
      ErrorCode::kInvalidArgument, {"input 'x'", "rank 2"});
}

TEST(InferenceSession, PlacementAfterTheFirstRun) {
  SessionOptions options;
  options.threads = 1;
  InferenceSession session(tiny_graph(), options);
  expect_error([&] { session.placement(); }, ErrorCode::kInvalidArgument, "tiny.onnx");
  session.run({{"x", Tensor::from_vector<float>({2, 3}, batch(2))}});
  const PlacementReport& report = session.placement();
  ASSERT_FALSE(report.nodes.empty());
  for (const NodePlacement& p : report.nodes) {
    ASSERT_NE(p.backend, nullptr);
    EXPECT_EQ(p.backend->name(), "cpu");
  }
  EXPECT_EQ(report.num_fallbacks(), 0u);
}

TEST(InferenceSession, StrictFailsWhenTheFirstBackendIsMissing) {
  SessionOptions options;
  options.backends = {"no_such_backend", "cpu"};
  options.strict = true;
  expect_error([&] { InferenceSession session(tiny_graph(), options); }, ErrorCode::kUnsupported,
               "no_such_backend");
  options.strict = false;
  InferenceSession session(tiny_graph(), options);  // falls back to cpu
  std::vector<float> x = batch(3);
  expect_near(session.run({{"x", Tensor::from_vector<float>({3, 3}, x)}}).at("y").to_vector<float>(),
              tiny_expected_y(x));
}

TEST(InferenceSession, InvalidGraphFailsAtConstruction) {
  Graph g;
  g.set_label("broken.onnx");
  g.add_input("x", DType::kF32, Shape{2, 3});
  g.add_node({"MatMul", {"x", "x"}, {"y"}});  // [2,3] @ [2,3]
  g.add_output("y");
  expect_error([&] { InferenceSession session(g, with_optimize(false)); }, ErrorCode::kInvalidArgument,
               "broken.onnx");
}

class SessionFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kiln_session_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(SessionFileTest, LoadsASavedModel) {
  onnx::Model model;
  model.graph = tiny_graph();
  model.producer_name = "kiln-test";
  std::string path = (dir_ / "tiny.onnx").string();
  onnx::save_model(model, path);
  InferenceSession session(path);
  std::vector<float> x = batch(4);
  auto out = session.run({{"x", Tensor::from_vector<float>({4, 3}, x)}});
  expect_near(out.at("y").to_vector<float>(), tiny_expected_y(x));
  // Errors name the model's file.
  expect_error(
      [&] {
        session.run({{"q", Tensor::zeros({1, 3}, DType::kF32)}});
      },
      ErrorCode::kInvalidArgument, {"tiny.onnx", "'q'"});
}

TEST_F(SessionFileTest, NotAModelFails) {
  std::string path = (dir_ / "junk.onnx").string();
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("this is not a protobuf \x01\x02\x03\xff\xff", f);
  std::fclose(f);
  try {
    InferenceSession session(path);
    ADD_FAILURE() << "a file of random bytes loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("junk.onnx"), std::string::npos) << e.what();
  }
  try {
    InferenceSession session((dir_ / "missing.onnx").string());
    ADD_FAILURE() << "a missing file loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.onnx"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
