#include "kiln/frontend/optim/sgd.h"

#include "kiln/runtime/tensor_ops.h"
#include "options_util.h"

namespace kiln::optim {

using detail::non_negative;

SGDOptions::SGDOptions(double lr) : lr_(non_negative("SGD", "lr", lr)) {}
SGDOptions& SGDOptions::lr(double value) { lr_ = non_negative("SGD", "lr", value); return *this; }
SGDOptions& SGDOptions::momentum(double value) { momentum_ = non_negative("SGD", "momentum", value); return *this; }
SGDOptions& SGDOptions::dampening(double value) {
  // PyTorch does not check dampening; a NaN or infinite one would poison every update.
  if (!std::isfinite(value)) raise(ErrorCode::kInvalidArgument, "SGD: invalid dampening {} (must be finite)", value);
  dampening_ = value;
  return *this;
}
SGDOptions& SGDOptions::weight_decay(double value) {
  weight_decay_ = non_negative("SGD", "weight_decay", value);
  return *this;
}
SGDOptions& SGDOptions::nesterov(bool value) { nesterov_ = value; return *this; }
SGDOptions& SGDOptions::maximize(bool value) { maximize_ = value; return *this; }

std::unique_ptr<OptimizerOptions> SGDOptions::clone() const { return std::make_unique<SGDOptions>(*this); }

std::map<std::string, double> SGDOptions::to_map() const {
  return {{"lr", lr_},
          {"momentum", momentum_},
          {"dampening", dampening_},
          {"weight_decay", weight_decay_},
          {"nesterov", nesterov_ ? 1.0 : 0.0},
          {"maximize", maximize_ ? 1.0 : 0.0}};
}

void SGDOptions::from_map(const std::map<std::string, double>& values) {
  detail::only_known("SGD", values, {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"});
  SGDOptions o(detail::option("SGD", values, "lr"));
  o.momentum(detail::option("SGD", values, "momentum"))
      .dampening(detail::option("SGD", values, "dampening"))
      .weight_decay(detail::option("SGD", values, "weight_decay"))
      .nesterov(detail::option("SGD", values, "nesterov") != 0)
      .maximize(detail::option("SGD", values, "maximize") != 0);
  o.validate();
  *this = o;
}

void SGDOptions::validate() const {
  non_negative("SGD", "lr", lr_);
  non_negative("SGD", "momentum", momentum_);
  non_negative("SGD", "weight_decay", weight_decay_);
  if (!std::isfinite(dampening_)) raise(ErrorCode::kInvalidArgument, "SGD: invalid dampening {} (must be finite)", dampening_);
  if (nesterov_ && (momentum_ <= 0 || dampening_ != 0))
    raise(ErrorCode::kInvalidArgument,
          "SGD: nesterov momentum requires momentum > 0 and dampening = 0 (got momentum {}, dampening {})", momentum_,
          dampening_);
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults)
    : SGD(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults)
    : Optimizer("SGD", std::move(groups), defaults.clone()) {}

std::vector<std::string> SGD::state_buffers(const OptimizerOptions& options) const {
  if (static_cast<const SGDOptions&>(options).momentum() != 0) return {"momentum_buffer"};
  return {};
}

void SGD::step() {
  for_each_update<SGDOptions>([](const SGDOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) {
    Tensor d_p = o.maximize() ? -grad : grad;
    if (o.weight_decay() != 0) d_p = d_p + param * o.weight_decay();
    if (o.momentum() != 0) {
      auto it = state.buffers.find("momentum_buffer");
      Tensor buf;
      if (it == state.buffers.end()) {
        buf = d_p.clone();  // the first step: the gradient itself, without dampening
      } else {
        buf = it->second * o.momentum();
        buf = 1 - o.dampening() == 1 ? buf + d_p : buf + d_p * (1 - o.dampening());
      }
      state.buffers["momentum_buffer"] = buf;
      d_p = o.nesterov() ? d_p + buf * o.momentum() : buf;
    } else {
      state.buffers.erase("momentum_buffer");  // momentum switched off: the state matches the options
    }
    Tensor(param).copy_from(param - d_p * o.lr());
  });
}

}  // namespace kiln::optim
