#include "kiln/frontend/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>

namespace kiln::optim {

using json = nlohmann::json;

namespace {

void check_gamma(const char* who, double gamma) {
  if (!std::isfinite(gamma) || gamma < 0)
    raise(ErrorCode::kInvalidArgument, "{}: invalid gamma {} (must be finite and >= 0)", who, gamma);
}

double one(const std::map<std::string, std::vector<double>>& values, const std::string& key, const std::string& who) {
  auto it = values.find(key);
  if (it == values.end() || it->second.size() != 1)
    raise(ErrorCode::kInvalidArgument, "{} state: '{}' is missing or not one number", who, key);
  return it->second[0];
}

json parse(const std::string& text, const std::string& who) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{} load_state_dict: state is not valid JSON: {}", who, e.what());
  }
}

}  // namespace

// ---- LRScheduler ----

LRScheduler::LRScheduler(Optimizer& optimizer, std::string name) : optimizer_(optimizer), name_(std::move(name)) {
  base_lrs_ = group_lrs();
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> lrs;
  for (const ParamGroup& group : optimizer_.param_groups()) lrs.push_back(group.options().get_lr());
  return lrs;
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  if (optimizer_.param_groups().size() != base_lrs_.size())
    raise(ErrorCode::kInvalidArgument, "{}: the optimizer has {} parameter groups, the scheduler was made for {}", name_,
          optimizer_.param_groups().size(), base_lrs_.size());
  ++step_count_;
  ++last_epoch_;
  std::vector<double> lrs = get_lr();
  for (size_t i = 0; i < lrs.size(); ++i) optimizer_.param_groups()[i].options().set_lr(lrs[i]);
  last_lr_ = group_lrs();
}

std::string LRScheduler::state_dict() const {
  json j;
  j["scheduler"] = name_;
  j["last_epoch"] = last_epoch_;
  j["step_count"] = step_count_;
  j["base_lrs"] = base_lrs_;
  j["last_lr"] = last_lr_;
  j["hyperparameters"] = hyperparameters();
  return j.dump();
}

void LRScheduler::load_state_dict(const std::string& state) {
  json j = parse(state, name_);
  std::map<std::string, std::vector<double>> saved_hyper;
  int64_t last_epoch = 0, step_count = 0;
  std::vector<double> base_lrs, last_lr;
  try {
    std::string type = j.at("scheduler").get<std::string>();
    if (type != name_) raise(ErrorCode::kInvalidArgument, "{} load_state_dict: the state is of a {}", name_, type);
    last_epoch = j.at("last_epoch").get<int64_t>();
    step_count = j.at("step_count").get<int64_t>();
    base_lrs = j.at("base_lrs").get<std::vector<double>>();
    last_lr = j.at("last_lr").get<std::vector<double>>();
    saved_hyper = j.at("hyperparameters").get<std::map<std::string, std::vector<double>>>();
  } catch (const json::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{} load_state_dict: malformed state: {}", name_, e.what());
  }
  if (base_lrs.size() != optimizer_.param_groups().size() || last_lr.size() != base_lrs.size())
    raise(ErrorCode::kInvalidArgument, "{} load_state_dict: the state has {} parameter groups, the optimizer {}", name_,
          base_lrs.size(), optimizer_.param_groups().size());
  auto previous = hyperparameters();
  try {
    set_hyperparameters(saved_hyper);
  } catch (...) {
    set_hyperparameters(previous);
    throw;
  }
  last_epoch_ = last_epoch;
  step_count_ = step_count;
  base_lrs_ = std::move(base_lrs);
  last_lr_ = std::move(last_lr);
}

// ---- StepLR ----

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  set_hyperparameters(hyperparameters());
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

std::map<std::string, std::vector<double>> StepLR::hyperparameters() const {
  return {{"step_size", {static_cast<double>(step_size_)}}, {"gamma", {gamma_}}};
}

void StepLR::set_hyperparameters(const std::map<std::string, std::vector<double>>& values) {
  double step_size = one(values, "step_size", name_), gamma = one(values, "gamma", name_);
  if (!(step_size >= 1) || step_size != std::floor(step_size))
    raise(ErrorCode::kInvalidArgument, "StepLR: invalid step_size {} (must be an integer >= 1)", step_size);
  check_gamma("StepLR", gamma);
  step_size_ = static_cast<int64_t>(step_size);
  gamma_ = gamma;
}

