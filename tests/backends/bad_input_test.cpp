// Bad inputs that only show at run time must end in one kiln::Error, never a crash.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kiln/runtime/error.h"
#include "kiln/runtime/executor.h"
#include "kiln/runtime/graph.h"
#include "op_case.h"
#include "test_backends.h"

namespace kiln::test {
namespace {

class BadInputTest : public ::testing::TestWithParam<std::vector<std::string>> {
 protected:
  /// Builds one node over the given inputs (graph inputs unless constant), runs it, and
  /// expects a kiln::Error whose message contains `needle`.
  void expect_error(const std::string& op, const std::vector<Tensor>& inputs, const std::vector<bool>& constant,
                    const Attributes& attrs, const std::string& needle) {
    Graph graph;
    NodeSpec spec{op, {}, {"y"}, attrs, "bad_" + op};
    std::vector<Tensor> feeds;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string name = "in" + std::to_string(i);
      spec.inputs.push_back(name);
      if (constant[i]) {
        graph.add_initializer(name, inputs[i]);
      } else {
        graph.add_input(name, inputs[i].dtype(), Shape::of(inputs[i].shape()));
        feeds.push_back(inputs[i]);
      }
    }
    graph.add_node(spec);
    graph.add_output("y");
    try {
      Executor ex(graph, ExecutorOptions{GetParam(), /*strict=*/false, 0}, test_registry());
      ex.run(feeds);
      ADD_FAILURE() << op << " ran without an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
    }
  }
};

TEST_P(BadInputTest, GatherIndexOutOfRange) {
  Gen gen(11);
  expect_error("Gather", {gen.uniform({3, 2}), i64({2}, {1, 3})}, {false, false}, {}, "bad_Gather");
}

TEST_P(BadInputTest, GatherNegativeIndexOutOfRange) {
  Gen gen(12);
  Attributes attrs;
  attrs.set("axis", int64_t{1});
  expect_error("Gather", {gen.uniform({3, 2}), i64({1}, {-3})}, {false, false}, attrs, "bad_Gather");
}

TEST_P(BadInputTest, GatherConstantIndexOutOfRange) {
  Gen gen(13);
  expect_error("Gather", {gen.uniform({3, 2}), i64_scalar(7)}, {false, true}, {}, "bad_Gather");
}

TEST_P(BadInputTest, IntegerDivisionByZero) {
  expect_error("Div", {i64({3}, {4, 5, 6}), i64({3}, {1, 0, 2})}, {false, false}, {}, "bad_Div");
}

TEST_P(BadInputTest, IntegerDivisionByZeroBroadcast) {
  expect_error("Div", {i64({2, 2}, {4, 5, 6, 7}), i64_scalar(0)}, {false, false}, {}, "bad_Div");
}

std::string list_name(const ::testing::TestParamInfo<std::vector<std::string>>& info) {
  std::string name;
  for (const std::string& b : info.param) name += (name.empty() ? "" : "_") + b;
  return name;
}

INSTANTIATE_TEST_SUITE_P(Backends, BadInputTest, ::testing::ValuesIn(backend_lists()), list_name);

}  // namespace
}  // namespace kiln::test
