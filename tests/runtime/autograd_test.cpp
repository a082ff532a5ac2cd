// The tape and backward(): accumulation, retain_graph, no_grad, detach, views, and errors.
#include "kiln/runtime/autograd.h"

#include <gtest/gtest.h>

#include "kiln/runtime/tensor_ops.h"
#include "test_errors.h"

namespace kiln {
namespace {

Tensor leaf(const Dims& shape, std::vector<float> values) {
  Tensor t = Tensor::from_vector<float>(shape, values);
  t.set_requires_grad(true);
  return t;
}

TEST(Autograd, PolynomialGradient) {
  Tensor x = leaf({3}, {1, -2, 0.5f});
  Tensor y = sum(x * x + 3.0 * x);  // dy/dx = 2x + 3
  EXPECT_EQ(y.grad_fn_name(), "ReduceSum");
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{5, -1, 4}));
}

TEST(Autograd, BroadcastGradientsSumBack) {
  Tensor a = leaf({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = leaf({3}, {1, 1, 1});
  sum(a * b).backward();
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{1, 1, 1, 1, 1, 1}));
}

TEST(Autograd, GradientsAccumulateAcrossBackwards) {
  Tensor x = leaf({2}, {1, 2});
  Tensor y = sum(x * 2.0);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{4, 4}));
  x.set_grad(Tensor());
  sum(x * 3.0).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{3, 3}));
}

TEST(Autograd, SecondBackwardWithoutRetainGraphFails) {
  Tensor x = leaf({2}, {1, 2});
  Tensor y = sum(x * x);
  y.backward();
  expect_error([&] { y.backward(); }, ErrorCode::kInvalidArgument, {"retain_graph", "ReduceSum"});
}

TEST(Autograd, ValueUsedTwiceSumsItsGradients) {
  Tensor x = leaf({1}, {3});
  Tensor h = x * 2.0;
  sum(h * h + h).backward();  // d/dx (4x^2 + 2x) = 8x + 2
  EXPECT_FLOAT_EQ(x.grad().item<float>(), 26.0f);
}

TEST(Autograd, NoGradGuardAndDetachStopRecording) {
  Tensor x = leaf({2}, {1, 2});
  {
    NoGradGuard guard;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
  }
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  Tensor y = sum(x * d);  // d is a constant: dy/dx = d
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, 2}));
  EXPECT_TRUE(GradMode::enabled());
}

TEST(Autograd, ViewsAreDifferentiable) {
  Tensor x = leaf({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor w = Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  // transpose, reshape, slice and expand views of x, each weighted differently
  Tensor t = sum(x.transpose(0, 1) * w);
  Tensor r = sum(x.reshape({6}) * 10.0);
  Tensor s = sum(x.slice(1, 1, 3) * 100.0);
  Tensor e = sum(x.slice(0, 0, 1).expand({4, 3}));
  (t + r + s + e).backward();
  // d/dx[i][j] = w[j][i] + 10 + 100*(j>=1) + 4*(i==0)
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{15, 117, 119, 12, 114, 116}));
}

TEST(Autograd, ExplicitSeedForNonScalarRoot) {
  Tensor x = leaf({2}, {1, 2});
  Tensor y = x * x;
  expect_error([&] { y.backward(); }, ErrorCode::kInvalidArgument, "one element");
  Tensor seed = Tensor::from_vector<float>({2}, {1, 10});
  y.backward(seed);
  seed.data<float>()[0] = 99;  // the leaf's grad does not alias the seed
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 40}));
  expect_error([&] { (x * 1.0).backward(Tensor::from_vector<float>({3}, {1, 1, 1})); }, ErrorCode::kInvalidArgument,
               "does not match");
}

TEST(Autograd, BadRequests) {
  expect_error([] { Tensor::from_vector<int64_t>({1}, {1}).set_requires_grad(true); }, ErrorCode::kInvalidArgument,
               "only floating");
  Tensor x = leaf({1}, {1});
  Tensor y = x * 2.0;
  expect_error([&] { y.set_requires_grad(true); }, ErrorCode::kInvalidArgument, "not a leaf");
  expect_error([] { sum(Tensor::from_vector<float>({1}, {1})).backward(); }, ErrorCode::kInvalidArgument,
               "does not require grad");
}