// ---- MultiStepLR ----

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer, "MultiStepLR"), milestones_(std::move(milestones)), gamma_(gamma) {
  set_hyperparameters(hyperparameters());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (count == 0) return lrs;
  double factor = std::pow(gamma_, static_cast<double>(count));  // Python's gamma ** count
  for (double& lr : lrs) lr *= factor;
  return lrs;
}

std::map<std::string, std::vector<double>> MultiStepLR::hyperparameters() const {
  return {{"milestones", std::vector<double>(milestones_.begin(), milestones_.end())}, {"gamma", {gamma_}}};
}

void MultiStepLR::set_hyperparameters(const std::map<std::string, std::vector<double>>& values) {
  auto it = values.find("milestones");
  if (it == values.end()) raise(ErrorCode::kInvalidArgument, "MultiStepLR state: 'milestones' is missing");
  std::vector<int64_t> milestones;
  for (double m : it->second) {
    if (!(m >= 0) || m != std::floor(m))
      raise(ErrorCode::kInvalidArgument, "MultiStepLR: invalid milestone {} (must be an integer >= 0)", m);
    milestones.push_back(static_cast<int64_t>(m));
  }
  double gamma = one(values, "gamma", name_);
  check_gamma("MultiStepLR", gamma);
  std::sort(milestones.begin(), milestones.end());
  milestones_ = std::move(milestones);
  gamma_ = gamma;
}

// ---- ExponentialLR ----

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer, "ExponentialLR"), gamma_(gamma) {
  set_hyperparameters(hyperparameters());
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

std::map<std::string, std::vector<double>> ExponentialLR::hyperparameters() const { return {{"gamma", {gamma_}}}; }

void ExponentialLR::set_hyperparameters(const std::map<std::string, std::vector<double>>& values) {
  double gamma = one(values, "gamma", name_);
  check_gamma("ExponentialLR", gamma);
  gamma_ = gamma;
}

// ---- CosineAnnealingLR ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), t_max_(T_max), eta_min_(eta_min) {
  set_hyperparameters(hyperparameters());
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  // torch 1.13's recursive form, term by term in the same order (Python floats are doubles).
  constexpr double pi = std::numbers::pi;
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  const double t_max = static_cast<double>(t_max_);
  const double epoch = static_cast<double>(last_epoch_);
  // Python's % takes the sign of the divisor: (last_epoch - 1 - T_max) % (2 T_max) == 0.
  int64_t r = (last_epoch_ - 1 - t_max_) % (2 * t_max_);
  if (r < 0) r += 2 * t_max_;
  for (size_t i = 0; i < lrs.size(); ++i) {
    if (r == 0) {
      lrs[i] = lrs[i] + (base_lrs_[i] - eta_min_) * (1 - std::cos(pi / t_max)) / 2;
    } else {
      lrs[i] = (1 + std::cos(pi * epoch / t_max)) / (1 + std::cos(pi * (epoch - 1) / t_max)) * (lrs[i] - eta_min_) +
               eta_min_;
    }
  }
  return lrs;
}

std::map<std::string, std::vector<double>> CosineAnnealingLR::hyperparameters() const {
  return {{"T_max", {static_cast<double>(t_max_)}}, {"eta_min", {eta_min_}}};
}

void CosineAnnealingLR::set_hyperparameters(const std::map<std::string, std::vector<double>>& values) {
  double t_max = one(values, "T_max", name_), eta_min = one(values, "eta_min", name_);
  if (!(t_max >= 1) || t_max != std::floor(t_max))
    raise(ErrorCode::kInvalidArgument, "CosineAnnealingLR: invalid T_max {} (must be an integer >= 1)", t_max);
  if (!std::isfinite(eta_min) || eta_min < 0)
    raise(ErrorCode::kInvalidArgument, "CosineAnnealingLR: invalid eta_min {} (must be finite and >= 0)", eta_min);
  t_max_ = static_cast<int64_t>(t_max);
  eta_min_ = eta_min;
}

// ---- LinearLR ----

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(optimizer, "LinearLR"), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  set_hyperparameters(hyperparameters());
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr *= start_factor_;
    return lrs;
  }
  if (last_epoch_ > total_iters_) return lrs;
  const double factor =
      1. + (end_factor_ - start_factor_) /
               (static_cast<double>(total_iters_) * start_factor_ +
                static_cast<double>(last_epoch_ - 1) * (end_factor_ - start_factor_));
  for (double& lr : lrs) lr *= factor;
  return lrs;
}

