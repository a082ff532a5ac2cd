// nn::init and the layers' default initialization: PyTorch's bounds and statistics, in-place
// writes, reproducible seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kiln/frontend/nn.h"
#include "nn_test_util.h"

namespace kiln {
namespace {

using nntest::expect_error;
using nntest::values;

struct Stats {
  double min, max, mean, std;
};

Stats stats(const Tensor& t) {
  const std::vector<double> v = values(t);
  Stats s{*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()), 0, 0};
  for (double x : v) s.mean += x / static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean) / static_cast<double>(v.size() - 1);
  s.std = std::sqrt(s.std);
  return s;
}

// U(-b, b): every value inside, the extremes near b, std b / sqrt(3).
void expect_uniform(const Tensor& t, double bound, const std::string& what) {
  Stats s = stats(t);
  EXPECT_GE(s.min, -bound) << what;
  EXPECT_LE(s.max, bound) << what;
  EXPECT_LT(s.min, -0.95 * bound) << what;
  EXPECT_GT(s.max, 0.95 * bound) << what;
  const double se = bound / std::sqrt(3.0) / std::sqrt(static_cast<double>(t.numel()));
  EXPECT_NEAR(s.mean, 0.0, 5 * se) << what;
  EXPECT_NEAR(s.std, bound / std::sqrt(3.0), 0.05 * bound) << what;
}

TEST(NnInit, LayerDefaultsUsePyTorchsBounds) {
  manual_seed(3);
  nn::Linear fc(64, 200);
  expect_uniform(fc->weight, 1.0 / 8.0, "Linear weight, fan_in 64");
  expect_uniform(fc->bias, 1.0 / 8.0, "Linear bias");
  // Conv: fan_in = in / groups * kh * kw = 8 / 2 * 3 * 3 = 36.
  nn::Conv2d conv(nn::Conv2dOptions(8, 64, 3).groups(2));
  expect_uniform(conv->weight, 1.0 / 6.0, "Conv2d weight, fan_in 36");
  Stats b = stats(conv->bias);
  EXPECT_GE(b.min, -1.0 / 6.0);
  EXPECT_LE(b.max, 1.0 / 6.0);
  nn::Embedding emb(100, 50);
  Stats e = stats(emb->weight);
  EXPECT_NEAR(e.mean, 0.0, 0.05);
  EXPECT_NEAR(e.std, 1.0, 0.03);
  nn::BatchNorm2d bn(4);
  EXPECT_EQ(values(bn->weight), std::vector<double>(4, 1.0));
  EXPECT_EQ(values(bn->bias), std::vector<double>(4, 0.0));
  // The same seed gives the same weights, drawn weight first then bias.
  manual_seed(11);
  nn::Linear a(5, 4);
  manual_seed(11);
  nn::Linear c(5, 4);
  EXPECT_EQ(values(a->weight), values(c->weight));
  EXPECT_EQ(values(a->bias), values(c->bias));
  EXPECT_NE(values(a->weight), values(nn::Linear(5, 4)->weight));
}

TEST(NnInit, FunctionsWriteInPlace) {
  Generator gen(5);
  Tensor w = zeros({300, 100}).set_requires_grad();
  auto storage = w.storage();
  nn::init::kaiming_uniform_(w, 0.0, nn::init::FanMode::kFanIn, "relu", gen);
  EXPECT_EQ(w.storage(), storage);
  EXPECT_TRUE(w.requires_grad());
  expect_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / 100.0), "kaiming_uniform relu fan_in");
  nn::init::kaiming_uniform_(w, 0.0, nn::init::FanMode::kFanOut, "relu", gen);
  expect_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / 300.0), "kaiming_uniform relu fan_out");
  nn::init::xavier_uniform_(w, 2.0, gen);
  expect_uniform(w, 2.0 * std::sqrt(6.0 / 400.0), "xavier_uniform gain 2");
  nn::init::uniform_(w, -3.0, 3.0, gen);
  expect_uniform(w, 3.0, "uniform");
  Stats s;
  nn::init::kaiming_normal_(w, 0.0, nn::init::FanMode::kFanIn, "relu", gen);
  s = stats(w);
  EXPECT_NEAR(s.mean, 0.0, 0.005);
  EXPECT_NEAR(s.std, std::sqrt(2.0 / 100.0), 0.01 * std::sqrt(2.0 / 100.0) * 3);
  nn::init::xavier_normal_(w, 1.0, gen);
  s = stats(w);
  EXPECT_NEAR(s.std, std::sqrt(2.0 / 400.0), 0.03 * std::sqrt(2.0 / 400.0));
  nn::init::normal_(w, 2.0, 0.5, gen);
  s = stats(w);
  EXPECT_NEAR(s.mean, 2.0, 0.01);
  EXPECT_NEAR(s.std, 0.5, 0.01);
  nn::init::constant_(w, 0.25);
  EXPECT_EQ(values(w), std::vector<double>(30000, 0.25));
  nn::init::zeros_(w);
  EXPECT_EQ(stats(w).max, 0.0);
  nn::init::ones_(w);
  EXPECT_EQ(stats(w).min, 1.0);
  EXPECT_EQ(w.storage(), storage);
  // f64 tensors get f64 draws.
  Tensor d = Tensor::zeros({10, 10}, DType::kF64);
  nn::init::uniform_(d, -1, 1, gen);
  EXPECT_EQ(d.dtype(), DType::kF64);
  EXPECT_GT(stats(d).max, 0.0);
}

TEST(NnInit, GainsAndErrors) {
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("linear"), 1.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("conv2d"), 1.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("sigmoid"), 1.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu"), std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("selu"), 0.75);
  expect_error([] { nn::init::calculate_gain("swish"); }, {"unsupported nonlinearity 'swish'"});
  auto [in, out] = nn::init::calculate_fan_in_and_fan_out(zeros({6, 4, 3, 2}));
  EXPECT_EQ(in, 24);
  EXPECT_EQ(out, 36);
  expect_error([] { nn::init::xavier_uniform_(zeros({5})); }, {"fewer than 2 dimensions"});
  expect_error([] { nn::init::uniform_(Tensor::zeros({2}, DType::kI64)); }, {"dtype i64 is not floating"});
}

}  // namespace
}  // namespace kiln
