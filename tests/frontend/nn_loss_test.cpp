// Losses: values for each reduction against float64 formulas written here, CrossEntropy's
// weights, ignore_index and label smoothing (torch 1.13's formula), the [N,1] vs [N] error,
// and gradients against central differences.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/frontend/nn/loss.h"
#include "nn_test_util.h"

namespace kiln {
namespace {

using nn::Reduction;
using nntest::expect_error;
using nntest::expect_gradients_match;
using nntest::expect_values_near;
using nntest::random64;
using nntest::t64;
using nntest::values;

const Reduction kReductions[] = {Reduction::kNone, Reduction::kMean, Reduction::kSum};

// The reference reduction of per-element losses.
std::vector<double> reduced(const std::vector<double>& per_element, Reduction r) {
  if (r == Reduction::kNone) return per_element;
  double s = 0;
  for (double v : per_element) s += v;
  return {r == Reduction::kSum ? s : s / static_cast<double>(per_element.size())};
}

// Per-element reference of an elementwise loss.
template <class F>
std::vector<double> elementwise(const Tensor& x, const Tensor& y, F f) {
  std::vector<double> a = values(x), b = values(y), out;
  for (size_t i = 0; i < a.size(); ++i) out.push_back(f(a[i], b[i]));
  return out;
}

TEST(NnLoss, MSEL1HuberValuesForEachReduction) {
  Tensor x = t64({2, 3}, {0.5, -1.0, 2.0, 3.0, 0.0, -0.25});
  Tensor y = t64({2, 3}, {1.0, -1.0, -0.5, 0.5, 0.1, 0.25});
  for (Reduction r : kReductions) {
    const std::string rn = nn::to_string(r);
    expect_values_near(nn::functional::mse_loss(x, y, r),
                       reduced(elementwise(x, y, [](double a, double b) { return (a - b) * (a - b); }), r),
                       1e-12, "mse " + rn);
    expect_values_near(nn::functional::l1_loss(x, y, r),
                       reduced(elementwise(x, y, [](double a, double b) { return std::abs(a - b); }), r),
                       1e-12, "l1 " + rn);
    for (double delta : {1.0, 0.3, 2.5}) {
      auto huber = [delta](double a, double b) {
        const double z = std::abs(a - b);
        return z < delta ? 0.5 * z * z : delta * (z - 0.5 * delta);
      };
      expect_values_near(nn::functional::huber_loss(x, y, nn::HuberLossOptions(r).delta(delta)),
                         reduced(elementwise(x, y, huber), r), 1e-12, "huber " + rn);
    }
  }
  // Modules hold the same options.
  nn::MSELoss mse(nn::MSELossOptions(Reduction::kSum));
  EXPECT_NEAR(mse(x, y).item<double>(), 0.25 + 0 + 6.25 + 6.25 + 0.01 + 0.25, 1e-12);
  nn::L1Loss l1;
  EXPECT_NEAR(l1(x, y).item<double>(), (0.5 + 0 + 2.5 + 2.5 + 0.1 + 0.5) / 6, 1e-12);
  nn::HuberLoss huber(nn::HuberLossOptions().delta(0.5));
  EXPECT_EQ(huber->options.delta(), 0.5);
  EXPECT_EQ(huber(x, y).shape(), Dims{});
  // f32 works the same.
  EXPECT_NEAR(nn::functional::mse_loss(cast(x, DType::kF32), cast(y, DType::kF32)).item<float>(),
              (0.25 + 6.25 + 6.25 + 0.01 + 0.25) / 6, 1e-6);
}

TEST(NnLoss, MismatchedShapesRaiseInsteadOfBroadcasting) {
  Tensor pred = zeros({4, 1});
  Tensor target = zeros({4});
  expect_error([&] { nn::functional::mse_loss(pred, target); },
               {"MSELoss: input shape [4,1] and target shape [4] differ", "broadcast them to [4,4]",
                "reshape the target or set allow_broadcast(true)"});
  expect_error([&] { nn::L1Loss()(pred, target); },
               {"L1Loss: input shape [4,1] and target shape [4] differ"});
  expect_error([&] { nn::HuberLoss()(pred, target); }, {"HuberLoss: input shape [4,1]"});
  expect_error([&] { nn::BCEWithLogitsLoss()(pred, target); }, {"BCEWithLogitsLoss: input shape [4,1]"});
  expect_error([&] { nn::functional::mse_loss(zeros({3}), zeros({4})); }, {"differ and do not broadcast"});
  expect_error([&] { nn::functional::mse_loss(zeros({3}), Tensor::zeros({3}, DType::kF64)); },
               {"target has dtype f64 but input has f32"});
  expect_error(
      [&] { nn::functional::mse_loss(Tensor::zeros({3}, DType::kI64), Tensor::zeros({3}, DType::kI64)); },
      {"expected a floating dtype"});
  // The explicit opt-in gives PyTorch's broadcast: [4,1] - [4] -> [4,4].
  Tensor p = t64({2, 1}, {1.0, 2.0});
  Tensor t = t64({2}, {0.0, 3.0});
  Tensor l = nn::functional::mse_loss(p, t, nn::MSELossOptions(Reduction::kNone).allow_broadcast(true));
  EXPECT_EQ(l.shape(), (Dims{2, 2}));
  EXPECT_EQ(values(l), (std::vector<double>{1.0, 4.0, 4.0, 1.0}));
}

// Reference cross entropy / NLL over log-probabilities lp[n][c] (N samples, d1.. folded into N).
struct CeRef {
  std::vector<double> per_element;
  double weight_sum = 0;
};

std::vector<double> log_softmax_rows(const std::vector<double>& x, size_t n, size_t c) {
  std::vector<double> out(x.size());
  for (size_t i = 0; i < n; ++i) {
    double m = -INFINITY;
    for (size_t k = 0; k < c; ++k) m = std::max(m, x[i * c + k]);
    double s = 0;
    for (size_t k = 0; k < c; ++k) s += std::exp(x[i * c + k] - m);
    for (size_t k = 0; k < c; ++k) out[i * c + k] = x[i * c + k] - m - std::log(s);
  }
  return out;
}

// torch 1.13: (1 - ls) * nll + ls / C * smooth; "mean" divides both sums by the sum of w[t]
// over targets that are not ignored.
std::vector<double> ce_reference(const std::vector<double>& lp, const std::vector<int64_t>& t,
                                 const std::vector<double>& w, int64_t ignore, double ls, Reduction r) {
  const size_t n = t.size(), c = lp.size() / n;
  std::vector<double> nll(n, 0.0), smooth(n, 0.0);
  double wsum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (t[i] == ignore) continue;
    const auto k = static_cast<size_t>(t[i]);
    nll[i] = -w[k] * lp[i * c + k];
    wsum += w[k];
    for (size_t j = 0; j < c; ++j) smooth[i] -= w[j] * lp[i * c + j];
  }
  const double cd = static_cast<double>(c);
  if (r == Reduction::kNone) {
    std::vector<double> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = (1 - ls) * nll[i] + ls / cd * smooth[i];
    return out;
  }
  double a = 0, b = 0;
  for (size_t i = 0; i < n; ++i) a += nll[i], b += smooth[i];
  if (r == Reduction::kMean) a /= wsum, b /= wsum;
  return {(1 - ls) * a + ls / cd * b};
}

TEST(NnLoss, CrossEntropyWeightsIgnoreIndexAndLabelSmoothing) {
  const size_t n = 5, c = 4;
  Tensor x = random64({5, 4}, 11, -2.0, 2.0);
  const std::vector<int64_t> tv{0, 3, 1, -100, 2};
  Tensor t = Tensor::from_vector<int64_t>({5}, tv);
  const std::vector<double> wv{1.0, 2.0, 0.5, 1.5};
  const std::vector<double> lp = log_softmax_rows(values(x), n, c);
  for (Reduction r : kReductions) {
    for (bool weighted : {false, true}) {
      for (double ls : {0.0, 0.1, 0.3}) {
        nn::CrossEntropyLossOptions o(r);
        o.label_smoothing(ls);
        if (weighted) o.weight(t64({4}, wv));
        const std::vector<double> w = weighted ? wv : std::vector<double>(c, 1.0);
        expect_values_near(
            nn::functional::cross_entropy(x, t, o), ce_reference(lp, tv, w, -100, ls, r), 1e-10,
            "ce " + nn::to_string(r) + (weighted ? " weighted" : "") + " ls " + std::to_string(ls));
      }
      // NLLLoss on log-probabilities gives the same as CrossEntropy without smoothing.
      nn::NLLLossOptions no(r);
      if (weighted) no.weight(t64({4}, wv));
      expect_values_near(nn::functional::nll_loss(log_softmax(x, 1), t, no),
                         ce_reference(lp, tv, weighted ? wv : std::vector<double>(c, 1.0), -100, 0.0, r),
                         1e-10, "nll " + nn::to_string(r));
    }
  }
  // A custom ignore_index, and the module form.
  Tensor t2 = Tensor::from_vector<int64_t>({5}, {0, 3, 1, 2, 2});
  nn::CrossEntropyLoss ce(nn::CrossEntropyLossOptions().ignore_index(2).label_smoothing(0.2));
  expect_values_near(ce(x, t2),
                     ce_reference(lp, {0, 3, 1, 2, 2}, std::vector<double>(c, 1.0), 2, 0.2, Reduction::kMean),
                     1e-10, "ignore_index 2");
}

TEST(NnLoss, CrossEntropySpatialUnbatchedAndProbabilities) {
  // [N, C, d] input and [N, d] target: each (n, d) position is one sample.
  Tensor x = random64({2, 3, 2}, 5, -1.5, 1.5);
  const std::vector<int64_t> tv{2, 0, 1, 1};  // t[n][d]
  Tensor t = Tensor::from_vector<int64_t>({2, 2}, tv);
  std::vector<double> xv = values(x), rows;
  for (size_t nn = 0; nn < 2; ++nn)
    for (size_t d = 0; d < 2; ++d)
      for (size_t k = 0; k < 3; ++k) rows.push_back(xv[nn * 6 + k * 2 + d]);
  const std::vector<double> lp = log_softmax_rows(rows, 4, 3);
  for (Reduction r : kReductions)
    expect_values_near(
        nn::functional::cross_entropy(x, t, nn::CrossEntropyLossOptions(r).label_smoothing(0.15)),
        ce_reference(lp, tv, {1, 1, 1}, -100, 0.15, r), 1e-10, "spatial " + nn::to_string(r));
  EXPECT_EQ(nn::functional::cross_entropy(x, t, Reduction::kNone).shape(), (Dims{2, 2}));
  // Unbatched: input [C], target [].
  Tensor x1 = t64({3}, {0.2, -0.4, 1.0});
  Tensor l1 = nn::functional::cross_entropy(x1, Tensor::scalar<int64_t>(2), Reduction::kNone);
  EXPECT_EQ(l1.shape(), Dims{});
  EXPECT_NEAR(l1.item<double>(), -log_softmax_rows({0.2, -0.4, 1.0}, 1, 3)[2], 1e-12);
  // Class probabilities: -sum_c y_c log p_c, mean over samples; smoothing mixes y with 1/C.
  Tensor xp = t64({2, 3}, {0.1, 0.2, 0.3, -1.0, 0.0, 1.0});
  Tensor yp = t64({2, 3}, {0.2, 0.3, 0.5, 1.0, 0.0, 0.0});
  const std::vector<double> lpp = log_softmax_rows(values(xp), 2, 3);
  const std::vector<double> yv = values(yp);
  for (double ls : {0.0, 0.25}) {
    double total = 0;
    for (size_t i = 0; i < 6; ++i) total -= (yv[i] * (1 - ls) + ls / 3) * lpp[i];
    EXPECT_NEAR(nn::functional::cross_entropy(xp, yp, nn::CrossEntropyLossOptions().label_smoothing(ls))
                    .item<double>(),
                total / 2, 1e-12);
  }
}

TEST(NnLoss, ClassTargetErrors) {
  Tensor x = zeros({4, 3});
  expect_error(
      [&] {
        nn::functional::cross_entropy(x, Tensor::zeros({4, 1}, DType::kI64));
      },
      {"CrossEntropyLoss: target shape [4,1] does not fit input [4,3]: expected [4]"});
  expect_error(
      [&] {
        nn::functional::nll_loss(x, Tensor::from_vector<int64_t>({4}, {0, 1, 3, 2}));
      },
      {"NLLLoss: target 3 is out of bounds for 3 classes"});
  expect_error(
      [&] {
        nn::functional::nll_loss(x, Tensor::from_vector<int64_t>({4}, {0, -1, 1, 2}));
      },
      {"target -1 is out of bounds"});
  expect_error([&] { nn::functional::cross_entropy(x, zeros({4})); },
               {"target has dtype f32; class indices must be i64"});
  expect_error(
      [&] {
        nn::functional::cross_entropy(x, Tensor::zeros({4}, DType::kI64),
                                      nn::CrossEntropyLossOptions().weight(ones({2})));
      },
      {"weight has shape [2], expected [3]"});
  expect_error(
      [&] {
        nn::functional::cross_entropy(x, Tensor::zeros({4}, DType::kI64),
                                      nn::CrossEntropyLossOptions().label_smoothing(1.5));
      },
      {"label_smoothing=1.5 is outside [0, 1]"});
}

double softplus(double v) { return std::max(v, 0.0) + std::log1p(std::exp(-std::abs(v))); }

TEST(NnLoss, BCEWithLogitsIsStableAndWeighted) {
  Tensor x = t64({2, 3}, {0.5, -2.0, 3.0, 100.0, -100.0, 0.0});
  Tensor y = t64({2, 3}, {1.0, 0.0, 0.3, 0.0, 1.0, 1.0});
  const std::vector<double> pw{2.0, 0.5, 1.0}, w{1.0, 3.0};  // pos_weight per class, weight per row [2,1]
  const std::vector<double> xv = values(x), yv = values(y);
  for (Reduction r : kReductions) {
    std::vector<double> plain, weighted;
    for (size_t i = 0; i < 6; ++i) {
      // -[p y log s(x) + (1 - y) log(1 - s(x))] with log s(x) = -softplus(-x), log(1 - s(x)) = -softplus(x).
      plain.push_back(yv[i] * softplus(-xv[i]) + (1 - yv[i]) * softplus(xv[i]));
      weighted.push_back(w[i / 3] * (pw[i % 3] * yv[i] * softplus(-xv[i]) + (1 - yv[i]) * softplus(xv[i])));
    }
    expect_values_near(nn::functional::binary_cross_entropy_with_logits(x, y, r), reduced(plain, r), 1e-12,
                       "bce " + nn::to_string(r));
    nn::BCEWithLogitsLoss loss(
        nn::BCEWithLogitsLossOptions(r).pos_weight(t64({3}, pw)).weight(t64({2, 1}, w)));
    expect_values_near(loss(x, y), reduced(weighted, r), 1e-12, "weighted bce " + nn::to_string(r));
  }
  // Huge logits in f32 stay finite.
  Tensor big = nn::functional::binary_cross_entropy_with_logits(
      Tensor::from_vector<float>({2}, {1e4f, -1e4f}), Tensor::from_vector<float>({2}, {0.0f, 1.0f}),
      Reduction::kNone);
  expect_values_near(big, {1e4, 1e4}, 1e-6);
  expect_error(
      [&] {
        nn::functional::binary_cross_entropy_with_logits(
            x, y, nn::BCEWithLogitsLossOptions().pos_weight(t64({2}, {1, 1})));
      },
      {"pos_weight [2] does not broadcast to input [2,3]"});
}

TEST(NnLoss, ReductionNames) {
  EXPECT_EQ(nn::reduction_from_string("sum"), Reduction::kSum);
  EXPECT_EQ(nn::to_string(Reduction::kNone), "none");
  expect_error([] { nn::reduction_from_string("avg"); }, {"reduction is 'avg'"});
}

// ---- Gradients (f64, central differences) ----

TEST(NnLossGradients, ElementwiseLosses) {
  Tensor y = random64({3, 4}, 2);
  for (Reduction r : kReductions) {
    Tensor x = random64({3, 4}, 1).set_requires_grad();
    Tensor weights = random64({3, 4}, 9, 0.5, 1.5);  // a "none" loss is weighted into a scalar
    auto scalar = [&](const Tensor& l) { return r == Reduction::kNone ? sum(l * weights) : l; };
    const std::string rn = nn::to_string(r);
    expect_gradients_match([&] { return scalar(nn::functional::mse_loss(x, y, r)); }, {x}, "mse " + rn);
    expect_gradients_match([&] { return scalar(nn::functional::l1_loss(x, y, r)); }, {x}, "l1 " + rn);
    expect_gradients_match(
        [&] { return scalar(nn::functional::huber_loss(x, y, nn::HuberLossOptions(r).delta(0.4))); }, {x},
        "huber " + rn);
  }
}

TEST(NnLossGradients, BCEWithLogits) {
  KILN_SKIP_WITHOUT_GRADIENTS("Exp", "Log");
  Tensor yb = random64({3, 4}, 3, 0.0, 1.0);
  Tensor pw = random64({4}, 4, 0.5, 2.0);
  for (Reduction r : kReductions) {
    Tensor x = random64({3, 4}, 1, -3.0, 3.0).set_requires_grad();
    Tensor weights = random64({3, 4}, 9, 0.5, 1.5);
    auto scalar = [&](const Tensor& l) { return r == Reduction::kNone ? sum(l * weights) : l; };
    expect_gradients_match([&] { return scalar(nn::functional::binary_cross_entropy_with_logits(x, yb, r)); },
                           {x}, "bce " + nn::to_string(r));
    expect_gradients_match(
        [&] {
          return scalar(nn::functional::binary_cross_entropy_with_logits(
              x, yb, nn::BCEWithLogitsLossOptions(r).pos_weight(pw)));
        },
        {x}, "bce pos_weight " + nn::to_string(r));
  }
}

TEST(NnLossGradients, ClassLosses) {
  KILN_SKIP_WITHOUT_GRADIENTS("SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss", "ReduceSum", "Mul");
  Tensor t = Tensor::from_vector<int64_t>({5}, {0, 3, 1, -100, 2});
  Tensor w = t64({4}, {1.0, 2.0, 0.5, 1.5});
  for (Reduction r : kReductions) {
    Tensor x = random64({5, 4}, 7, -2.0, 2.0).set_requires_grad();
    Tensor weights = random64({5}, 8, 0.5, 1.5);
    auto scalar = [&](const Tensor& l) { return r == Reduction::kNone ? sum(l * weights) : l; };
    const std::string rn = nn::to_string(r);
    for (double ls : {0.0, 0.2})
      expect_gradients_match(
          [&] {
            return scalar(nn::functional::cross_entropy(
                x, t, nn::CrossEntropyLossOptions(r).weight(w).label_smoothing(ls)));
          },
          {x}, "ce " + rn + " ls " + std::to_string(ls));
    expect_gradients_match(
        [&] { return scalar(nn::functional::nll_loss(x, t, nn::NLLLossOptions(r).weight(w))); }, {x},
        "nll " + rn);
  }
}

}  // namespace
}  // namespace kiln
