// optim: SGD, Adam and AdamW against an independent float64 implementation of the documented
// update rules, parameter groups, zero_grad, frozen parameters, state dicts, and bad options.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "frontend_test_util.h"
#include "kiln/frontend/checkpoint.h"
#include "kiln/frontend/optim.h"
#include "kiln/runtime/tensor_ops.h"
#include "test_errors.h"

namespace kiln {
namespace {

using optim::AdamOptions;
using optim::AdamWOptions;
using optim::ParamGroup;
using optim::SGDOptions;

// Expects the expression to throw kiln::Error with code and a message containing needle.
#ifndef EXPECT_KILN_ERROR
#define EXPECT_KILN_ERROR(expression, code, needle) expect_error([&] { (void)(expression); }, code, needle)
#endif

// ---- An independent float64 reference, written from the documented formulas ----

struct RefConfig {
  std::string kind;  // "sgd", "adam", "adamw"
  double lr = 0.1, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, maximize = false, amsgrad = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

struct RefState {
  int step = 0;
  std::vector<double> buf, m, v, vmax;
};

void ref_step(const RefConfig& c, std::vector<double>& p, const std::vector<double>& grad, RefState& s) {
  ++s.step;
  const size_t n = p.size();
  if (c.kind == "sgd") {
    for (size_t i = 0; i < n; ++i) {
      double d = c.maximize ? -grad[i] : grad[i];
      d += c.weight_decay * p[i];
      if (c.momentum != 0) {
        if (s.buf.empty()) s.buf.assign(n, 0.0);
        // The first step takes the gradient as the buffer, without dampening.
        s.buf[i] = s.step == 1 ? d : c.momentum * s.buf[i] + (1 - c.dampening) * d;
        d = c.nesterov ? d + c.momentum * s.buf[i] : s.buf[i];
      }
      p[i] -= c.lr * d;
    }
    return;
  }
  if (s.m.empty()) s.m.assign(n, 0.0), s.v.assign(n, 0.0), s.vmax.assign(n, 0.0);
  const double bc1 = 1 - std::pow(c.beta1, s.step), bc2 = 1 - std::pow(c.beta2, s.step);
  for (size_t i = 0; i < n; ++i) {
    double g = c.maximize ? -grad[i] : grad[i];
    if (c.kind == "adamw") p[i] *= 1 - c.lr * c.weight_decay;
    else g += c.weight_decay * p[i];
    s.m[i] = c.beta1 * s.m[i] + (1 - c.beta1) * g;
    s.v[i] = c.beta2 * s.v[i] + (1 - c.beta2) * g * g;
    s.vmax[i] = std::max(s.vmax[i], s.v[i]);
    double v_hat = (c.amsgrad ? s.vmax[i] : s.v[i]) / bc2;
    double m_hat = s.m[i] / bc1;
    p[i] -= c.lr * m_hat / (std::sqrt(v_hat) + c.eps);
  }
}

// The gradient at step k: a quadratic pull towards a target plus a step-dependent term that
// changes sign, so momentum and the moments see varied gradients.
std::vector<double> grad_at(const std::vector<double>& p, int k) {
  std::vector<double> g(p.size());
  for (size_t i = 0; i < p.size(); ++i)
    g[i] = (0.5 + 0.25 * static_cast<double>(i)) * (p[i] - 0.3) + 0.2 * std::sin(1.7 * k + static_cast<double>(i));
  return g;
}

Tensor param64(const std::vector<double>& values) {
  Tensor t = Tensor::from_vector<double>({static_cast<int64_t>(values.size())}, values);
  t.set_requires_grad(true);
  return t;
}

void set_grad64(Tensor p, const std::vector<double>& g) {
  p.set_grad(Tensor::from_vector<double>(p.shape(), g));
}

std::unique_ptr<optim::Optimizer> make(const RefConfig& c, std::vector<ParamGroup> groups) {
  if (c.kind == "sgd")
    return std::make_unique<optim::SGD>(std::move(groups), SGDOptions(c.lr)
                                                              .momentum(c.momentum)
                                                              .dampening(c.dampening)
                                                              .weight_decay(c.weight_decay)
                                                              .nesterov(c.nesterov)
                                                              .maximize(c.maximize));
  if (c.kind == "adam")
    return std::make_unique<optim::Adam>(std::move(groups), AdamOptions(c.lr)
                                                                .betas({c.beta1, c.beta2})
                                                                .eps(c.eps)
                                                                .weight_decay(c.weight_decay)
                                                                .amsgrad(c.amsgrad)
                                                                .maximize(c.maximize));
  return std::make_unique<optim::AdamW>(std::move(groups), AdamWOptions(c.lr)
                                                               .betas({c.beta1, c.beta2})
                                                               .eps(c.eps)
                                                               .weight_decay(c.weight_decay)
                                                               .amsgrad(c.amsgrad)
                                                               .maximize(c.maximize));
}

struct Case {
  std::string name;
  RefConfig config;
};
std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

std::vector<Case> cases() {
  auto sgd = [](double lr) { RefConfig c; c.kind = "sgd"; c.lr = lr; return c; };
  auto adam = [](const char* kind, double lr) { RefConfig c; c.kind = kind; c.lr = lr; c.weight_decay = 0; return c; };
  std::vector<Case> v;
  v.push_back({"SgdPlain", sgd(0.1)});
  { auto c = sgd(0.1); c.momentum = 0.9; v.push_back({"SgdMomentum", c}); }
  { auto c = sgd(0.05); c.momentum = 0.8; c.dampening = 0.5; v.push_back({"SgdDampening", c}); }
  { auto c = sgd(0.1); c.momentum = 0.9; c.nesterov = true; v.push_back({"SgdNesterov", c}); }
  { auto c = sgd(0.1); c.weight_decay = 0.01; v.push_back({"SgdWeightDecay", c}); }
  { auto c = sgd(0.1); c.maximize = true; c.momentum = 0.5; v.push_back({"SgdMaximize", c}); }
  { auto c = sgd(0.03); c.momentum = 0.7; c.dampening = 0.1; c.weight_decay = 0.05; c.maximize = true;
    v.push_back({"SgdEverything", c}); }
  { auto c = sgd(0.03); c.momentum = 0.7; c.weight_decay = 0.05; c.nesterov = true; c.maximize = true;
    v.push_back({"SgdNesterovEverything", c}); }
  v.push_back({"AdamDefault", adam("adam", 1e-2)});
  { auto c = adam("adam", 1e-2); c.weight_decay = 0.1; v.push_back({"AdamWeightDecay", c}); }
  { auto c = adam("adam", 5e-2); c.amsgrad = true; c.beta1 = 0.5; c.beta2 = 0.9; v.push_back({"AdamAmsgrad", c}); }
  { auto c = adam("adam", 1e-2); c.maximize = true; c.eps = 1e-3; v.push_back({"AdamMaximize", c}); }
  { auto c = adam("adamw", 1e-2); c.weight_decay = 1e-2; v.push_back({"AdamWDefault", c}); }
  { auto c = adam("adamw", 3e-2); c.weight_decay = 0.2; c.amsgrad = true; c.maximize = true;
    v.push_back({"AdamWAmsgradMaximize", c}); }
  return v;
}

class OptimizerReference : public ::testing::TestWithParam<Case> {};

TEST_P(OptimizerReference, MatchesFloat64ReferenceForSeveralSteps) {
  const RefConfig& c = GetParam().config;
  std::vector<double> ref = {0.5, -1.0, 2.0, 0.0, -0.25};
  Tensor w = param64(ref);
  auto opt = make(c, {ParamGroup({w})});
  RefState state;
  for (int k = 0; k < 8; ++k) {
    std::vector<double> g = grad_at(ref, k);
    set_grad64(w, g);
    opt->step();
    ref_step(c, ref, g, state);
    std::vector<double> got = w.to_vector<double>();
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(got[i], ref[i], 1e-12 * (1 + std::abs(ref[i]))) << "step " << k << " element " << i;
  }
}

TEST_P(OptimizerReference, Float32AgreesWithReferenceToFloatRounding) {
  const RefConfig& c = GetParam().config;
  std::vector<double> ref = {0.5, -1.0, 2.0, 0.0, -0.25};
  Tensor w = Tensor::from_vector<float>({5}, std::vector<float>(ref.begin(), ref.end()));
  w.set_requires_grad(true);
  auto opt = make(c, {ParamGroup({w})});
  RefState state;
  for (int k = 0; k < 5; ++k) {
    std::vector<float> wf = w.to_vector<float>();
    std::vector<double> current(wf.begin(), wf.end());
    std::vector<double> g = grad_at(current, k);
    w.set_grad(Tensor::from_vector<float>({5}, std::vector<float>(g.begin(), g.end())));
    opt->step();
    ref_step(c, current, g, state);
    std::vector<float> got = w.to_vector<float>();
    for (size_t i = 0; i < 5; ++i) ASSERT_NEAR(got[i], current[i], 2e-5 * (1 + std::abs(current[i]))) << "step " << k;
    ref.assign(got.begin(), got.end());
  }
}

INSTANTIATE_TEST_SUITE_P(Optim, OptimizerReference, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& c) { return c.param.name; });

// ---- SGD specifics ----

TEST(OptimSGD, FirstMomentumStepTakesTheGradientWithoutDampening) {
  Tensor w = param64({1.0, 2.0});
  optim::SGD opt({w}, SGDOptions(0.5).momentum(0.9).dampening(0.7));
  set_grad64(w, {0.4, -0.2});
  opt.step();
  EXPECT_EQ(opt.state().at(0).buffers.at("momentum_buffer").to_vector<double>(), (std::vector<double>{0.4, -0.2}));
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{1.0 - 0.5 * 0.4, 2.0 + 0.5 * 0.2}));
  set_grad64(w, {1.0, 1.0});
  opt.step();  // buf = 0.9 buf + 0.3 g
  std::vector<double> buf = opt.state().at(0).buffers.at("momentum_buffer").to_vector<double>();
  EXPECT_NEAR(buf[0], 0.9 * 0.4 + 0.3, 1e-15);
  EXPECT_NEAR(buf[1], 0.9 * -0.2 + 0.3, 1e-15);
}

