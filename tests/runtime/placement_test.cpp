// Placement across two backends: the test backend claims Add/Relu but not MatMul/Softmax, so
// a mixed graph under {"test","cpu"} falls back node by node, with device copies at each
// boundary (the test backend rejects any pointer that is not its own memory).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "kiln/runtime/executor.h"
#include "kiln/runtime/graph.h"
#include "test_backends.h"
#include "test_errors.h"

namespace kiln {
namespace {

constexpr int64_t kIn = 3, kOut = 4;

// Row-major [rows, cols] float matrix used by the reference.
using Matrix = std::vector<float>;

// y = softmax(relu(x + b) @ w) + c, with x[N,3], b[3], w[3,4] (an initializer), c[4].
// Under {"test","cpu"}: add and relu on test, matmul and softmax fall back to cpu, add_bias
// returns to test.
Graph mixed_graph() {
  Graph g;
  g.set_label("mixed");
  g.add_input("x", DType::kF32, Shape{"N", kIn});
  g.add_input("b", DType::kF32, Shape{kIn});
  g.add_input("c", DType::kF32, Shape{kOut});
  std::vector<float> w(kIn * kOut);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i % 5) - 0.5f;
  g.add_initializer("w", Tensor::from_vector<float>({kIn, kOut}, w));
  g.add_node({"Add", {"x", "b"}, {"a"}, {}, "add"});
  g.add_node({"Relu", {"a"}, {"r"}, {}, "relu"});
  g.add_node({"MatMul", {"r", "w"}, {"m"}, {}, "matmul"});
  Attributes softmax_attrs;
  softmax_attrs.set("axis", int64_t{-1});
  g.add_node({"Softmax", {"m"}, {"s"}, softmax_attrs, "softmax"});
  g.add_node({"Add", {"s", "c"}, {"y"}, {}, "add_bias"});
  g.add_output("y");
  return g;
}

const std::vector<float> kB = {0.5f, -1.0f, 0.25f};
const std::vector<float> kC = {1.0f, -2.0f, 0.0f, 3.0f};

std::vector<float> x_values(int64_t rows, float shift) {
  std::vector<float> x(static_cast<size_t>(rows * kIn));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7f * static_cast<float>(i) + shift) * 2.0f;
  return x;
}

// The mixed graph computed directly, independently of kiln.
std::vector<float> reference(const std::vector<float>& x, int64_t rows) {
  std::vector<float> w(kIn * kOut);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i % 5) - 0.5f;
  std::vector<float> y(static_cast<size_t>(rows * kOut));
  for (int64_t n = 0; n < rows; ++n) {
    float r[kIn];
    for (int64_t k = 0; k < kIn; ++k) r[k] = std::max(0.0f, x[n * kIn + k] + kB[k]);
    double m[kOut], max = -1e30, sum = 0;
    for (int64_t j = 0; j < kOut; ++j) {
      m[j] = 0;
      for (int64_t k = 0; k < kIn; ++k) m[j] += static_cast<double>(r[k]) * w[k * kOut + j];
      max = std::max(max, m[j]);
    }
    for (int64_t j = 0; j < kOut; ++j) sum += std::exp(m[j] - max);
    for (int64_t j = 0; j < kOut; ++j)
      y[n * kOut + j] = static_cast<float>(std::exp(m[j] - max) / sum) + kC[j];
  }
  return y;
}

std::vector<Tensor> inputs_for(const std::vector<float>& x, int64_t rows) {
  return {Tensor::from_vector<float>({rows, kIn}, x), Tensor::from_vector<float>({kIn}, kB),
          Tensor::from_vector<float>({kOut}, kC)};
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << "element " << i;
}

const NodePlacement& placement_of(const PlacementReport& report, const std::string& node) {
  for (const NodePlacement& p : report.nodes)
    if (p.node && p.node->name() == node) return p;
  throw std::runtime_error("no placement for node " + node);
}

