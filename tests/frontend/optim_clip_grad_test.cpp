// optim::clip_grad_norm_ and clip_grad_value_ against values computed by hand.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kiln/frontend/optim.h"
#include "test_errors.h"

namespace kiln {
namespace {

#ifndef EXPECT_KILN_ERROR
#define EXPECT_KILN_ERROR(expression, code, needle) expect_error([&] { (void)(expression); }, code, needle)
#endif

Tensor with_grad(std::vector<double> grad) {
  Tensor p = Tensor::zeros({static_cast<int64_t>(grad.size())}, DType::kF64);
  p.set_requires_grad(true);
  p.set_grad(Tensor::from_vector<double>(p.shape(), grad));
  return p;
}

TEST(OptimClipGrad, NormScalesEveryGradientWhenAboveMaxNorm) {
  Tensor a = with_grad({3.0, 0.0}), b = with_grad({0.0, 4.0, 0.0}), none = Tensor::zeros({2}, DType::kF64);
  none.set_requires_grad(true);
  Tensor old = a.grad();
  double total = optim::clip_grad_norm_({a, b, none}, 1.0);
  EXPECT_DOUBLE_EQ(total, 5.0);
  double coef = 1.0 / (5.0 + 1e-6);
  EXPECT_DOUBLE_EQ(a.grad().to_vector<double>()[0], 3.0 * coef);
  EXPECT_DOUBLE_EQ(b.grad().to_vector<double>()[1], 4.0 * coef);
  EXPECT_FALSE(none.grad().defined());
  EXPECT_EQ(old.to_vector<double>()[0], 3.0);  // the old gradient was not written in place
}

TEST(OptimClipGrad, NormLeavesGradientsBelowMaxNorm) {
  Tensor a = with_grad({0.3, -0.4});
  Tensor before = a.grad();
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm_({a}, 1.0), 0.5);
  EXPECT_EQ(a.grad().storage().get(), before.storage().get());
}

TEST(OptimClipGrad, InfinityOneAndThreeNorms) {
  Tensor a = with_grad({1.0, -6.0}), b = with_grad({2.0});
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm_({a, b}, 100.0, std::numeric_limits<double>::infinity()), 6.0);
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm_({a, b}, 100.0, 1.0), 9.0);
  double three = std::cbrt(1.0 + 216.0 + 8.0);
  EXPECT_NEAR(optim::clip_grad_norm_({a, b}, 100.0, 3.0), three, 1e-12);
  optim::clip_grad_norm_({a, b}, 3.0, std::numeric_limits<double>::infinity());
  EXPECT_NEAR(a.grad().to_vector<double>()[1], -6.0 * 3.0 / (6.0 + 1e-6), 1e-12);
}

TEST(OptimClipGrad, Float32UsesTheFloatCoefficient) {
  Tensor p = Tensor::zeros({2}, DType::kF32);
  p.set_requires_grad(true);
  p.set_grad(Tensor::from_vector<float>({2}, {3.0f, 4.0f}));
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm_({p}, 2.0), 5.0);
  float coef = 2.0f / (5.0f + 1e-6f);
  EXPECT_EQ(p.grad().to_vector<float>(), (std::vector<float>{3.0f * coef, 4.0f * coef}));
}

TEST(OptimClipGrad, NonFiniteNorm) {
  Tensor a = with_grad({1.0, NAN});
  EXPECT_KILN_ERROR(optim::clip_grad_norm_({a}, 1.0, 2.0, true), ErrorCode::kInvalidArgument,
                    "total norm of order 2 of the gradients is non-finite (nan)");
  EXPECT_EQ(a.grad().to_vector<double>()[0], 1.0);
  EXPECT_TRUE(std::isnan(optim::clip_grad_norm_({a}, 1.0)));  // as PyTorch: the gradients become NaN
  EXPECT_TRUE(std::isnan(a.grad().to_vector<double>()[0]));
  Tensor b = with_grad({INFINITY});
  EXPECT_KILN_ERROR(optim::clip_grad_norm_({b}, 1.0, 2.0, true), ErrorCode::kInvalidArgument, "non-finite (inf)");
}

TEST(OptimClipGrad, NoGradientsGiveZero) {
  Tensor p = Tensor::zeros({2}, DType::kF32);
  EXPECT_EQ(optim::clip_grad_norm_({p}, 1.0), 0.0);
  EXPECT_EQ(optim::clip_grad_norm_({}, 1.0), 0.0);
}

TEST(OptimClipGrad, BadArguments) {
  Tensor a = with_grad({1.0});
  EXPECT_KILN_ERROR(optim::clip_grad_norm_({a}, -1.0), ErrorCode::kInvalidArgument, "invalid max_norm -1");
  EXPECT_KILN_ERROR(optim::clip_grad_norm_({a}, 1.0, 0.0), ErrorCode::kInvalidArgument, "invalid norm_type 0");
  EXPECT_KILN_ERROR(optim::clip_grad_value_({a}, -1.0), ErrorCode::kInvalidArgument, "invalid clip_value -1");
}

TEST(OptimClipGrad, ValueClampsEachElement) {
  Tensor a = with_grad({-3.0, 0.5, 2.0}), b = with_grad({0.9});
  Tensor old = a.grad();
  optim::clip_grad_value_({a, b}, 1.0);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{-1.0, 0.5, 1.0}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{0.9}));
  EXPECT_EQ(old.to_vector<double>()[0], -3.0);
}

}  // namespace
}  // namespace kiln