TEST(OptimSGD, ParametersKeepTheirStorageAndStayLeaves) {
  Tensor w = param64({1.0, 2.0, 3.0});
  auto storage = w.storage().get();
  optim::SGD opt({w}, SGDOptions(0.1).momentum(0.9));
  for (int k = 0; k < 3; ++k) {
    set_grad64(w, {1, 1, 1});
    opt.step();
  }
  EXPECT_EQ(w.storage().get(), storage);
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
  EXPECT_EQ(opt.parameters()[0].storage().get(), storage);
}

TEST(OptimSGD, StepDoesNotWriteIntoTheGradient) {
  Tensor w = param64({1.0, 2.0});
  optim::SGD opt({w}, SGDOptions(0.1).momentum(0.9).weight_decay(0.1).maximize(true));
  Tensor g = Tensor::from_vector<double>({2}, {0.5, 0.25});
  w.set_grad(g);
  opt.step();
  opt.step();
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{0.5, 0.25}));
}

// ---- Groups, zero_grad, frozen parameters ----

TEST(Optim, ParamGroupsUseTheirOwnOptions) {
  Tensor a = param64({1.0}), b = param64({1.0}), c = param64({1.0});
  optim::SGD opt({ParamGroup({a}), ParamGroup({b}, SGDOptions(0.01).momentum(0.5))}, SGDOptions(0.1));
  opt.add_param_group(ParamGroup({c}, SGDOptions(1.0)));
  ASSERT_EQ(opt.param_groups().size(), 3u);
  EXPECT_EQ(opt.param_groups()[0].options().get_lr(), 0.1);
  for (int k = 0; k < 2; ++k) {
    for (Tensor t : {a, b, c}) set_grad64(t, {1.0});
    opt.step();
  }
  EXPECT_DOUBLE_EQ(a.item<double>(), 1.0 - 0.2);
  EXPECT_DOUBLE_EQ(b.item<double>(), 1.0 - 0.01 - 0.01 * 1.5);
  EXPECT_DOUBLE_EQ(c.item<double>(), 1.0 - 2.0);
  EXPECT_EQ(opt.state().count(1), 1u);
  EXPECT_EQ(opt.state().at(1).buffers.count("momentum_buffer"), 1u);
  EXPECT_EQ(opt.state().at(0).buffers.count("momentum_buffer"), 0u);
}