std::string backend_of(const PlacementReport& report, const std::string& node) {
  const NodePlacement& p = placement_of(report, node);
  return p.backend ? p.backend->name() : "(none)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A registry that also sees the broken plugins, so "failinit" is a backend that could not start.
BackendRegistry& registry_with_broken() {
  static BackendRegistry registry({KILN_BUILD_DIR, KILN_TEST_PLUGIN_DIR, KILN_TEST_PLUGIN_DIR "/broken"});
  return registry;
}

class Placement : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"cpu", "test"})
      if (!test_registry().find(name))
        GTEST_FAIL() << name << " backend missing: " << test_registry().why_missing(name);
  }
};

TEST_F(Placement, MixedGraphFallsBackNodeByNodeAndMatchesReference) {
  Graph g = mixed_graph();
  Executor ex(g, ExecutorOptions{{"test", "cpu"}, false, 2}, test_registry());
  std::vector<float> x = x_values(2, 0.0f);
  std::vector<Tensor> out = ex.run(inputs_for(x, 2));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (Dims{2, kOut}));
  expect_near(out[0].to_vector<float>(), reference(x, 2));

  const PlacementReport& report = ex.placement();
  EXPECT_EQ(report.nodes.size(), 5u);
  EXPECT_EQ(backend_of(report, "add"), "test");
  EXPECT_EQ(backend_of(report, "relu"), "test");
  EXPECT_EQ(backend_of(report, "matmul"), "cpu");
  EXPECT_EQ(backend_of(report, "softmax"), "cpu");
  EXPECT_EQ(backend_of(report, "add_bias"), "test");
  for (const char* node : {"add", "relu", "add_bias"}) {
    EXPECT_FALSE(placement_of(report, node).fell_back) << node;
    EXPECT_TRUE(placement_of(report, node).reason.empty()) << node;
  }
  for (const char* node : {"matmul", "softmax"}) {
    const NodePlacement& p = placement_of(report, node);
    EXPECT_TRUE(p.fell_back) << node;
    // The reason says which backend declined and why (the test backend names the op).
    EXPECT_TRUE(contains(p.reason, "test")) << p.reason;
    EXPECT_TRUE(contains(p.reason, p.node->op_type())) << p.reason;
  }
  EXPECT_EQ(report.num_fallbacks(), 2u);
  // relu -> matmul (test to cpu) and softmax -> add_bias (cpu to test) cross devices at least.
  EXPECT_GE(report.num_copies, 2u);
  EXPECT_TRUE(report.unavailable.empty());
}

TEST_F(Placement, RerunsAndReplansAcrossDevices) {
  Graph g = mixed_graph();
  Executor ex(g, ExecutorOptions{{"test", "cpu"}, false, 1}, test_registry());
  for (float shift : {0.0f, 1.0f, 2.0f}) {
    std::vector<float> x = x_values(2, shift);
    expect_near(ex.run(inputs_for(x, 2))[0].to_vector<float>(), reference(x, 2));
  }
  EXPECT_EQ(ex.num_plans(), 1u);
  std::vector<float> x = x_values(7, 0.5f);
  std::vector<Tensor> out = ex.run(inputs_for(x, 7));
  EXPECT_EQ(ex.num_plans(), 2u);
  EXPECT_EQ(out[0].shape(), (Dims{7, kOut}));
  expect_near(out[0].to_vector<float>(), reference(x, 7));
  EXPECT_EQ(backend_of(ex.placement(), "add"), "test");
  EXPECT_EQ(backend_of(ex.placement(), "matmul"), "cpu");
}

TEST_F(Placement, CpuOnlyNeedsNoCopiesOrFallbacks) {
  Graph g = mixed_graph();
  Executor ex(g, ExecutorOptions{{"cpu"}, true, 0}, test_registry());
  std::vector<float> x = x_values(3, 0.0f);
  expect_near(ex.run(inputs_for(x, 3))[0].to_vector<float>(), reference(x, 3));
  const PlacementReport& report = ex.placement();
  for (const NodePlacement& p : report.nodes) {
    EXPECT_EQ(p.backend ? p.backend->name() : "", "cpu") << p.node->name();
    EXPECT_FALSE(p.fell_back) << p.node->name();
  }
  EXPECT_EQ(report.num_copies, 0u);
}

