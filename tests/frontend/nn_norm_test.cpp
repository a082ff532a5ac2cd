// LayerNorm and BatchNorm1d/2d: values against float64 formulas, running statistics after
// several training steps computed by hand (PyTorch's momentum and unbiased variance, the
// cumulative average without momentum), eval with running statistics, options, errors, and
// gradients against central differences.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/frontend/nn.h"
#include "nn_test_util.h"

namespace kiln {
namespace {

using nntest::expect_error;
using nntest::expect_gradients_match;
using nntest::expect_values_near;
using nntest::random64;
using nntest::t64;
using nntest::values;

TEST(NnLayerNorm, NormalizesTrailingDims) {
  nn::LayerNorm ln(std::vector<int64_t>{2, 3});
  ln->to(DType::kF64);
  EXPECT_EQ(values(ln->weight), std::vector<double>(6, 1.0));
  EXPECT_EQ(values(ln->bias), std::vector<double>(6, 0.0));
  ln->weight.copy_from(random64({2, 3}, 1, 0.5, 1.5));
  ln->bias.copy_from(random64({2, 3}, 2));
  Tensor x = random64({4, 2, 3}, 3, -2, 2);
  const std::vector<double> xv = values(x), w = values(ln->weight), b = values(ln->bias);
  std::vector<double> ref;
  for (size_t n = 0; n < 4; ++n) {
    double m = 0, v = 0;
    for (size_t i = 0; i < 6; ++i) m += xv[n * 6 + i] / 6;
    for (size_t i = 0; i < 6; ++i) v += (xv[n * 6 + i] - m) * (xv[n * 6 + i] - m) / 6;
    for (size_t i = 0; i < 6; ++i) ref.push_back((xv[n * 6 + i] - m) / std::sqrt(v + 1e-5) * w[i] + b[i]);
  }
  expect_values_near(ln->forward(x), ref, 1e-10);
  // Without affine parameters.
  nn::LayerNorm plain(nn::LayerNormOptions({3}).elementwise_affine(false).eps(1e-3));
  EXPECT_TRUE(plain->parameters().empty());
  Tensor y = plain->forward(t64({1, 3}, {1.0, 2.0, 4.0}));
  const double m = 7.0 / 3, v = ((1 - m) * (1 - m) + (2 - m) * (2 - m) + (4 - m) * (4 - m)) / 3;
  expect_values_near(
      y, {(1 - m) / std::sqrt(v + 1e-3), (2 - m) / std::sqrt(v + 1e-3), (4 - m) / std::sqrt(v + 1e-3)}, 1e-6);
  expect_error(
      [&] {
        ln->forward(random64({4, 3, 2}, 1));
      },
      {"LayerNorm: input [4,3,2] does not end with normalized_shape [2,3]"});
}

// Per-channel batch statistics of x [N, C, rest...]: mean, biased and unbiased variance.
struct ChannelStats {
  std::vector<double> mean, var, unbiased;
};

ChannelStats channel_stats(const Tensor& x) {
  const std::vector<double> v = values(x);
  const auto n = static_cast<size_t>(x.dim(0)), c = static_cast<size_t>(x.dim(1));
  const size_t inner = v.size() / (n * c), count = n * inner;
  ChannelStats s{std::vector<double>(c, 0), std::vector<double>(c, 0), std::vector<double>(c, 0)};
  for (size_t ch = 0; ch < c; ++ch) {
    for (size_t i = 0; i < n; ++i)
      for (size_t k = 0; k < inner; ++k)
        s.mean[ch] += v[(i * c + ch) * inner + k] / static_cast<double>(count);
    double ss = 0;
    for (size_t i = 0; i < n; ++i)
      for (size_t k = 0; k < inner; ++k) {
        const double d = v[(i * c + ch) * inner + k] - s.mean[ch];
        ss += d * d;
      }
    s.var[ch] = ss / static_cast<double>(count);
    s.unbiased[ch] = ss / static_cast<double>(count - 1);
  }
  return s;
}

std::vector<double> normalized(const Tensor& x, const std::vector<double>& mean,
                               const std::vector<double>& var, const std::vector<double>& w,
                               const std::vector<double>& b, double eps) {
  const std::vector<double> v = values(x);
  const auto c = static_cast<size_t>(x.dim(1));
  const size_t inner = v.size() / (static_cast<size_t>(x.dim(0)) * c);
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const size_t ch = (i / inner) % c;
    out[i] = (v[i] - mean[ch]) / std::sqrt(var[ch] + eps) * w[ch] + b[ch];
  }
  return out;
}

TEST(NnBatchNorm, TrainingUpdatesRunningStatsLikePyTorch) {
  nn::BatchNorm2d bn(3);
  bn->to(DType::kF64);
  EXPECT_EQ(values(bn->running_mean), std::vector<double>(3, 0.0));
  EXPECT_EQ(values(bn->running_var), std::vector<double>(3, 1.0));
  bn->weight.copy_from(t64({3}, {0.5, 1.5, -1.0}));
  bn->bias.copy_from(t64({3}, {0.1, -0.2, 0.3}));
  const std::vector<double> w{0.5, 1.5, -1.0}, b{0.1, -0.2, 0.3};
  std::vector<double> rm(3, 0.0), rv(3, 1.0);
  for (uint64_t step = 0; step < 4; ++step) {
    Tensor x = random64({4, 3, 2, 3}, 100 + step, -1.0 + static_cast<double>(step),
                        2.0 + 2.0 * static_cast<double>(step));
    ChannelStats s = channel_stats(x);
    // Training output: batch mean and biased variance.
    expect_values_near(bn->forward(x), normalized(x, s.mean, s.var, w, b, 1e-5), 1e-10,
                       "step " + std::to_string(step));
    for (size_t c = 0; c < 3; ++c) {
      rm[c] = 0.9 * rm[c] + 0.1 * s.mean[c];
      rv[c] = 0.9 * rv[c] + 0.1 * s.unbiased[c];
    }
    // ONNX holds momentum as a float attribute (0.9f), so f64 running statistics agree to ~1e-7.
    expect_values_near(bn->running_mean, rm, 1e-6, "running_mean after step " + std::to_string(step));
    expect_values_near(bn->running_var, rv, 1e-6, "running_var after step " + std::to_string(step));
  }
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 4);
  // Eval: the running statistics, and nothing changes.
  bn->eval();
  Tensor x = random64({2, 3, 2, 2}, 7);
  expect_values_near(bn->forward(x), normalized(x, rm, rv, w, b, 1e-5), 1e-6, "eval");
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 4);
  expect_values_near(bn->running_mean, rm, 1e-6);
  // In the state dict, with its buffers.
  EXPECT_EQ(bn->state_dict().keys(), (std::vector<std::string>{"weight", "bias", "running_mean",
                                                               "running_var", "num_batches_tracked"}));
}

