#pragma once
// optim::SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum, weight
// decay and maximize, exactly as torch.optim.SGD (1.13, single-tensor implementation):
//   d_p = maximize ? -grad : grad;  d_p += weight_decay * p
//   buf = first step ? d_p : momentum * buf + (1 - dampening) * d_p   (when momentum != 0)
//   d_p = nesterov ? d_p + momentum * buf : buf;  p -= lr * d_p

#include <memory>
#include <vector>

#include "kiln/frontend/optim/optimizer.h"

namespace kiln::optim {

/// SGD's options with chainable setters: SGDOptions(0.1).momentum(0.9). Each setter throws
/// Error(kInvalidArgument) for a negative or non-finite value; the nesterov rule (momentum > 0
/// and dampening = 0) is checked by validate(), when the optimizer gets the options.
class SGDOptions : public OptimizerOptions {
 public:
  explicit SGDOptions(double lr);

  SGDOptions& lr(double value);
  SGDOptions& momentum(double value);
  SGDOptions& dampening(double value);
  SGDOptions& weight_decay(double value);
  SGDOptions& nesterov(bool value);
  SGDOptions& maximize(bool value);
  double lr() const { return lr_; }
  double momentum() const { return momentum_; }
  double dampening() const { return dampening_; }
  double weight_decay() const { return weight_decay_; }
  bool nesterov() const { return nesterov_; }
  bool maximize() const { return maximize_; }

  std::unique_ptr<OptimizerOptions> clone() const override;
  std::string optimizer_name() const override { return "SGD"; }
  double get_lr() const override { return lr_; }
  void set_lr(double value) override { lr(value); }
  std::map<std::string, double> to_map() const override;
  void from_map(const std::map<std::string, double>& values) override;
  void validate() const override;

 private:
  double lr_;
  double momentum_ = 0;
  double dampening_ = 0;
  double weight_decay_ = 0;
  bool nesterov_ = false;
  bool maximize_ = false;
};

class SGD : public Optimizer {
 public:
  /// Throws Error(kInvalidArgument) like add_param_group, or for invalid defaults.
  SGD(std::vector<Tensor> params, const SGDOptions& defaults);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults);
  void step() override;

 protected:
  std::vector<std::string> state_buffers(const OptimizerOptions& options) const override;
};

}  // namespace kiln::optim
