// optim LR schedulers: lr sequences against closed forms (and hand-computed plateau sequences),
// every parameter group, state dicts, bad arguments.

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "kiln/frontend/optim.h"
#include "test_errors.h"

namespace kiln {
namespace {

using optim::ParamGroup;
using optim::SGDOptions;

#ifndef EXPECT_KILN_ERROR
#define EXPECT_KILN_ERROR(expression, code, needle) expect_error([&] { (void)(expression); }, code, needle)
#endif

Tensor param() {
  Tensor t = Tensor::from_vector<float>({1}, {1.0f});
  t.set_requires_grad(true);
  return t;
}

// Two groups with base lrs 0.1 and 0.04.
struct TwoGroups {
  Tensor a = param(), b = param();
  optim::SGD opt{{ParamGroup({a}), ParamGroup({b}, SGDOptions(0.04))}, SGDOptions(0.1)};
  double lr(size_t g) const { return opt.param_groups()[g].options().get_lr(); }
};

// Steps the scheduler n times and checks both groups against closed(base, epoch) after each
// (epoch 0 is the state right after construction).
template <class Scheduler, class Closed>
void expect_sequence(TwoGroups& t, Scheduler& s, int epochs, Closed closed, double rtol = 1e-12) {
  for (int epoch = 0; epoch <= epochs; ++epoch) {
    if (epoch > 0) s.step();
    for (size_t g = 0; g < 2; ++g) {
      double base = g == 0 ? 0.1 : 0.04;
      double want = closed(base, epoch);
      ASSERT_NEAR(t.lr(g), want, rtol * std::abs(want) + 1e-300) << "epoch " << epoch << " group " << g;
      ASSERT_EQ(s.get_last_lr()[g], t.lr(g));
    }
    ASSERT_EQ(s.last_epoch(), epoch);
  }
}

TEST(OptimLRScheduler, StepLR) {
  TwoGroups t;
  optim::StepLR s(t.opt, 3, 0.5);
  expect_sequence(t, s, 10, [](double base, int e) { return base * std::pow(0.5, e / 3); });
}

TEST(OptimLRScheduler, MultiStepLRWithARepeatedMilestone) {
  TwoGroups t;
  optim::MultiStepLR s(t.opt, {5, 2, 5}, 0.1);
  expect_sequence(t, s, 8, [](double base, int e) { return base * std::pow(0.1, (e >= 2) + 2 * (e >= 5)); });
}

TEST(OptimLRScheduler, ExponentialLR) {
  TwoGroups t;
  optim::ExponentialLR s(t.opt, 0.9);
  expect_sequence(t, s, 12, [](double base, int e) { return base * std::pow(0.9, e); });
}

TEST(OptimLRScheduler, CosineAnnealingLRFollowsTheClosedFormOverSeveralPeriods) {
  TwoGroups t;
  optim::CosineAnnealingLR s(t.opt, 4, 0.01);
  expect_sequence(
      t, s, 20,
      [](double base, int e) { return 0.01 + (base - 0.01) * (1 + std::cos(std::numbers::pi * e / 4)) / 2; }, 1e-9);
}

TEST(OptimLRScheduler, LinearLRWarmUp) {
  TwoGroups t;
  optim::LinearLR s(t.opt, 0.25, 1.0, 4);
  expect_sequence(t, s, 8,
                  [](double base, int e) { return base * (0.25 + 0.75 * std::min(e, 4) / 4.0); });
}

TEST(OptimLRScheduler, LinearLRDecay) {
  TwoGroups t;
  optim::LinearLR s(t.opt, 1.0, 0.5, 3);
  expect_sequence(t, s, 6, [](double base, int e) { return base * (1.0 - 0.5 * std::min(e, 3) / 3.0); });
}

TEST(OptimLRScheduler, StateDictRoundTripContinuesTheSchedule) {
  TwoGroups t;
  optim::CosineAnnealingLR s(t.opt, 5);
  for (int i = 0; i < 3; ++i) s.step();
  std::string state = s.state_dict();
  optim::OptimizerStateDict opt_state = t.opt.state_dict();
  std::vector<std::vector<double>> expected;
  for (int i = 0; i < 4; ++i) {
    s.step();
    expected.push_back(s.get_last_lr());
  }
  TwoGroups u;
  u.opt.load_state_dict(opt_state);
  optim::CosineAnnealingLR resumed(u.opt, 99, 0.5);  // hyperparameters come from the state
  resumed.load_state_dict(state);
  EXPECT_EQ(resumed.last_epoch(), 3);
  for (int i = 0; i < 4; ++i) {
    resumed.step();
    EXPECT_EQ(resumed.get_last_lr(), expected[i]) << i;
  }
  EXPECT_KILN_ERROR(resumed.load_state_dict("{"), ErrorCode::kInvalidArgument, "not valid JSON");
  optim::StepLR other(u.opt, 2);
  EXPECT_KILN_ERROR(other.load_state_dict(state), ErrorCode::kInvalidArgument, "the state is of a CosineAnnealingLR");
}

TEST(OptimLRScheduler, BadArgumentsGetClearErrors) {
  TwoGroups t;
  EXPECT_KILN_ERROR(optim::StepLR(t.opt, 0), ErrorCode::kInvalidArgument, "StepLR: invalid step_size 0");
  EXPECT_KILN_ERROR(optim::StepLR(t.opt, 2, -0.5), ErrorCode::kInvalidArgument, "StepLR: invalid gamma -0.5");
  EXPECT_KILN_ERROR(optim::MultiStepLR(t.opt, {-1}), ErrorCode::kInvalidArgument, "invalid milestone -1");
  EXPECT_KILN_ERROR(optim::ExponentialLR(t.opt, NAN), ErrorCode::kInvalidArgument, "invalid gamma nan");
  EXPECT_KILN_ERROR(optim::CosineAnnealingLR(t.opt, 0), ErrorCode::kInvalidArgument, "invalid T_max 0");
  EXPECT_KILN_ERROR(optim::LinearLR(t.opt, 0.0), ErrorCode::kInvalidArgument, "invalid start_factor 0");
  EXPECT_KILN_ERROR(optim::LinearLR(t.opt, 0.5, 1.5), ErrorCode::kInvalidArgument, "invalid end_factor 1.5");
  EXPECT_KILN_ERROR(optim::LinearLR(t.opt, 0.5, 1.0, 0), ErrorCode::kInvalidArgument, "invalid total_iters 0");
  using O = optim::ReduceLROnPlateauOptions;
  EXPECT_KILN_ERROR(optim::ReduceLROnPlateau(t.opt, O().factor(1.0)), ErrorCode::kInvalidArgument, "invalid factor 1");
  EXPECT_KILN_ERROR(optim::ReduceLROnPlateau(t.opt, O().patience(-1)), ErrorCode::kInvalidArgument, "invalid patience");
  EXPECT_KILN_ERROR(optim::ReduceLROnPlateau(t.opt, O().min_lr({0.1, 0.2, 0.3})), ErrorCode::kInvalidArgument,
                    "expected 2 min_lrs");
  // Nothing was changed by the failed constructions.
  EXPECT_EQ(t.lr(0), 0.1);
  EXPECT_EQ(t.lr(1), 0.04);
}

TEST(OptimReduceLROnPlateau, MinModeRelativeThresholdWithCooldown) {
  TwoGroups t;
  optim::ReduceLROnPlateau s(t.opt, optim::ReduceLROnPlateauOptions().patience(1).cooldown(1).factor(0.5).min_lr({0.0, 0.015}));
  EXPECT_EQ(s.get_last_lr(), (std::vector<double>{0.1, 0.04}));
  // metric:       1.0  0.99999 (not better by rel 1e-4)  0.5  0.6  0.7  0.8  0.9  1.0  1.1
  std::vector<double> metrics = {1.0, 0.99999, 0.99999, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1};
  std::vector<std::pair<double, double>> lrs = {
      {0.1, 0.04},     // best 1.0
      {0.1, 0.04},     // bad 1
      {0.05, 0.02},    // bad 2 > patience: reduce, cooldown 1
      {0.05, 0.02},    // better: best 0.5; cooldown counts down
      {0.05, 0.02},    // bad 1
      {0.025, 0.015},  // bad 2: reduce (group 1 floors at min_lr 0.015)
      {0.025, 0.015},  // cooldown: bad epochs ignored
      {0.025, 0.015},  // bad 1
      {0.0125, 0.015}, // bad 2: reduce; group 1 is at its floor (change 0 <= eps)
      {0.0125, 0.015}, // cooldown
  };
  for (size_t i = 0; i < metrics.size(); ++i) {
    s.step(metrics[i]);
    EXPECT_DOUBLE_EQ(t.lr(0), lrs[i].first) << "epoch " << i + 1;
    EXPECT_DOUBLE_EQ(t.lr(1), lrs[i].second) << "epoch " << i + 1;
    EXPECT_EQ(s.get_last_lr()[0], t.lr(0));
  }
  EXPECT_EQ(s.best(), 0.5);
  EXPECT_EQ(s.last_epoch(), 10);
}

TEST(OptimReduceLROnPlateau, MaxModeAbsoluteThreshold) {
  TwoGroups t;
  optim::ReduceLROnPlateau s(t.opt, optim::ReduceLROnPlateauOptions()
                                        .mode(optim::PlateauMode::kMax)
                                        .threshold_mode(optim::ThresholdMode::kAbs)
                                        .threshold(0.1)
                                        .patience(0)
                                        .factor(0.1));
  s.step(1.0);   // best 1.0
  EXPECT_DOUBLE_EQ(t.lr(0), 0.1);
  s.step(1.05);  // not better by 0.1: reduce at once (patience 0)
  EXPECT_DOUBLE_EQ(t.lr(0), 0.01);
  s.step(1.2);   // better
  EXPECT_DOUBLE_EQ(t.lr(0), 0.01);
  s.step(NAN);   // NaN is never better
  EXPECT_DOUBLE_EQ(t.lr(0), 0.001);
  EXPECT_EQ(s.best(), 1.2);
}

TEST(OptimReduceLROnPlateau, StateDictRoundTrip) {
  TwoGroups t;
  optim::ReduceLROnPlateau s(t.opt, optim::ReduceLROnPlateauOptions().patience(2).factor(0.5));
  for (double m : {3.0, 2.0, 2.5, 2.6}) s.step(m);
  std::string state = s.state_dict();
  TwoGroups u;
  optim::ReduceLROnPlateau resumed(u.opt);
  resumed.load_state_dict(state);
  EXPECT_EQ(resumed.best(), 2.0);
  EXPECT_EQ(resumed.num_bad_epochs(), 2);
  EXPECT_EQ(resumed.options().patience_, 2);
  resumed.step(2.7);  // third bad epoch: reduce
  EXPECT_DOUBLE_EQ(u.lr(0), 0.05);
  // The initial (infinite) best survives JSON too.
  TwoGroups v;
  optim::ReduceLROnPlateau fresh(v.opt);
  optim::ReduceLROnPlateau copy(v.opt);
  copy.load_state_dict(fresh.state_dict());
  EXPECT_TRUE(std::isinf(copy.best()));
  EXPECT_KILN_ERROR(copy.load_state_dict(R"({"scheduler":"StepLR"})"), ErrorCode::kInvalidArgument, "the state is of a StepLR");
}

}  // namespace
}  // namespace kiln