TEST(NnBatchNorm, CumulativeAverageWithoutMomentum) {
  nn::BatchNorm1d bn(nn::BatchNormOptions(2).momentum(std::nullopt).affine(false));
  bn->to(DType::kF64);
  EXPECT_TRUE(bn->parameters().empty());
  std::vector<double> sum_mean(2, 0.0), sum_var(2, 0.0);
  for (uint64_t step = 0; step < 3; ++step) {
    Tensor x = random64({5, 2}, 200 + step, -3, 3);
    ChannelStats s = channel_stats(x);
    expect_values_near(bn->forward(x), normalized(x, s.mean, s.var, {1, 1}, {0, 0}, 1e-5), 1e-10);
    for (size_t c = 0; c < 2; ++c) sum_mean[c] += s.mean[c], sum_var[c] += s.unbiased[c];
  }
  // The initial statistics drop out: factor 1 on the first batch, then 1/2, 1/3.
  expect_values_near(bn->running_mean, {sum_mean[0] / 3, sum_mean[1] / 3}, 1e-7);
  expect_values_near(bn->running_var, {sum_var[0] / 3, sum_var[1] / 3}, 1e-7);
}

TEST(NnBatchNorm, Rank3AndNoRunningStats) {
  // [N, C, L] in BatchNorm1d.
  nn::BatchNorm1d bn(3);
  bn->to(DType::kF64);
  Tensor x = random64({2, 3, 4}, 9);
  ChannelStats s = channel_stats(x);
  expect_values_near(bn->forward(x), normalized(x, s.mean, s.var, {1, 1, 1}, {0, 0, 0}, 1e-5), 1e-10);
  std::vector<double> rm;
  for (double m : s.mean) rm.push_back(0.1 * m);
  expect_values_near(bn->running_mean, rm, 1e-7);
  // Without running statistics: batch statistics in eval too, and no buffers.
  nn::BatchNorm2d free(nn::BatchNormOptions(3).track_running_stats(false).eps(1e-3));
  free->to(DType::kF64);
  EXPECT_TRUE(free->buffers().empty());
  free->eval();
  Tensor x4 = random64({2, 3, 2, 2}, 10);
  ChannelStats s4 = channel_stats(x4);
  expect_values_near(free->forward(x4), normalized(x4, s4.mean, s4.var, {1, 1, 1}, {0, 0, 0}, 1e-3), 1e-10);
}