TEST_F(Placement, StrictTurnsFallbackIntoAnErrorNamingTheNode) {
  Graph g = mixed_graph();
  std::string msg = error_message(
      [&] {
        Executor ex(g, ExecutorOptions{{"test", "cpu"}, true, 0}, test_registry());
        ex.run(inputs_for(x_values(2, 0.0f), 2));
      },
      ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(msg, "matmul")) << msg;
  EXPECT_TRUE(contains(msg, "MatMul")) << msg;
  EXPECT_TRUE(contains(msg, "strict")) << msg;
}

TEST_F(Placement, StrictAcceptsAGraphTheFirstBackendRunsWhole) {
  Graph g;
  g.add_input("x", DType::kF32, Shape{2, 3});
  g.add_input("b", DType::kF32, Shape{3});
  g.add_node({"Add", {"x", "b"}, {"a"}, {}, "add"});
  g.add_node({"Relu", {"a"}, {"y"}, {}, "relu"});
  g.add_output("y");
  Executor ex(g, ExecutorOptions{{"test", "cpu"}, true, 0}, test_registry());
  std::vector<float> x = {-1, 2, -3, 4, -5, 6};
  std::vector<Tensor> out =
      ex.run(std::vector<Tensor>{Tensor::from_vector<float>({2, 3}, x), Tensor::from_vector<float>({3}, kB)});
  std::vector<float> want(6);
  for (size_t i = 0; i < 6; ++i) want[i] = std::max(0.0f, x[i] + kB[i % 3]);
  expect_near(out[0].to_vector<float>(), want);
  EXPECT_EQ(ex.placement().num_fallbacks(), 0u);
  for (const NodePlacement& p : ex.placement().nodes) EXPECT_EQ(p.backend->name(), "test");
}

// The threads option reaches the backends; the test backend splits large tensors across them.
TEST_F(Placement, ThreadsOptionRunsLargeTensorsOnTheTestBackend) {
  constexpr int64_t kRows = 700, kCols = 300;  // enough elements for several threads
  Graph g;
  g.add_input("x", DType::kF32, Shape{kRows, kCols});
  g.add_input("v", DType::kF32, Shape{kRows, 1});
  g.add_node({"Div", {"x", "v"}, {"y"}, {}, "div"});
  g.add_output("y");
  std::vector<float> x(kRows * kCols), v(kRows);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 1000) - 500.0f;
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7) + 1.0f;
  Executor ex(g, ExecutorOptions{{"test", "cpu"}, true, 4}, test_registry());
  std::vector<Tensor> out = ex.run(std::vector<Tensor>{Tensor::from_vector<float>({kRows, kCols}, x),
                                                       Tensor::from_vector<float>({kRows, 1}, v)});
  EXPECT_EQ(backend_of(ex.placement(), "div"), "test");
  std::vector<float> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = x[i] / v[i / kCols];
  expect_near(out[0].to_vector<float>(), want);
  test_registry().find("test")->set_option("threads", "0");
}

TEST_F(Placement, BackendThatCouldNotStartIsReportedUnavailable) {
  BackendRegistry& registry = registry_with_broken();
  ASSERT_EQ(registry.find("failinit"), nullptr);
  Graph g = mixed_graph();
  Executor ex(g, ExecutorOptions{{"failinit", "test", "cpu"}, false, 0}, registry);
  std::vector<float> x = x_values(2, 0.0f);
  expect_near(ex.run(inputs_for(x, 2))[0].to_vector<float>(), reference(x, 2));
  const PlacementReport& report = ex.placement();
  ASSERT_EQ(report.unavailable.size(), 1u);
  EXPECT_EQ(report.unavailable[0].rfind("failinit", 0), 0u) << report.unavailable[0];
  EXPECT_TRUE(contains(report.unavailable[0], "simulated: no device present")) << report.unavailable[0];
  EXPECT_EQ(backend_of(report, "add"), "test");
  EXPECT_EQ(backend_of(report, "matmul"), "cpu");
  EXPECT_TRUE(contains(ex.placement().to_string(), "simulated: no device present"))
      << ex.placement().to_string();
}