TEST(Optim, ZeroGradSetToNoneUndefinesGradients) {
  Tensor a = param64({1.0, 2.0}), b = param64({3.0});
  optim::Adam opt({a, b});
  set_grad64(a, {1, 1});
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(Optim, ZeroGradWithoutSetToNoneReplacesGradientsByFreshZeros) {
  Tensor a = param64({1.0, 2.0}), b = param64({3.0});
  optim::SGD opt({a, b}, SGDOptions(0.1));
  Tensor shared = Tensor::from_vector<double>({2}, {5.0, 6.0});
  a.set_grad(shared);
  opt.zero_grad(false);
  ASSERT_TRUE(a.grad().defined());
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.0, 0.0}));
  EXPECT_NE(a.grad().storage().get(), shared.storage().get());
  EXPECT_EQ(shared.to_vector<double>(), (std::vector<double>{5.0, 6.0}));  // not written in place
  EXPECT_FALSE(b.grad().defined());                                        // no gradient stays none
}

TEST(Optim, FrozenAndGradlessParametersGetNoUpdateAndNoState) {
  Tensor live = param64({1.0}), gradless = param64({2.0});
  Tensor frozen = Tensor::from_vector<double>({1}, {3.0});  // requires_grad false
  frozen.set_grad(Tensor::from_vector<double>({1}, {1.0}));
  optim::Adam opt({live, gradless, frozen}, AdamOptions(0.1));
  set_grad64(live, {1.0});
  opt.step();
  EXPECT_NE(live.item<double>(), 1.0);
  EXPECT_EQ(gradless.item<double>(), 2.0);
  EXPECT_EQ(frozen.item<double>(), 3.0);
  EXPECT_EQ(opt.state().size(), 1u);
  EXPECT_EQ(opt.state().count(0), 1u);
  EXPECT_EQ(opt.state().at(0).step, 1);
}

