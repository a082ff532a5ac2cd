#include "kiln/frontend/optim/adam.h"

#include <cmath>

#include "kiln/runtime/tensor_ops.h"
#include "options_util.h"

namespace kiln::optim {

namespace detail {

AdamOptionsBase::AdamOptionsBase(double lr, double weight_decay, const char* name)
    : lr_(lr), weight_decay_(weight_decay) {
  non_negative(name, "lr", lr);
}

void AdamOptionsBase::set_lr(double value) { lr_ = non_negative(optimizer_name().c_str(), "lr", value); }
void AdamOptionsBase::set_eps(double value) { eps_ = non_negative(optimizer_name().c_str(), "eps", value); }
void AdamOptionsBase::set_weight_decay(double value) {
  weight_decay_ = non_negative(optimizer_name().c_str(), "weight_decay", value);
}
void AdamOptionsBase::set_betas(std::pair<double, double> value) {
  auto check = [&](double beta, int index) {
    if (!(beta >= 0 && beta < 1))
      raise(ErrorCode::kInvalidArgument, "{}: invalid beta parameter at index {}: {} (must be in [0, 1))",
            optimizer_name(), index, beta);
  };
  check(value.first, 0);
  check(value.second, 1);
  betas_ = value;
}

std::map<std::string, double> AdamOptionsBase::to_map() const {
  return {{"lr", lr_},   {"beta1", betas_.first},    {"beta2", betas_.second},       {"eps", eps_},
          {"weight_decay", weight_decay_}, {"amsgrad", amsgrad_ ? 1.0 : 0.0}, {"maximize", maximize_ ? 1.0 : 0.0}};
}

void AdamOptionsBase::from_map(const std::map<std::string, double>& values) {
  std::string name = optimizer_name();
  const char* who = name.c_str();
  only_known(who, values, {"lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"});
  auto copy = clone();
  auto& o = static_cast<AdamOptionsBase&>(*copy);
  o.set_lr(option(who, values, "lr"));
  o.set_betas({option(who, values, "beta1"), option(who, values, "beta2")});
  o.set_eps(option(who, values, "eps"));
  o.set_weight_decay(option(who, values, "weight_decay"));
  o.amsgrad_ = option(who, values, "amsgrad") != 0;
  o.maximize_ = option(who, values, "maximize") != 0;
  lr_ = o.lr_;
  betas_ = o.betas_;
  eps_ = o.eps_;
  weight_decay_ = o.weight_decay_;
  amsgrad_ = o.amsgrad_;
  maximize_ = o.maximize_;
}

void AdamOptionsBase::validate() const {
  std::string name = optimizer_name();
  non_negative(name.c_str(), "lr", lr_);
  non_negative(name.c_str(), "eps", eps_);
  non_negative(name.c_str(), "weight_decay", weight_decay_);
  for (int i = 0; i < 2; ++i) {
    double beta = i == 0 ? betas_.first : betas_.second;
    if (!(beta >= 0 && beta < 1))
      raise(ErrorCode::kInvalidArgument, "{}: invalid beta parameter at index {}: {} (must be in [0, 1))", name, i, beta);
  }
}

}  // namespace detail

namespace {

/// One Adam/AdamW update of param, in torch 1.13's single-tensor order of operations.
void adam_update(bool decoupled, double lr, std::pair<double, double> betas, double eps,
                 double weight_decay, bool amsgrad, bool maximize, const Tensor& param, const Tensor& grad,
                 ParamState& state) {
  auto [beta1, beta2] = betas;
  if (!state.buffers.count("exp_avg")) {  // the first step
    state.buffers["exp_avg"] = zeros_like(param);
    state.buffers["exp_avg_sq"] = zeros_like(param);
    if (amsgrad) state.buffers["max_exp_avg_sq"] = zeros_like(param);
  }
  Tensor g = maximize ? -grad : grad;
  Tensor p = param;
  if (decoupled) {
    if (weight_decay != 0) p = p * (1 - lr * weight_decay);
  } else if (weight_decay != 0) {
    g = g + p * weight_decay;
  }
  Tensor exp_avg = state.buffers.at("exp_avg") * beta1 + g * (1 - beta1);
  Tensor exp_avg_sq = state.buffers.at("exp_avg_sq") * beta2 + (g * (1 - beta2)) * g;  // addcmul: (value * t1) * t2
  state.buffers["exp_avg"] = exp_avg;
  state.buffers["exp_avg_sq"] = exp_avg_sq;

  double step = static_cast<double>(state.step);
  double bias_correction1 = 1 - std::pow(beta1, step);
  double bias_correction2 = 1 - std::pow(beta2, step);
  double step_size = lr / bias_correction1;
  double bias_correction2_sqrt = std::sqrt(bias_correction2);
  Tensor second = exp_avg_sq;
  if (amsgrad) {
    auto it = state.buffers.find("max_exp_avg_sq");
    if (it == state.buffers.end())  // amsgrad switched on after earlier steps: start from zeros
      it = state.buffers.emplace("max_exp_avg_sq", zeros_like(param)).first;
    second = it->second = maximum(it->second, exp_avg_sq);
  } else {
    state.buffers.erase("max_exp_avg_sq");  // amsgrad switched off: the state matches the options
  }
  Tensor denom = sqrt(second) / bias_correction2_sqrt + eps;
  Tensor(param).copy_from(p + (exp_avg * -step_size) / denom);  // addcdiv: (value * t1) / t2
}

template <class Options>
std::vector<std::string> adam_buffers(const OptimizerOptions& options) {
  if (static_cast<const Options&>(options).amsgrad()) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}
}  // namespace

Adam::Adam(std::vector<Tensor> params, const AdamOptions& defaults)
    : Adam(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : Optimizer("Adam", std::move(groups), defaults.clone()) {}
std::vector<std::string> Adam::state_buffers(const OptimizerOptions& options) const {
  return adam_buffers<AdamOptions>(options);
}
void Adam::step() {
  for_each_update<AdamOptions>([](const AdamOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) {
    adam_update(false, o.lr(), o.betas(), o.eps(), o.weight_decay(), o.amsgrad(), o.maximize(), param, grad,
                        state);
  });
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& defaults)
    : AdamW(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : Optimizer("AdamW", std::move(groups), defaults.clone()) {}
std::vector<std::string> AdamW::state_buffers(const OptimizerOptions& options) const {
  return adam_buffers<AdamWOptions>(options);
}
void AdamW::step() {
  for_each_update<AdamWOptions>([](const AdamWOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) {
    adam_update(true, o.lr(), o.betas(), o.eps(), o.weight_decay(), o.amsgrad(), o.maximize(), param, grad,
                        state);
  });
}

}  // namespace kiln::optim
