#pragma once
// Helpers for the nn tests: f64 tensors from lists, values as doubles, and a finite-difference
// gradient check of a scalar function of some f64 leaf tensors.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kiln/frontend/nn.h"
#include "kiln/runtime/op_registry.h"

namespace kiln::nntest {

inline Tensor t64(const Dims& shape, std::vector<double> values) {
  return Tensor::from_vector<double>(shape, values);
}

inline std::vector<double> values(const Tensor& t) {
  return t.dtype() == DType::kF64 ? t.contiguous().to_vector<double>()
                                  : cast(t.detach(), DType::kF64).to_vector<double>();
}

inline void expect_values_near(const Tensor& actual, const std::vector<double>& expected, double tol,
                               const std::string& what = "") {
  std::vector<double> a = values(actual);
  ASSERT_EQ(a.size(), expected.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], expected[i], tol * (1.0 + std::abs(expected[i]))) << what << " at " << i;
}

/// Seeded f64 values in [lo, hi).
inline Tensor random64(const Dims& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator gen(seed);
  return uniform(shape, lo, hi, gen, DType::kF64);
}

/// Backpropagates f() (a scalar) into leaves (host f64 tensors that require grad) and compares
/// each gradient with central differences (eps 1e-6, rtol 1e-3, atol 1e-5).
inline void expect_gradients_match(const std::function<Tensor()>& f, std::vector<Tensor> leaves,
                                   const std::string& what, double eps = 1e-6, double rtol = 1e-3,
                                   double atol = 1e-5) {
  for (Tensor& leaf : leaves) leaf.set_grad(Tensor());
  Tensor loss = f();
  ASSERT_EQ(loss.numel(), 1) << what;
  loss.backward();
  for (size_t l = 0; l < leaves.size(); ++l) {
    Tensor g = leaves[l].grad();
    ASSERT_TRUE(g.defined()) << what << ": leaf " << l << " got no gradient";
    std::vector<double> analytic = values(g);
    double* data = leaves[l].data<double>();
    for (int64_t e = 0; e < leaves[l].numel(); ++e) {
      const double saved = data[e];
      double plus, minus;
      {
        NoGradGuard no_grad;
        data[e] = saved + eps;
        plus = f().item<double>();
        data[e] = saved - eps;
        minus = f().item<double>();
        data[e] = saved;
      }
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(analytic[static_cast<size_t>(e)], numeric, atol + rtol * std::abs(numeric))
          << what << ": leaf " << l << " element " << e;
    }
  }
}

/// The ops of the list whose gradient the registry does not define yet (gradient tests skip
/// with this list until the op's gradient lands).
inline std::string missing_gradients(const std::vector<std::string>& ops) {
  std::string missing;
  for (const std::string& op : ops) {
    const OpDef* def = OpRegistry::builtin().find(op);
    if (!def || !def->grad_fn()) missing += (missing.empty() ? "" : ", ") + op;
  }
  return missing;
}

#define KILN_SKIP_WITHOUT_GRADIENTS(...)                                                      \
  do {                                                                                        \
    const std::string missing = ::kiln::nntest::missing_gradients({__VA_ARGS__});             \
    if (!missing.empty()) GTEST_SKIP() << "the registry has no gradient yet for " << missing; \
  } while (0)

/// Expects f to throw kiln::Error whose message contains every one of parts.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const Error& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

}  // namespace kiln::nntest