// ---- State dicts ----

template <class Make>
void expect_identical_continuation(Make make_optimizer) {
  Tensor a = param64({0.5, -1.0, 2.0}), b = param64({1.5, 0.25});
  auto opt = make_optimizer(std::vector<Tensor>{a, b});
  auto run = [](optim::Optimizer& o, Tensor x, Tensor y, int from, int to) {
    for (int k = from; k < to; ++k) {
      set_grad64(x, grad_at(x.to_vector<double>(), k));
      set_grad64(y, grad_at(y.to_vector<double>(), k + 7));
      o.step();
    }
  };
  run(*opt, a, b, 0, 3);
  TempDir dir;
  Checkpoint ckpt;
  ckpt.tensors["a"] = a;
  ckpt.tensors["b"] = b;
  opt->state_dict().save_to(ckpt);
  save_checkpoint(dir.file("ckpt"), ckpt);

  run(*opt, a, b, 3, 7);  // the run that never stopped

  Checkpoint loaded = load_checkpoint(dir.file("ckpt"));
  Tensor a2 = loaded.tensors.at("a").clone(), b2 = loaded.tensors.at("b").clone();
  a2.set_requires_grad(true);
  b2.set_requires_grad(true);
  auto resumed = make_optimizer(std::vector<Tensor>{a2, b2});
  resumed->load_state_dict(optim::OptimizerStateDict::load_from(loaded));
  run(*resumed, a2, b2, 3, 7);
  EXPECT_EQ(a2.to_vector<double>(), a.to_vector<double>());
  EXPECT_EQ(b2.to_vector<double>(), b.to_vector<double>());
}

