#pragma once
// Learning-rate schedulers over every parameter group of an optimizer, with PyTorch 1.13's
// (chainable, recursive) formulas so the values equal torch's get_lr() exactly. As in PyTorch,
// constructing a scheduler performs its first step (epoch 0), and step() is called after each
// optimizer.step(). state_dict() is JSON text for a checkpoint's metadata; the optimizer's own
// state dict holds the current lrs. To resume, construct the optimizer and the scheduler (which
// sets the lrs of epoch 0), then load the optimizer's state (restoring the lrs), then the
// scheduler's, as with PyTorch.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln/frontend/optim/optimizer.h"

namespace kiln::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one epoch and sets every group's lr. Throws Error(kInvalidArgument) when the
  /// optimizer's number of groups changed since the scheduler was made.
  void step();
  /// The lrs the last step set, one per group.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  int64_t last_epoch() const { return last_epoch_; }
  /// "StepLR", "CosineAnnealingLR", ...
  const std::string& name() const { return name_; }

  /// JSON: type, last_epoch, step count, base and last lrs, and the hyperparameters.
  std::string state_dict() const;
  /// Restores state_dict()'s state (the hyperparameters too). Nothing changes when it throws
  /// Error(kInvalidArgument): bad JSON, another scheduler type, or another number of groups.
  void load_state_dict(const std::string& state);

 protected:
  LRScheduler(Optimizer& optimizer, std::string name);
  /// The first step; each derived constructor calls it last, as PyTorch's base constructor.
  void initial_step();
  /// The lrs of the epoch last_epoch_ (already advanced), from the groups' current lrs.
  virtual std::vector<double> get_lr() = 0;
  virtual std::map<std::string, std::vector<double>> hyperparameters() const = 0;
  virtual void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) = 0;
  std::vector<double> group_lrs() const;

  Optimizer& optimizer_;
  std::string name_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
};

/// lr *= gamma every step_size epochs. Throws Error(kInvalidArgument) for step_size < 1 or a
/// negative or non-finite gamma.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::map<std::string, std::vector<double>> hyperparameters() const override;
  void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) override;

 private:
  int64_t step_size_;
  double gamma_;
};

/// lr *= gamma at each milestone epoch (a milestone listed k times multiplies by gamma^k).
/// Throws Error(kInvalidArgument) for a negative milestone or a negative or non-finite gamma.
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::map<std::string, std::vector<double>> hyperparameters() const override;
  void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) override;

 private:
  std::vector<int64_t> milestones_;  // sorted, with repeats
  double gamma_;
};

/// lr *= gamma every epoch. Throws Error(kInvalidArgument) for a negative or non-finite gamma.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lr() override;
  std::map<std::string, std::vector<double>> hyperparameters() const override;
  void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) override;

 private:
  double gamma_;
};

/// Cosine annealing from the base lr to eta_min over T_max epochs (and back, periodically), by
/// PyTorch's recursive formula. Throws Error(kInvalidArgument) for T_max < 1 or a negative or
/// non-finite eta_min.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;
  std::map<std::string, std::vector<double>> hyperparameters() const override;
  void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) override;

 private:
  int64_t t_max_;
  double eta_min_;
};

/// Linear warm-up (or decay): the factor on the base lr goes from start_factor to end_factor
/// over total_iters epochs, then stays. Throws Error(kInvalidArgument) unless
/// 0 < start_factor <= 1, 0 <= end_factor <= 1 and total_iters >= 1.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() override;
  std::map<std::string, std::vector<double>> hyperparameters() const override;
  void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) override;

 private:
  double start_factor_;
  double end_factor_;
  int64_t total_iters_;
};

enum class PlateauMode { kMin, kMax };
enum class ThresholdMode { kRel, kAbs };

/// ReduceLROnPlateau's options, with torch's defaults.
struct ReduceLROnPlateauOptions {
  ReduceLROnPlateauOptions& mode(PlateauMode value) { mode_ = value; return *this; }
  ReduceLROnPlateauOptions& factor(double value) { factor_ = value; return *this; }
  ReduceLROnPlateauOptions& patience(int64_t value) { patience_ = value; return *this; }
  ReduceLROnPlateauOptions& threshold(double value) { threshold_ = value; return *this; }
  ReduceLROnPlateauOptions& threshold_mode(ThresholdMode value) { threshold_mode_ = value; return *this; }
  ReduceLROnPlateauOptions& cooldown(int64_t value) { cooldown_ = value; return *this; }
  /// One floor for every group, or one per group.
  ReduceLROnPlateauOptions& min_lr(double value) { min_lrs_ = {value}; return *this; }
  ReduceLROnPlateauOptions& min_lr(std::vector<double> values) { min_lrs_ = std::move(values); return *this; }
  ReduceLROnPlateauOptions& eps(double value) { eps_ = value; return *this; }

  PlateauMode mode_ = PlateauMode::kMin;
  double factor_ = 0.1;
  int64_t patience_ = 10;
  double threshold_ = 1e-4;
  ThresholdMode threshold_mode_ = ThresholdMode::kRel;
  int64_t cooldown_ = 0;
  std::vector<double> min_lrs_{0.0};
  double eps_ = 1e-8;
};

/// Multiplies every group's lr by factor (not below its min_lr, and only when the change
/// exceeds eps) after more than patience epochs without improvement of the metric, then waits
/// cooldown epochs. Throws Error(kInvalidArgument) for factor outside [0, 1), a negative
/// patience, cooldown, threshold, min_lr or eps, or a min_lr list whose size is not the
/// number of groups.
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  /// One epoch with the metric's value (a NaN metric counts as no improvement).
  void step(double metric);
  /// The groups' lrs after the last step (their current lrs before the first).
  std::vector<double> get_last_lr() const;
  int64_t last_epoch() const { return last_epoch_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  double best() const { return best_; }
  const ReduceLROnPlateauOptions& options() const { return options_; }

  /// JSON: options, best, bad epochs, cooldown counter, last epoch, last lrs.
  std::string state_dict() const;
  /// Nothing changes when it throws Error(kInvalidArgument): bad JSON, another scheduler type,
  /// invalid options or another number of groups.
  void load_state_dict(const std::string& state);

 private:
  bool is_better(double a, double best) const;
  std::vector<double> get_last_lr_now() const;
  void validate(const ReduceLROnPlateauOptions& options) const;

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace kiln::optim
