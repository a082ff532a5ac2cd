// The frontend tensor API: creation, seeded randomness, joining, indexing and printing.
#include "kiln/frontend/tensor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "test_errors.h"

namespace kiln {
namespace {

TEST(FrontendTensor, Creation) {
  EXPECT_EQ(zeros({2, 2}).to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  EXPECT_EQ(ones({3}, DType::kF64).to_vector<double>(), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(full({2}, 2.5).to_vector<float>(), (std::vector<float>{2.5f, 2.5f}));
  EXPECT_EQ(full({2}, 1, DType::kBool).to_vector<bool>(), (std::vector<bool>{true, true}));
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1.0, 2.0, 0.25).to_vector<float>(), (std::vector<float>{1, 1.25f, 1.5f, 1.75f}));
  EXPECT_EQ(arange(3.0, 0.0, -1.0).to_vector<float>(), (std::vector<float>{3, 2, 1}));
  EXPECT_EQ(arange(0.0, -1.0).numel(), 0);
  // Both ends exact, like torch.linspace.
  std::vector<double> l = linspace(0.0, 1.0, 11, DType::kF64).to_vector<double>();
  EXPECT_EQ(l.front(), 0.0);
  EXPECT_EQ(l.back(), 1.0);
  EXPECT_NEAR(l[3], 0.3, 1e-15);
  EXPECT_EQ(linspace(2.0, 3.0, 1).to_vector<float>(), (std::vector<float>{2}));
  expect_error([] { arange(0.0, 1.0, 0.0); }, ErrorCode::kInvalidArgument, "step");
  expect_error([] { linspace(0, 1, -1); }, ErrorCode::kInvalidArgument, "steps");
  expect_error([] { zeros({2, -1}); }, ErrorCode::kInvalidArgument, "-1");
}

TEST(FrontendTensor, SeededRandomnessIsReproducibleAndWellDistributed) {
  Generator a(42), b(42);
  EXPECT_EQ(rand({100}, a).to_vector<float>(), rand({100}, b).to_vector<float>());
  Generator gen(1);
  std::vector<double> u = uniform({20000}, -2.0, 3.0, gen, DType::kF64).to_vector<double>();
  EXPECT_GE(*std::min_element(u.begin(), u.end()), -2.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 3.0);
  EXPECT_NEAR(std::accumulate(u.begin(), u.end(), 0.0) / u.size(), 0.5, 0.05);
  std::vector<double> n = randn({20000}, gen, DType::kF64).to_vector<double>();
  double mean = std::accumulate(n.begin(), n.end(), 0.0) / n.size(), var = 0;
  for (double v : n) var += (v - mean) * (v - mean) / n.size();
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(var, 1.0, 0.05);
  std::vector<int64_t> r = randint(3, 7, {1000}, gen).to_vector<int64_t>();
  EXPECT_EQ(std::set<int64_t>(r.begin(), r.end()), (std::set<int64_t>{3, 4, 5, 6}));
  std::vector<int64_t> p = randperm(50, gen).to_vector<int64_t>();
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, arange(50).to_vector<int64_t>());
  EXPECT_NE(p, sorted);
  expect_error([&] { randint(2, 2, {1}, gen); }, ErrorCode::kInvalidArgument, "high");
}

TEST(FrontendTensor, GeneratorStateRoundTrip) {
  Generator gen(9);
  (void)rand({5}, gen);
  const std::string state = gen.state();
  std::vector<float> next = rand({5}, gen).to_vector<float>();
  Generator other(0);
  other.set_state(state);
  EXPECT_EQ(rand({5}, other).to_vector<float>(), next);
  expect_error([&] { other.set_state("not a state"); }, ErrorCode::kInvalidArgument, "generator state");
  manual_seed(5);
  std::vector<float> first = rand({3}).to_vector<float>();
  manual_seed(5);
  EXPECT_EQ(rand({3}).to_vector<float>(), first);
}

TEST(FrontendTensor, FromBlobSharesMemory) {
  std::vector<float> data{1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(data.data(), {2, 3}, DType::kF32);
  data[4] = 50;
  EXPECT_EQ(value_at<float>(t, {1, 1}), 50.0f);
  expect_error([] { from_blob(nullptr, {1}, DType::kF32); }, ErrorCode::kInvalidArgument, "null");
}

TEST(FrontendTensor, JoiningAndIndexing) {
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_vector<float>({2, 2}, {5, 6, 7, 8});
  EXPECT_EQ(cat({a, b}, 1).to_vector<float>(), (std::vector<float>{1, 2, 5, 6, 3, 4, 7, 8}));
  Tensor s = stack({a, b}, 1);
  EXPECT_EQ(s.shape(), (Dims{2, 2, 2}));
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{1, 2, 5, 6, 3, 4, 7, 8}));
  EXPECT_EQ(stack({a, b}).shape(), (Dims{2, 2, 2}));
  EXPECT_EQ(select(a, 1, -1).to_vector<float>(), (std::vector<float>{2, 4}));
  EXPECT_EQ(index_select(b, 0, Tensor::from_vector<int64_t>({3}, {1, 1, 0})).to_vector<float>(),
            (std::vector<float>{7, 8, 7, 8, 5, 6}));
  EXPECT_EQ(flatten(s, 1).shape(), (Dims{2, 4}));
  EXPECT_EQ(value_at<float>(s, {1, 0, 1}), 4.0f);
  expect_error([&] { stack({a, Tensor::from_vector<float>({1}, {1})}); }, ErrorCode::kInvalidArgument, "shape");
  expect_error([&] { select(a, 0, 2); }, ErrorCode::kInvalidArgument, "out of range");
  expect_error([&] { value_at<float>(a, {0}); }, ErrorCode::kInvalidArgument, "rank");
  expect_error([] { cat({}); }, ErrorCode::kInvalidArgument, "no tensors");
}

TEST(FrontendTensor, JoiningAndIndexingAreDifferentiable) {
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  a.set_requires_grad(true);
  Tensor y = sum(stack({select(a, 0, 1), select(a, 1, 0)}) * Tensor::from_vector<float>({2, 2}, {1, 2, 10, 20}));
  y.backward();
  // rows [a10, a11] and [a00, a10]: a10 gets 1 + 20, a11 gets 2, a00 gets 10
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{10, 0, 21, 2}));
}

TEST(FrontendTensor, Printing) {
  EXPECT_EQ(format_tensor(Tensor::from_vector<float>({2, 2}, {1, 2.5f, -3, 4})),
            "tensor([[1.0000, 2.5000],\n        [-3.0000, 4.0000]], dtype=f32)");
  EXPECT_EQ(format_tensor(Tensor::from_vector<int64_t>({3}, {1, 2, 3})), "tensor([1, 2, 3], dtype=i64)");
  EXPECT_EQ(format_tensor(Tensor::scalar<bool>(true)), "tensor(True, dtype=bool)");
  Tensor w = ones({2});
  w.set_requires_grad(true);
  EXPECT_EQ(format_tensor(w), "tensor([1.0000, 1.0000], dtype=f32, requires_grad=True)");
  EXPECT_EQ(format_tensor(w * 2.0), "tensor([2.0000, 2.0000], dtype=f32, grad_fn=Mul)");
  const std::string big = format_tensor(arange(2000));
  EXPECT_NE(big.find("0, 1, 2, ..., 1997, 1998, 1999"), std::string::npos) << big;
  EXPECT_EQ(format_tensor(zeros({0, 3})), "tensor([], size=[0,3], dtype=f32)");
  EXPECT_EQ(format_tensor(Tensor()), "tensor(undefined)");
}

}  // namespace
}  // namespace kiln
