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

/// The chainable setters and the getters of Adam's and AdamW's options (Self: the options class).
template <class Self>
class AdamOptionsFor : public AdamOptionsBase {
 public:
  Self& lr(double value) { set_lr(value); return self(); }
  Self& betas(std::pair<double, double> value) { set_betas(value); return self(); }
  Self& eps(double value) { set_eps(value); return self(); }
  Self& weight_decay(double value) { set_weight_decay(value); return self(); }
  Self& amsgrad(bool value) { amsgrad_ = value; return self(); }
  Self& maximize(bool value) { maximize_ = value; return self(); }
  double lr() const { return lr_; }
  std::pair<double, double> betas() const { return betas_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  bool amsgrad() const { return amsgrad_; }
  bool maximize() const { return maximize_; }
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<Self>(static_cast<const Self&>(*this));
  }

 protected:
  using AdamOptionsBase::AdamOptionsBase;

 private:
  Self& self() { return static_cast<Self&>(*this); }
};
}  // namespace detail

/// Adam's options: AdamOptions(1e-3).betas({0.9, 0.99}).amsgrad(true). Setters throw
/// Error(kInvalidArgument) for a negative lr, eps or weight_decay, or a beta outside [0, 1).
class AdamOptions : public detail::AdamOptionsFor<AdamOptions> {
 public:
  explicit AdamOptions(double lr = 1e-3) : AdamOptionsFor(lr, 0.0, "Adam") {}
  std::string optimizer_name() const override { return "Adam"; }
};

/// AdamW's options: as Adam's, with decoupled weight decay defaulting to 1e-2.
class AdamWOptions : public detail::AdamOptionsFor<AdamWOptions> {
 public:
  explicit AdamWOptions(double lr = 1e-3) : AdamOptionsFor(lr, 1e-2, "AdamW") {}
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
