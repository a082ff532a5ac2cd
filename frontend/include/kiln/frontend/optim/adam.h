#pragma once
// optim::Adam and optim::AdamW, with amsgrad and maximize, following torch 1.13's single-tensor
// implementation operation by operation, so results agree with PyTorch's to float rounding:
//   g = maximize ? -grad : grad;  step += 1
//   Adam: g += weight_decay * p            AdamW: p *= 1 - lr * weight_decay
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v) (amsgrad);  denom = sqrt(amsgrad ? vmax : v) / sqrt(1 - beta2^step) + eps
//   p += -(lr / (1 - beta1^step)) * m / denom

#include <memory>
#include <utility>
#include <vector>

#include "kiln/frontend/optim/optimizer.h"

namespace kiln::optim {

namespace detail {
/// The options Adam and AdamW share; name and default weight decay differ.
class AdamOptionsBase : public OptimizerOptions {
 public:
  double get_lr() const override { return lr_; }
  void set_lr(double value) override;
  std::map<std::string, double> to_map() const override;
  void from_map(const std::map<std::string, double>& values) override;
  void validate() const override;

 protected:
  AdamOptionsBase(double lr, double weight_decay, const char* name);
  void set_betas(std::pair<double, double> value);
  void set_eps(double value);
  void set_weight_decay(double value);

  double lr_;
  std::pair<double, double> betas_{0.9, 0.999};
  double eps_ = 1e-8;
  double weight_decay_;
  bool amsgrad_ = false;
  bool maximize_ = false;
};
}  // namespace detail

/// Adam's options: AdamOptions(1e-3).betas({0.9, 0.99}).amsgrad(true). Setters throw
/// Error(kInvalidArgument) for a negative lr, eps or weight_decay, or a beta outside [0, 1).
class AdamOptions : public detail::AdamOptionsBase {
 public:
  explicit AdamOptions(double lr = 1e-3) : AdamOptionsBase(lr, 0.0, "Adam") {}
  AdamOptions& lr(double value) { set_lr(value); return *this; }
  AdamOptions& betas(std::pair<double, double> value) { set_betas(value); return *this; }
  AdamOptions& eps(double value) { set_eps(value); return *this; }
  AdamOptions& weight_decay(double value) { set_weight_decay(value); return *this; }
  AdamOptions& amsgrad(bool value) { amsgrad_ = value; return *this; }
  AdamOptions& maximize(bool value) { maximize_ = value; return *this; }
  double lr() const { return lr_; }
  std::pair<double, double> betas() const { return betas_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  bool amsgrad() const { return amsgrad_; }
  bool maximize() const { return maximize_; }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<AdamOptions>(*this); }
  std::string optimizer_name() const override { return "Adam"; }
};

/// AdamW's options: as Adam's, with decoupled weight decay defaulting to 1e-2.
class AdamWOptions : public detail::AdamOptionsBase {
 public:
  explicit AdamWOptions(double lr = 1e-3) : AdamOptionsBase(lr, 1e-2, "AdamW") {}
  AdamWOptions& lr(double value) { set_lr(value); return *this; }
  AdamWOptions& betas(std::pair<double, double> value) { set_betas(value); return *this; }
  AdamWOptions& eps(double value) { set_eps(value); return *this; }
  AdamWOptions& weight_decay(double value) { set_weight_decay(value); return *this; }
  AdamWOptions& amsgrad(bool value) { amsgrad_ = value; return *this; }
  AdamWOptions& maximize(bool value) { maximize_ = value; return *this; }
  double lr() const { return lr_; }
  std::pair<double, double> betas() const { return betas_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  bool amsgrad() const { return amsgrad_; }
  bool maximize() const { return maximize_; }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<AdamWOptions>(*this); }
  std::string optimizer_name() const override { return "AdamW"; }
};

class Adam : public Optimizer {
 public:
  /// Throws Error(kInvalidArgument) like add_param_group, or for invalid defaults.
  Adam(std::vector<Tensor> params, const AdamOptions& defaults = AdamOptions());
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = AdamOptions());
  void step() override;

 protected:
  std::vector<std::string> state_buffers(const OptimizerOptions& options) const override;
};

class AdamW : public Optimizer {
 public:
  /// Throws Error(kInvalidArgument) like add_param_group, or for invalid defaults.
  AdamW(std::vector<Tensor> params, const AdamWOptions& defaults = AdamWOptions());
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = AdamWOptions());
  void step() override;

 protected:
  std::vector<std::string> state_buffers(const OptimizerOptions& options) const override;
};

}  // namespace kiln::optim
