#pragma once
// Finite-difference checks of the gradients in the op registry. A case is one eager op call
// (op, attributes, inputs, opset: 0 for the latest, or an older one for an older form of the op);
// its floating inputs are differentiated unless listed as constant.
// The check backpropagates a random weighting of every floating output and compares each
// input's gradient with central differences in float64 (eps 1e-6, rtol 1e-3, atol 1e-5).

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kiln/runtime/autograd.h"
#include "kiln/runtime/tensor_ops.h"

namespace kiln::test {

struct GradCase {
  std::string name;
  std::string op;
  Attributes attrs;
  std::vector<Tensor> inputs;  // undefined: an omitted optional input
  size_t num_outputs = 1;
  std::set<size_t> constant;  // floating inputs not differentiated (e.g. running statistics)
  std::string domain;
  int opset = 0;  // 0: the latest opset of the op
  double eps = 1e-6, rtol = 1e-3, atol = 1e-5;

  GradCase(std::string case_name, std::string op_type) : name(std::move(case_name)), op(std::move(op_type)) {}
  GradCase& attr(const std::string& key, int64_t value) { attrs.set(key, value); return *this; }
  GradCase& attr(const std::string& key, float value) { attrs.set(key, value); return *this; }
  GradCase& attr(const std::string& key, const char* value) { attrs.set(key, std::string(value)); return *this; }
  GradCase& attr(const std::string& key, std::vector<int64_t> value) { attrs.set(key, std::move(value)); return *this; }
  GradCase& input(Tensor value) { inputs.push_back(std::move(value)); return *this; }
  GradCase& absent() { inputs.emplace_back(); return *this; }
  /// A floating input whose gradient is not checked.
  GradCase& constant_input(Tensor value) { constant.insert(inputs.size()); return input(std::move(value)); }
  GradCase& outputs(size_t n) { num_outputs = n; return *this; }
  GradCase& in_domain(std::string d) { domain = std::move(d); return *this; }
  /// Runs the op at an older opset (its attribute forms, older axis rules).
  GradCase& at_opset(int n) { opset = n; return *this; }
};

inline std::ostream& operator<<(std::ostream& os, const GradCase& c) { return os << c.name; }

/// Seeded f64 values uniform in [lo, hi), away from zero by at least `gap` when gap > 0 (for
/// kinks such as Relu's and Abs').
inline Tensor uniform64(const Dims& shape, double lo = -1.0, double hi = 1.0, unsigned seed = 1, double gap = 0.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) {
    x = dist(rng);
    while (gap > 0 && std::abs(x) < gap) x = dist(rng);
  }
  return Tensor::from_vector<double>(shape, v);
}

inline Tensor ints64(const Dims& shape, std::vector<int64_t> values) { return Tensor::from_vector<int64_t>(shape, values); }

/// Parameterized over the cases of one family file; each file instantiates it once.
class GradCheckTest : public ::testing::TestWithParam<GradCase> {};

// The case families, one per test file; the coverage test in op_gradients_test.cpp reads all.
std::vector<GradCase> core_grad_cases();         // op_gradients_test.cpp
std::vector<GradCase> elementwise_grad_cases();  // elementwise_gradients_test.cpp
std::vector<GradCase> nn_grad_cases();           // nn_gradients_test.cpp
std::vector<GradCase> transformer_grad_cases();  // transformer_gradients_test.cpp

/// The weighted sum of the case's floating outputs for the given inputs.
inline double weighted_output(const GradCase& c, const std::vector<Tensor>& inputs, const std::vector<Tensor>& weights) {
  NoGradGuard no_grad;
  std::vector<Tensor> outs = run_op(c.op, inputs, c.attrs, c.num_outputs, c.domain, c.opset);
  double total = 0;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!weights[k].defined()) continue;
    total += sum(mul(outs[k], weights[k])).item<double>();
  }
  return total;
}

inline void run_grad_check(const GradCase& c) {
  std::vector<Tensor> inputs;
  std::vector<size_t> checked;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor t = c.inputs[i].defined() ? c.inputs[i].clone() : Tensor();
    if (t.defined() && t.dtype() == DType::kF64 && !c.constant.count(i)) {
      t.set_requires_grad(true);
      checked.push_back(i);
    }
    inputs.push_back(t);
  }
  ASSERT_FALSE(checked.empty()) << c.name << ": no f64 input to differentiate";
  std::vector<Tensor> outs = run_op(c.op, inputs, c.attrs, c.num_outputs, c.domain, c.opset);
  std::vector<Tensor> weights;
  Tensor loss;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!outs[k].defined() || outs[k].dtype() != DType::kF64) {
      weights.emplace_back();
      continue;
    }
    weights.push_back(uniform64(outs[k].shape(), 0.5, 1.5, static_cast<unsigned>(100 + k)));
    Tensor term = sum(mul(outs[k], weights.back()));
    loss = loss.defined() ? add(loss, term) : term;
  }
  ASSERT_TRUE(loss.defined()) << c.name << ": no f64 output";
  loss.backward();
  for (size_t i : checked) {
    Tensor analytic = inputs[i].grad();
    ASSERT_TRUE(analytic.defined()) << c.name << ": input " << i << " got no gradient";
    std::vector<double> a = analytic.to_vector<double>();
    std::vector<double> base = c.inputs[i].to_vector<double>();
    for (size_t e = 0; e < base.size(); ++e) {
      std::vector<Tensor> plus = c.inputs, minus = c.inputs;
      std::vector<double> p = base, m = base;
      p[e] += c.eps;
      m[e] -= c.eps;
      plus[i] = Tensor::from_vector<double>(base.size() == 1 && c.inputs[i].rank() == 0 ? Dims{} : c.inputs[i].shape(), p);
      minus[i] = Tensor::from_vector<double>(plus[i].shape(), m);
      const double numeric = (weighted_output(c, plus, weights) - weighted_output(c, minus, weights)) / (2 * c.eps);
      EXPECT_NEAR(a[e], numeric, c.atol + c.rtol * std::abs(numeric))
          << c.name << ": d/d input " << i << " element " << e;
    }
  }
}

}  // namespace kiln::test