TEST(Autograd, OpWithoutGradientFailsAtBackwardNamingIt) {
  Tensor x = leaf({2}, {1, 2});
  Tensor h = run_op1("Hardmax", {x});
  EXPECT_TRUE(h.requires_grad());
  expect_error([&] { sum(h).backward(); }, ErrorCode::kUnsupported, "Hardmax");
}

TEST(Autograd, IntegerOutputsDoNotRequireGrad) {
  Tensor x = leaf({3}, {1, 5, 2});
  Tensor idx = run_op1("ArgMax", {x});
  EXPECT_FALSE(idx.requires_grad());
  EXPECT_FALSE(greater(x, scalar_like(1.5, x)).requires_grad());
}

TEST(Eager, KernelsArePreparedOncePerSignature) {
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  (void)(a + a);
  const size_t before = eager_kernel_count();
  for (int i = 0; i < 5; ++i) (void)(a + a);
  EXPECT_EQ(eager_kernel_count(), before);
  (void)(a.reshape({4}) + a.reshape({4}));
  EXPECT_EQ(eager_kernel_count(), before + 1);
}

TEST(Eager, ResultsAndErrors) {
  Tensor a = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from_vector<float>({3, 1}, {1, 0, -1});
  EXPECT_EQ(matmul(a, b).to_vector<float>(), (std::vector<float>{-2, -2}));
  // A strided (transposed) view is made contiguous before the kernel sees it.
  EXPECT_EQ((a.transpose(0, 1) * 1.0).to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  expect_error([&] { (void)(a + Tensor::from_vector<float>({2}, {1, 2})); }, ErrorCode::kInvalidArgument, "Add");
  expect_error([&] { (void)run_op1("NoSuchOp", {a}); }, ErrorCode::kUnsupported, "NoSuchOp");
  expect_error([&] { (void)(a + Tensor::from_vector<int64_t>({1}, {1})); }, ErrorCode::kInvalidArgument, "dtype");
}

// run_op at an older opset runs the op's older form, is cached apart from the latest form, and
// records that opset on the tape; an opset outside the definition's range fails naming both.
TEST(Eager, OlderOpsetRunsTheOlderForm) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Attributes axes;
  axes.set("axes", std::vector<int64_t>{1});
  axes.set("keepdims", int64_t{0});
  EXPECT_EQ(run_op1("ReduceSum", {x}, axes, "", 11).to_vector<float>(), (std::vector<float>{6, 15}));
  // The same call at the latest opset rejects the attribute (axes is input 1 from opset 13).
  expect_error([&] { (void)run_op1("ReduceSum", {x}, axes); }, ErrorCode::kInvalidArgument, "axes");
  Attributes bounds;
  bounds.set("min", 2.0f);
  bounds.set("max", 4.5f);
  EXPECT_EQ(run_op1("Clip", {x}, bounds, "", 6).to_vector<float>(), (std::vector<float>{2, 2, 3, 4, 4.5f, 4.5f}));
  // Softmax-11 normalizes over the whole trailing block from axis 1 (4 elements), not one axis.
  Tensor s = run_op1("Softmax", {Tensor::from_vector<float>({1, 2, 2}, {0, 0, 0, 0})}, {}, "", 11);
  for (float v : s.to_vector<float>()) EXPECT_NEAR(v, 0.25f, 1e-6f);
  // The tape keeps the opset: the gradient reads the axes attribute.
  Tensor leaf = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  leaf.set_requires_grad(true);
  sum(run_op1("ReduceSum", {leaf}, axes, "", 11) * Tensor::from_vector<float>({2}, {1, 2})).backward();
  EXPECT_EQ(leaf.grad().to_vector<float>(), (std::vector<float>{1, 1, 1, 2, 2, 2}));
}

TEST(Eager, OpsetOutsideTheDefinitionsRangeFails) {
  Tensor x = Tensor::from_vector<float>({2}, {1, 2});
  expect_error([&] { (void)run_op1("Clip", {x}, {}, "", 5); }, ErrorCode::kUnsupported,
               {"op 'Clip' is not defined at opset 5", "kiln supports 6..28"});
  expect_error([&] { (void)run_op1("Relu", {x}, {}, "", 29); }, ErrorCode::kUnsupported, "opset 29");
  expect_error(
      [&] {
        (void)run_op1("LayerNormalization", {x, x}, {}, "", 13);
      },
      ErrorCode::kUnsupported, "supports 17..28");
}

}  // namespace
}  // namespace kiln
