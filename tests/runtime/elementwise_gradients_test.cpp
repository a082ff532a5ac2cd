// Finite-difference checks, in float64, of the gradients of unary math and activations.
#include "grad_check.h"

namespace kiln::test {
namespace {

std::vector<GradCase> activation_cases() {
  return {
      GradCase("Relu", "Relu").input(uniform64({3, 4}, -1, 1, 1, 0.01)),
      GradCase("Neg", "Neg").input(uniform64({3, 4})),
  };
}

}  // namespace

std::vector<GradCase> elementwise_grad_cases() {
  std::vector<GradCase> all;
  for (auto family : {activation_cases})
    for (GradCase& c : family()) all.push_back(std::move(c));
  return all;
}

namespace {

INSTANTIATE_TEST_SUITE_P(Elementwise, GradCheckTest, ::testing::ValuesIn(elementwise_grad_cases()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace kiln::test
