// Finite-difference checks, in float64, of the core gradients (broadcasting arithmetic, matmul,
// reductions, shapes), and the coverage test: every gradient in the registry has a case.
#include <map>

#include "grad_check.h"

namespace kiln::test {
namespace {

std::vector<GradCase> binary_cases() {
  return {
      GradCase("AddBroadcast", "Add").input(uniform64({2, 3})).input(uniform64({3}, -1, 1, 2)),
      GradCase("SubBroadcast", "Sub").input(uniform64({2, 1, 3})).input(uniform64({4, 1}, -1, 1, 2)),
      GradCase("MulBroadcast", "Mul").input(uniform64({2, 3})).input(uniform64({2, 1}, -1, 1, 2)),
      GradCase("DivBroadcast", "Div").input(uniform64({2, 3})).input(uniform64({3}, 0.5, 2.0, 2)),
  };
}

std::vector<GradCase> matmul_cases() {
  return {
      GradCase("MatMul2d", "MatMul").input(uniform64({3, 4})).input(uniform64({4, 2}, -1, 1, 2)),
      GradCase("MatMulBatchedBroadcast", "MatMul").input(uniform64({2, 1, 3, 4})).input(uniform64({3, 4, 2}, -1, 1, 2)),
      GradCase("MatMulVectorLeft", "MatMul").input(uniform64({4})).input(uniform64({2, 4, 3}, -1, 1, 2)),
      GradCase("MatMulVectorRight", "MatMul").input(uniform64({2, 3, 4})).input(uniform64({4}, -1, 1, 2)),
      GradCase("MatMulVectors", "MatMul").input(uniform64({4})).input(uniform64({4}, -1, 1, 2)),
  };
}

std::vector<GradCase> reduce_cases() {
  return {
      GradCase("ReduceSumAxes", "ReduceSum").input(uniform64({2, 3, 4})).input(ints64({2}, {0, -1})).attr("keepdims", int64_t{0}),
      GradCase("ReduceSumAll", "ReduceSum").input(uniform64({2, 3})),
      GradCase("ReduceMeanKeep", "ReduceMean").input(uniform64({2, 3, 4})).input(ints64({1}, {1})),
      GradCase("ReduceMaxAxis", "ReduceMax").input(uniform64({3, 4})).input(ints64({1}, {1})).attr("keepdims", int64_t{0}),
      // Before opset 13 (ReduceSum) or 18 (the others) the axes are an attribute.
      GradCase("ReduceSumOpset11Axes", "ReduceSum").input(uniform64({2, 3, 4})).attr("axes", std::vector<int64_t>{0, -1}).attr("keepdims", int64_t{0}).at_opset(11),
      GradCase("ReduceSumOpset11AllKeep", "ReduceSum").input(uniform64({2, 3})).at_opset(11),
      GradCase("ReduceMeanOpset11Keep", "ReduceMean").input(uniform64({2, 3, 4})).attr("axes", std::vector<int64_t>{1}).at_opset(11),
      GradCase("ReduceMeanOpset17NegativeAxes", "ReduceMean").input(uniform64({2, 3, 4})).attr("axes", std::vector<int64_t>{-1, -3}).attr("keepdims", int64_t{0}).at_opset(17),
      GradCase("ReduceMeanOpset11All", "ReduceMean").input(uniform64({2, 3})).attr("keepdims", int64_t{0}).at_opset(11),
      GradCase("ReduceMaxOpset11Axis", "ReduceMax").input(uniform64({3, 4})).attr("axes", std::vector<int64_t>{1}).attr("keepdims", int64_t{0}).at_opset(11),
      GradCase("ReduceMaxOpset13AxesKeep", "ReduceMax").input(uniform64({2, 3, 4})).attr("axes", std::vector<int64_t>{0, 2}).at_opset(13),
  };
}

std::vector<GradCase> shape_cases() {
  return {
      GradCase("Reshape", "Reshape").input(uniform64({2, 3, 4})).input(ints64({2}, {4, -1})),
      GradCase("Identity", "Identity").input(uniform64({2, 3})),
      GradCase("TransposePerm", "Transpose").input(uniform64({2, 3, 4})).attr("perm", std::vector<int64_t>{2, 0, 1}),
      GradCase("TransposeDefault", "Transpose").input(uniform64({2, 3, 4})),
      GradCase("SliceSteps", "Slice")
          .input(uniform64({5, 7}))
          .input(ints64({2}, {1, -6}))
          .input(ints64({2}, {4, 7}))
          .input(ints64({2}, {0, 1}))
          .input(ints64({2}, {2, 3})),
      GradCase("SliceDefaultAxes", "Slice").input(uniform64({4, 3})).input(ints64({1}, {1})).input(ints64({1}, {3})),
      // Before opset 10 starts, ends and axes are attributes (no steps).
      GradCase("SliceOpset9Attributes", "Slice")
          .input(uniform64({5, 7}))
          .attr("starts", std::vector<int64_t>{1, -6})
          .attr("ends", std::vector<int64_t>{4, 1000})
          .attr("axes", std::vector<int64_t>{0, 1})
          .at_opset(9),
      GradCase("SliceOpset9NegativeAxis", "Slice")
          .input(uniform64({2, 5, 3}))
          .attr("starts", std::vector<int64_t>{-4})
          .attr("ends", std::vector<int64_t>{-1})
          .attr("axes", std::vector<int64_t>{-2})
          .at_opset(9),
      GradCase("SliceOpset1DefaultAxes", "Slice")
          .input(uniform64({4, 3}))
          .attr("starts", std::vector<int64_t>{1, 0})
          .attr("ends", std::vector<int64_t>{3, 2})
          .at_opset(1),
      GradCase("Expand", "Expand").input(uniform64({3, 1})).input(ints64({3}, {2, 3, 4})),
  };
}

}  // namespace

std::vector<GradCase> core_grad_cases() {
  std::vector<GradCase> all;
  for (auto family : {binary_cases, matmul_cases, reduce_cases, shape_cases})
    for (GradCase& c : family()) all.push_back(std::move(c));
  return all;
}

namespace {

TEST_P(GradCheckTest, MatchesFiniteDifferences) { run_grad_check(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Core, GradCheckTest, ::testing::ValuesIn(core_grad_cases()),
                         [](const auto& param_info) { return param_info.param.name; });

// Every op with a gradient has a finite-difference case.
TEST(GradCoverage, EveryGradientHasACase) {
  std::set<std::string> covered;
  for (auto family : {core_grad_cases, elementwise_grad_cases, nn_grad_cases, transformer_grad_cases})
    for (const GradCase& c : family()) covered.insert(c.op);
  for (const OpDef* def : OpRegistry::builtin().all())
    if (def->grad_fn()) {
      EXPECT_TRUE(covered.count(def->name())) << def->name() << " has a gradient but no check";
    }
}

}  // namespace
}  // namespace kiln::test