TEST(NnBatchNorm, Errors) {
  nn::BatchNorm2d bn(3);
  expect_error([&] { bn->forward(zeros({2, 3, 4})); }, {"BatchNorm2d: input [2,3,4] has rank 3, expected 4"});
  expect_error(
      [&] {
        bn->forward(zeros({2, 4, 2, 2}));
      },
      {"BatchNorm2d: input [2,4,2,2] has 4 channels (dim 1), expected num_features=3"});
  nn::BatchNorm1d bn1(3);
  expect_error(
      [&] {
        bn1->forward(zeros({1, 3}));
      },
      {"expected more than 1 value per channel when training, got input [1,3]"});
  EXPECT_EQ(bn1->num_batches_tracked.item<int64_t>(), 0);
  bn1->eval();
  EXPECT_EQ(bn1->forward(zeros({1, 3})).shape(), (Dims{1, 3}));
  expect_error([] { nn::BatchNorm1d(nn::BatchNormOptions(2).momentum(1.5)); },
               {"momentum=1.5 is outside [0, 1]"});
}

TEST(NnNormGradients, LayerNormAndBatchNorm) {
  KILN_SKIP_WITHOUT_GRADIENTS("LayerNormalization", "BatchNormalization", "Mul", "ReduceSum");
  nn::LayerNorm ln(std::vector<int64_t>{4});
  ln->to(DType::kF64);
  ln->weight.copy_from(random64({4}, 1, 0.5, 1.5));
  ln->bias.copy_from(random64({4}, 2));
  Tensor x = random64({3, 4}, 3).set_requires_grad();
  Tensor w = random64({3, 4}, 4);
  expect_gradients_match([&] { return sum(ln->forward(x) * w); }, {x, ln->weight, ln->bias}, "layernorm");
  nn::BatchNorm2d bn(2);
  bn->to(DType::kF64);
  bn->weight.copy_from(t64({2}, {0.7, 1.3}));
  Tensor xb = random64({3, 2, 2, 2}, 5).set_requires_grad();
  Tensor wb = random64({3, 2, 2, 2}, 6);
  expect_gradients_match([&] { return sum(bn->forward(xb) * wb); }, {xb, bn->weight, bn->bias},
                         "batchnorm train");
  bn->eval();
  expect_gradients_match([&] { return sum(bn->forward(xb) * wb); }, {xb, bn->weight, bn->bias},
                         "batchnorm eval");
}

}  // namespace
}  // namespace kiln