TEST_F(Placement, StrictWithAnUnavailableBackendIsAnError) {
  Graph g = mixed_graph();
  std::string msg = error_message(
      [&] {
        Executor ex(g, ExecutorOptions{{"failinit", "cpu"}, true, 0}, registry_with_broken());
      },
      ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(msg, "failinit")) << msg;
  EXPECT_TRUE(contains(msg, "simulated: no device present")) << msg;
}

TEST_F(Placement, BackendThatIsNotInstalledIsReportedUnavailable) {
  if (test_registry().find("cuda")) GTEST_SKIP() << "a cuda backend is loaded here";
  Graph g = mixed_graph();
  Executor ex(g, ExecutorOptions{{"cuda", "cpu"}, false, 0}, test_registry());
  std::vector<float> x = x_values(2, 0.0f);
  expect_near(ex.run(inputs_for(x, 2))[0].to_vector<float>(), reference(x, 2));
  ASSERT_EQ(ex.placement().unavailable.size(), 1u);
  const std::string& u = ex.placement().unavailable[0];
  EXPECT_EQ(u.rfind("cuda", 0), 0u) << u;
  EXPECT_TRUE(contains(u, test_registry().why_missing("cuda"))) << u;

  std::string msg = error_message(
      [&] {
        Executor strict(g, ExecutorOptions{{"cuda", "cpu"}, true, 0}, test_registry());
      },
      ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(msg, "cuda")) << msg;
}

TEST_F(Placement, OpWithNoKernelOnAnyListedBackendNamesOpNodeAndBackends) {
  Graph g = mixed_graph();
  std::string msg = error_message(
      [&] {
        Executor ex(g, ExecutorOptions{{"test"}, false, 0}, test_registry());
        ex.run(inputs_for(x_values(2, 0.0f), 2));
      },
      ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(msg, "node 'matmul' (MatMul)")) << msg;
  EXPECT_TRUE(contains(msg, "test")) << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 0) << "one line expected: " << msg;
}

TEST_F(Placement, UnknownOpIsOneClearError) {
  Graph g;
  g.add_input("x", DType::kF32, Shape{2});
  g.add_node({"FrobnicateZ", {"x"}, {"y"}, {}, "frob_node"});
  g.add_output("y");
  std::string msg = error_message(
      [&] {
        Executor ex(g, ExecutorOptions{{"test", "cpu"}, false, 0}, test_registry());
        ex.run(std::vector<Tensor>{Tensor::from_vector<float>({2}, {1, 2})});
      },
      ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(msg, "FrobnicateZ")) << msg;
  EXPECT_TRUE(contains(msg, "frob_node")) << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 0) << "one line expected: " << msg;
}

TEST_F(Placement, ReportListsEveryNode) {
  Graph g = mixed_graph();
  Executor ex(g, ExecutorOptions{{"test", "cpu"}, false, 0}, test_registry());
  EXPECT_EQ(error_message([&] { ex.placement(); }, ErrorCode::kInvalidArgument).empty(), false);
  ex.plan(inputs_for(x_values(2, 0.0f), 2));
  std::string text = ex.placement().to_string();
  for (const char* node : {"add", "relu", "matmul", "softmax", "add_bias"})
    EXPECT_TRUE(contains(text, node)) << node << " missing from:\n" << text;
  for (const char* part : {"test", "cpu", "MatMul", "Softmax"})
    EXPECT_TRUE(contains(text, part)) << part << "\n" << text;
  // The fallback reasons appear too.
  EXPECT_TRUE(contains(text, placement_of(ex.placement(), "matmul").reason)) << text;
}

}  // namespace
}  // namespace kiln