std::map<std::string, std::vector<double>> LinearLR::hyperparameters() const {
  return {{"start_factor", {start_factor_}},
          {"end_factor", {end_factor_}},
          {"total_iters", {static_cast<double>(total_iters_)}}};
}

void LinearLR::set_hyperparameters(const std::map<std::string, std::vector<double>>& values) {
  double start = one(values, "start_factor", name_), end = one(values, "end_factor", name_),
         total = one(values, "total_iters", name_);
  if (!(start > 0 && start <= 1))
    raise(ErrorCode::kInvalidArgument, "LinearLR: invalid start_factor {} (must be in (0, 1])", start);
  if (!(end >= 0 && end <= 1)) raise(ErrorCode::kInvalidArgument, "LinearLR: invalid end_factor {} (must be in [0, 1])", end);
  if (!(total >= 1) || total != std::floor(total))
    raise(ErrorCode::kInvalidArgument, "LinearLR: invalid total_iters {} (must be an integer >= 1)", total);
  start_factor_ = start;
  end_factor_ = end;
  total_iters_ = static_cast<int64_t>(total);
}

// ---- ReduceLROnPlateau ----

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options)
    : optimizer_(optimizer), options_(std::move(options)) {
  validate(options_);
  if (options_.min_lrs_.size() == 1) options_.min_lrs_.resize(optimizer_.param_groups().size(), options_.min_lrs_[0]);
  best_ = options_.mode_ == PlateauMode::kMin ? std::numeric_limits<double>::infinity()
                                              : -std::numeric_limits<double>::infinity();
}

void ReduceLROnPlateau::validate(const ReduceLROnPlateauOptions& o) const {
  auto bad = [](const char* what, double value, const char* rule) {
    raise(ErrorCode::kInvalidArgument, "ReduceLROnPlateau: invalid {} {} ({})", what, value, rule);
  };
  if (!(o.factor_ >= 0 && o.factor_ < 1)) bad("factor", o.factor_, "must be in [0, 1)");
  if (o.patience_ < 0) bad("patience", static_cast<double>(o.patience_), "must be >= 0");
  if (o.cooldown_ < 0) bad("cooldown", static_cast<double>(o.cooldown_), "must be >= 0");
  if (!(o.threshold_ >= 0) || !std::isfinite(o.threshold_)) bad("threshold", o.threshold_, "must be finite and >= 0");
  if (!(o.eps_ >= 0) || !std::isfinite(o.eps_)) bad("eps", o.eps_, "must be finite and >= 0");
  for (double m : o.min_lrs_)
    if (!(m >= 0) || !std::isfinite(m)) bad("min_lr", m, "must be finite and >= 0");
  size_t groups = optimizer_.param_groups().size();
  if (o.min_lrs_.size() != 1 && o.min_lrs_.size() != groups)
    raise(ErrorCode::kInvalidArgument, "ReduceLROnPlateau: expected {} min_lrs (one per parameter group), got {}", groups,
          o.min_lrs_.size());
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const double threshold = options_.threshold_;
  if (options_.mode_ == PlateauMode::kMin) {
    return options_.threshold_mode_ == ThresholdMode::kRel ? a < best * (1. - threshold) : a < best - threshold;
  }
  return options_.threshold_mode_ == ThresholdMode::kRel ? a > best * (threshold + 1.) : a > best + threshold;
}

void ReduceLROnPlateau::step(double metric) {
  if (options_.min_lrs_.size() != optimizer_.param_groups().size())
    raise(ErrorCode::kInvalidArgument, "ReduceLROnPlateau: the optimizer has {} parameter groups, the scheduler was made for {}",
          optimizer_.param_groups().size(), options_.min_lrs_.size());
  last_epoch_ += 1;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (cooldown_counter_ > 0) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience_) {
    auto& groups = optimizer_.param_groups();
    for (size_t i = 0; i < groups.size(); ++i) {
      double old_lr = groups[i].options().get_lr();
      double new_lr = std::max(old_lr * options_.factor_, options_.min_lrs_[i]);
      if (old_lr - new_lr > options_.eps_) groups[i].options().set_lr(new_lr);
    }
    cooldown_counter_ = options_.cooldown_;
    num_bad_epochs_ = 0;
  }
  last_lr_ = get_last_lr_now();
}

