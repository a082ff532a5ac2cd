#pragma once
// optim::Optimizer: parameter groups with their own options, per-parameter state, and a state
// dict that fits a Checkpoint (named tensors plus JSON metadata), in libtorch's shape.
//
// Updates run under NoGradGuard with eager tensor ops on each parameter's device, and are
// written into the parameters with copy_from: parameters keep their identity and storage.
// Gradients are never written in place (they may share storage); zero_grad(false) and the
// clip functions replace them with fresh tensors.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/frontend/checkpoint.h"
#include "kiln/runtime/autograd.h"
#include "kiln/runtime/tensor.h"

namespace kiln::optim {

/// The options of one optimizer type (SGDOptions, AdamOptions, AdamWOptions).
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  /// The optimizer these options belong to ("SGD", "Adam", "AdamW").
  virtual std::string optimizer_name() const = 0;
  virtual double get_lr() const = 0;
  /// Throws Error(kInvalidArgument) for a negative or non-finite lr.
  virtual void set_lr(double lr) = 0;
  /// Every option by name (bools as 0/1, betas as beta1/beta2): the state dict's metadata.
  virtual std::map<std::string, double> to_map() const = 0;
  /// Sets the options from to_map()'s names and validates them. Throws Error(kInvalidArgument)
  /// naming a missing or unknown option or a bad value.
  virtual void from_map(const std::map<std::string, double>& values) = 0;
  /// Checks every option and their combinations; throws Error(kInvalidArgument) saying which
  /// option is bad and why ("SGD: nesterov momentum requires momentum > 0 and dampening = 0").
  virtual void validate() const = 0;
};

/// Parameters that share options. A group made without options takes the optimizer's defaults
/// when it is added.
class ParamGroup {
 public:
  explicit ParamGroup(std::vector<Tensor> params);
  ParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options);
  /// ParamGroup({w}, SGDOptions(0.01)).
  ParamGroup(std::vector<Tensor> params, const OptimizerOptions& options);
  ParamGroup(const ParamGroup& other);
  ParamGroup& operator=(const ParamGroup& other);
  ParamGroup(ParamGroup&&) noexcept = default;
  ParamGroup& operator=(ParamGroup&&) noexcept = default;

  const std::vector<Tensor>& params() const { return params_; }
  bool has_options() const { return options_ != nullptr; }
  /// Throws Error(kInvalidArgument) when the group has no options yet.
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }

 private:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
};

/// The state of one parameter: its step count (Adam) and named buffers of its shape
/// ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq").
struct ParamState {
  int64_t step = 0;
  std::map<std::string, Tensor> buffers;
};

/// An optimizer's state, as PyTorch's state_dict: tensors named "state.<index>.<buffer>" where
/// index counts parameters across the groups in order, plus JSON metadata (optimizer type,
/// each group's options, parameter indices and shapes, step counts).
struct OptimizerStateDict {
  std::map<std::string, Tensor> tensors;
  std::string metadata;

  /// Adds the tensors as "<prefix>.<name>" and the metadata as metadata[prefix] to checkpoint.
  void save_to(Checkpoint& checkpoint, const std::string& prefix = "optimizer") const;
  /// The state save_to stored under prefix. Throws Error(kInvalidArgument) when checkpoint has
  /// no metadata under prefix.
  static OptimizerStateDict load_from(const Checkpoint& checkpoint, const std::string& prefix = "optimizer");
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter that requires grad and has a gradient; the others get no
  /// update and no state. Throws Error(kInvalidArgument) when a group's options are invalid or
  /// a gradient's shape or dtype differs from its parameter's.
  virtual void step() = 0;
  /// set_to_none: every gradient becomes undefined; otherwise each defined gradient is replaced
  /// by fresh zeros (never zeroed in place).
  void zero_grad(bool set_to_none = true);
  /// Adds a group (taking the defaults when it has no options). Throws Error(kInvalidArgument)
  /// for an empty or undefined parameter, a non-floating or non-leaf one, a parameter already in
  /// this optimizer, options of another optimizer type, or invalid options.
  void add_param_group(const ParamGroup& group);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  /// Every parameter, group by group (the indices of the state dict).
  std::vector<Tensor> parameters() const;
  /// Per-parameter state keyed by the parameter's index across groups.
  const std::map<size_t, ParamState>& state() const { return state_; }
  const OptimizerOptions& defaults() const { return *defaults_; }
  /// "SGD", "Adam", "AdamW".
  const std::string& name() const { return name_; }

  /// The state (buffers are shared, not copied: the optimizer never writes them in place).
  OptimizerStateDict state_dict() const;
  /// Restores the options of every group and the per-parameter state. Nothing changes when it
  /// throws Error(kInvalidArgument), which it does for bad metadata, another optimizer type, a
  /// different number of groups or parameters, parameter shapes that differ (all listed), or
  /// state tensors that are missing, unexpected or of the wrong shape or dtype.
  void load_state_dict(const OptimizerStateDict& state_dict);

 protected:
  Optimizer(std::string name, std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults);

  /// The buffers a parameter's state must hold with these options (checked on load).
  virtual std::vector<std::string> state_buffers(const OptimizerOptions& options) const = 0;

  /// Calls fn(options, param, grad, state) for every parameter to update, with state.step
  /// already counting this step, after validating each group's options and the gradient's shape
  /// and dtype; runs under NoGradGuard.
  template <class Options, class Fn>
  void for_each_update(Fn&& fn);

  std::string name_;
  std::unique_ptr<OptimizerOptions> defaults_;
  std::vector<ParamGroup> groups_;
  std::map<size_t, ParamState> state_;

 private:
  void check_group(const ParamGroup& group) const;
  /// The gradient of param when it gets an update (requires grad and a defined grad), else an
  /// undefined tensor; throws when the gradient does not fit the parameter.
  static Tensor update_grad(const Tensor& param, size_t index);
  /// Validates every group's options (they may have been changed since they were added).
  void begin_step() const;
};

template <class Options, class Fn>
void Optimizer::for_each_update(Fn&& fn) {
  begin_step();
  NoGradGuard no_grad;
  size_t index = 0;
  for (ParamGroup& group : groups_) {
    const auto& options = static_cast<const Options&>(group.options());
    for (const Tensor& param : group.params()) {
      Tensor grad = update_grad(param, index);
      if (grad.defined()) {
        ParamState& state = state_[index];
        ++state.step;
        fn(options, param, grad, state);
      }
      ++index;
    }
  }
}

}  // namespace kiln::optim