TEST(OptimStateDict, SGDMomentumResumesBitForBit) {
  expect_identical_continuation([](std::vector<Tensor> p) {
    return std::make_unique<optim::SGD>(p, SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
  });
}

TEST(OptimStateDict, AdamAmsgradResumesBitForBit) {
  expect_identical_continuation(
      [](std::vector<Tensor> p) { return std::make_unique<optim::Adam>(p, AdamOptions(0.05).amsgrad(true)); });
}

TEST(OptimStateDict, AdamWResumesBitForBit) {
  expect_identical_continuation([](std::vector<Tensor> p) { return std::make_unique<optim::AdamW>(p, AdamWOptions(0.05)); });
}

TEST(OptimStateDict, RestoresGroupOptionsAndStepCounts) {
  Tensor a = param64({1.0});
  optim::Adam opt({a}, AdamOptions(0.1));
  set_grad64(a, {1.0});
  opt.step();
  opt.step();
  auto sd = opt.state_dict();
  EXPECT_EQ(sd.tensors.count("state.0.exp_avg"), 1u);
  EXPECT_EQ(sd.tensors.count("state.0.exp_avg_sq"), 1u);
  Tensor a2 = param64({1.0});
  optim::Adam other({a2}, AdamOptions(0.5).weight_decay(0.3));
  other.load_state_dict(sd);
  EXPECT_EQ(other.param_groups()[0].options().get_lr(), 0.1);
  EXPECT_EQ(static_cast<const AdamOptions&>(other.param_groups()[0].options()).weight_decay(), 0.0);
  EXPECT_EQ(other.state().at(0).step, 2);
}

TEST(OptimStateDict, StateThatDoesNotFitIsRejectedAndNothingChanges) {
  Tensor a = param64({1.0, 2.0}), b = param64({3.0});
  optim::SGD opt({a, b}, SGDOptions(0.1).momentum(0.9));
  set_grad64(a, {1, 1});
  set_grad64(b, {1});
  opt.step();
  auto sd = opt.state_dict();

  {  // another optimizer type
    optim::Adam adam({param64({1.0, 2.0}), param64({3.0})});
    EXPECT_KILN_ERROR(adam.load_state_dict(sd), ErrorCode::kInvalidArgument, "state is of a SGD optimizer");
  }
  {  // another parameter count
    optim::SGD fewer({param64({1.0, 2.0})}, SGDOptions(0.2));
    EXPECT_KILN_ERROR(fewer.load_state_dict(sd), ErrorCode::kInvalidArgument, "group 0 has 2 parameters in the state, 1 here");
    EXPECT_EQ(fewer.param_groups()[0].options().get_lr(), 0.2);
  }
  {  // other shapes, every one listed
    optim::SGD other({param64({1.0, 2.0, 3.0}), param64({3.0, 4.0})}, SGDOptions(0.2));
    EXPECT_KILN_ERROR(other.load_state_dict(sd), ErrorCode::kInvalidArgument,
                      "parameter 0 (group 0): [2] in the state, [3] here; parameter 1 (group 0): [1] in the state, [2] here");
    EXPECT_EQ(other.param_groups()[0].options().get_lr(), 0.2);
    EXPECT_TRUE(other.state().empty());
  }
  {  // another number of groups
    optim::SGD grouped({ParamGroup({param64({1.0, 2.0})}), ParamGroup({param64({3.0})})}, SGDOptions(0.2));
    EXPECT_KILN_ERROR(grouped.load_state_dict(sd), ErrorCode::kInvalidArgument, "1 parameter groups, this optimizer 2");
  }
  optim::SGD same({param64({1.0, 2.0}), param64({3.0})}, SGDOptions(0.2));
  {  // a missing buffer
    auto broken = sd;
    broken.tensors.erase("state.1.momentum_buffer");
    EXPECT_KILN_ERROR(same.load_state_dict(broken), ErrorCode::kInvalidArgument, "'state.1.momentum_buffer' is missing");
  }
  {  // a buffer of the wrong shape
    auto broken = sd;
    broken.tensors["state.1.momentum_buffer"] = Tensor::from_vector<double>({2}, {1, 2});
    EXPECT_KILN_ERROR(same.load_state_dict(broken), ErrorCode::kInvalidArgument, "'state.1.momentum_buffer' is f64 [2]");
  }
  {  // an unexpected tensor
    auto broken = sd;
    broken.tensors["state.0.exp_avg"] = Tensor::from_vector<double>({2}, {1, 2});
    EXPECT_KILN_ERROR(same.load_state_dict(broken), ErrorCode::kInvalidArgument, "unexpected tensor 'state.0.exp_avg'");
  }
  {  // not JSON
    auto broken = sd;
    broken.metadata = "{not json";
    EXPECT_KILN_ERROR(same.load_state_dict(broken), ErrorCode::kInvalidArgument, "not valid JSON");
  }
  {  // bad options
    auto broken = sd;
    auto pos = broken.metadata.find("\"lr\":0.1");
    ASSERT_NE(pos, std::string::npos);
    broken.metadata.replace(pos, 8, "\"lr\":-1.0");
    EXPECT_KILN_ERROR(same.load_state_dict(broken), ErrorCode::kInvalidArgument, "SGD: invalid lr -1");
  }
  EXPECT_TRUE(same.state().empty());
  EXPECT_EQ(same.param_groups()[0].options().get_lr(), 0.2);
  same.load_state_dict(sd);
  EXPECT_EQ(same.state().size(), 2u);
  EXPECT_KILN_ERROR(optim::OptimizerStateDict::load_from(Checkpoint{}, "opt"), ErrorCode::kInvalidArgument,
                    "no optimizer state under 'opt'");
}

// ---- Bad options and parameters ----

TEST(OptimOptions, BadValuesGetClearErrors) {
  EXPECT_KILN_ERROR(SGDOptions(-0.1), ErrorCode::kInvalidArgument, "SGD: invalid lr -0.1");
  EXPECT_KILN_ERROR(SGDOptions(0.1).momentum(-1), ErrorCode::kInvalidArgument, "SGD: invalid momentum -1");
  EXPECT_KILN_ERROR(SGDOptions(0.1).weight_decay(-1e-3), ErrorCode::kInvalidArgument, "invalid weight_decay");
  EXPECT_KILN_ERROR(SGDOptions(NAN), ErrorCode::kInvalidArgument, "SGD: invalid lr nan");
  Tensor w = param64({1.0});
  EXPECT_KILN_ERROR(optim::SGD({w}, SGDOptions(0.1).nesterov(true)), ErrorCode::kInvalidArgument,
                    "nesterov momentum requires momentum > 0 and dampening = 0");
  EXPECT_KILN_ERROR(optim::SGD({w}, SGDOptions(0.1).nesterov(true).momentum(0.9).dampening(0.1)),
                    ErrorCode::kInvalidArgument, "nesterov momentum requires momentum > 0 and dampening = 0");
  EXPECT_KILN_ERROR(AdamOptions(-1.0), ErrorCode::kInvalidArgument, "Adam: invalid lr -1");
  EXPECT_KILN_ERROR(AdamWOptions(-1.0), ErrorCode::kInvalidArgument, "AdamW: invalid lr -1");
  EXPECT_KILN_ERROR(AdamOptions().betas({1.0, 0.999}), ErrorCode::kInvalidArgument, "invalid beta parameter at index 0: 1");
  EXPECT_KILN_ERROR(AdamOptions().betas({0.9, -0.1}), ErrorCode::kInvalidArgument, "invalid beta parameter at index 1");
  EXPECT_KILN_ERROR(AdamOptions().eps(-1e-8), ErrorCode::kInvalidArgument, "Adam: invalid eps");
  EXPECT_KILN_ERROR(AdamWOptions().weight_decay(-1), ErrorCode::kInvalidArgument, "AdamW: invalid weight_decay -1");
}

TEST(OptimOptions, OptionsChangedAfterConstructionAreCheckedAtStep) {
  Tensor w = param64({1.0});
  optim::SGD opt({w}, SGDOptions(0.1).momentum(0.9).nesterov(true));
  static_cast<SGDOptions&>(opt.param_groups()[0].options()).momentum(0);
  set_grad64(w, {1.0});
  EXPECT_KILN_ERROR(opt.step(), ErrorCode::kInvalidArgument, "nesterov momentum requires");
  EXPECT_EQ(w.item<double>(), 1.0);
}

TEST(OptimOptions, BadParametersGetClearErrors) {
  Tensor w = param64({1.0, 2.0});
  EXPECT_KILN_ERROR(optim::SGD(std::vector<Tensor>{}, SGDOptions(0.1)), ErrorCode::kInvalidArgument, "empty");
  EXPECT_KILN_ERROR(optim::SGD({w, w}, SGDOptions(0.1)), ErrorCode::kInvalidArgument, "appears more than once");
  EXPECT_KILN_ERROR(optim::SGD({ParamGroup({w}), ParamGroup({w})}, SGDOptions(0.1)), ErrorCode::kInvalidArgument,
                    "appears more than once");
  EXPECT_KILN_ERROR(optim::SGD({Tensor()}, SGDOptions(0.1)), ErrorCode::kInvalidArgument, "is undefined");
  EXPECT_KILN_ERROR(optim::SGD({Tensor::from_vector<int64_t>({1}, {1})}, SGDOptions(0.1)), ErrorCode::kInvalidArgument,
                    "only floating tensors can be optimized");
  Tensor derived = w * 2.0;
  EXPECT_KILN_ERROR(optim::SGD({derived}, SGDOptions(0.1)), ErrorCode::kInvalidArgument, "is not a leaf");
  EXPECT_KILN_ERROR(optim::SGD({ParamGroup({w}, AdamOptions())}, SGDOptions(0.1)), ErrorCode::kInvalidArgument,
                    "group 0 has Adam options");
}

}  // namespace
}  // namespace kiln