std::vector<double> ReduceLROnPlateau::get_last_lr() const {
  if (!last_lr_.empty()) return last_lr_;
  return get_last_lr_now();
}

std::vector<double> ReduceLROnPlateau::get_last_lr_now() const {
  std::vector<double> lrs;
  for (const ParamGroup& group : optimizer_.param_groups()) lrs.push_back(group.options().get_lr());
  return lrs;
}

std::string ReduceLROnPlateau::state_dict() const {
  json j;
  j["scheduler"] = "ReduceLROnPlateau";
  j["mode"] = options_.mode_ == PlateauMode::kMin ? "min" : "max";
  j["threshold_mode"] = options_.threshold_mode_ == ThresholdMode::kRel ? "rel" : "abs";
  j["factor"] = options_.factor_;
  j["patience"] = options_.patience_;
  j["threshold"] = options_.threshold_;
  j["cooldown"] = options_.cooldown_;
  j["min_lrs"] = options_.min_lrs_;
  j["eps"] = options_.eps_;
  // JSON has no infinity: the initial best is stored as null.
  j["best"] = std::isinf(best_) ? json(nullptr) : json(best_);
  j["num_bad_epochs"] = num_bad_epochs_;
  j["cooldown_counter"] = cooldown_counter_;
  j["last_epoch"] = last_epoch_;
  j["last_lr"] = last_lr_;
  return j.dump();
}

void ReduceLROnPlateau::load_state_dict(const std::string& state) {
  json j = parse(state, "ReduceLROnPlateau");
  ReduceLROnPlateauOptions o;
  double best = 0;
  int64_t bad = 0, cooldown_counter = 0, last_epoch = 0;
  std::vector<double> last_lr;
  try {
    std::string type = j.at("scheduler").get<std::string>();
    if (type != "ReduceLROnPlateau")
      raise(ErrorCode::kInvalidArgument, "ReduceLROnPlateau load_state_dict: the state is of a {}", type);
    std::string mode = j.at("mode").get<std::string>(), threshold_mode = j.at("threshold_mode").get<std::string>();
    if (mode != "min" && mode != "max") raise(ErrorCode::kInvalidArgument, "ReduceLROnPlateau: mode '{}' is unknown", mode);
    if (threshold_mode != "rel" && threshold_mode != "abs")
      raise(ErrorCode::kInvalidArgument, "ReduceLROnPlateau: threshold mode '{}' is unknown", threshold_mode);
    o.mode(mode == "min" ? PlateauMode::kMin : PlateauMode::kMax)
        .threshold_mode(threshold_mode == "rel" ? ThresholdMode::kRel : ThresholdMode::kAbs)
        .factor(j.at("factor").get<double>())
        .patience(j.at("patience").get<int64_t>())
        .threshold(j.at("threshold").get<double>())
        .cooldown(j.at("cooldown").get<int64_t>())
        .min_lr(j.at("min_lrs").get<std::vector<double>>())
        .eps(j.at("eps").get<double>());
    const json& b = j.at("best");
    best = b.is_null() ? (o.mode_ == PlateauMode::kMin ? std::numeric_limits<double>::infinity()
                                                       : -std::numeric_limits<double>::infinity())
                       : b.get<double>();
    bad = j.at("num_bad_epochs").get<int64_t>();
    cooldown_counter = j.at("cooldown_counter").get<int64_t>();
    last_epoch = j.at("last_epoch").get<int64_t>();
    last_lr = j.at("last_lr").get<std::vector<double>>();
  } catch (const json::exception& e) {
    raise(ErrorCode::kInvalidArgument, "ReduceLROnPlateau load_state_dict: malformed state: {}", e.what());
  }
  validate(o);
  if (o.min_lrs_.size() != optimizer_.param_groups().size() ||
      (!last_lr.empty() && last_lr.size() != optimizer_.param_groups().size()))
    raise(ErrorCode::kInvalidArgument, "ReduceLROnPlateau load_state_dict: the state has {} parameter groups, the optimizer {}",
          o.min_lrs_.size(), optimizer_.param_groups().size());
  options_ = std::move(o);
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown_counter;
  last_epoch_ = last_epoch;
  last_lr_ = std::move(last_lr);
}

}  // namespace kiln::optim
