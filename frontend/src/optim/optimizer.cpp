#include "kiln/frontend/optim/optimizer.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "kiln/runtime/tensor_ops.h"

namespace kiln::optim {

using json = nlohmann::json;

// ---- ParamGroup ----

ParamGroup::ParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}
ParamGroup::ParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options)
    : params_(std::move(params)), options_(std::move(options)) {}
ParamGroup::ParamGroup(std::vector<Tensor> params, const OptimizerOptions& options)
    : params_(std::move(params)), options_(options.clone()) {}
ParamGroup::ParamGroup(const ParamGroup& other)
    : params_(other.params_), options_(other.options_ ? other.options_->clone() : nullptr) {}
ParamGroup& ParamGroup::operator=(const ParamGroup& other) {
  if (this != &other) {
    params_ = other.params_;
    options_ = other.options_ ? other.options_->clone() : nullptr;
  }
  return *this;
}

OptimizerOptions& ParamGroup::options() {
  if (!options_) raise(ErrorCode::kInvalidArgument, "optim: parameter group has no options (add it to an optimizer first)");
  return *options_;
}
const OptimizerOptions& ParamGroup::options() const {
  if (!options_) raise(ErrorCode::kInvalidArgument, "optim: parameter group has no options (add it to an optimizer first)");
  return *options_;
}

// ---- OptimizerStateDict ----

void OptimizerStateDict::save_to(Checkpoint& checkpoint, const std::string& prefix) const {
  for (const auto& [name, tensor] : tensors) checkpoint.tensors[prefix + "." + name] = tensor;
  checkpoint.metadata[prefix] = metadata;
}

OptimizerStateDict OptimizerStateDict::load_from(const Checkpoint& checkpoint, const std::string& prefix) {
  auto it = checkpoint.metadata.find(prefix);
  if (it == checkpoint.metadata.end())
    raise(ErrorCode::kInvalidArgument, "checkpoint has no optimizer state under '{}'", prefix);
  OptimizerStateDict result;
  result.metadata = it->second;
  const std::string start = prefix + ".state.";
  for (auto t = checkpoint.tensors.lower_bound(start); t != checkpoint.tensors.end() && t->first.starts_with(start); ++t)
    result.tensors[t->first.substr(prefix.size() + 1)] = t->second;
  return result;
}

// ---- Optimizer ----

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults)
    : name_(std::move(name)), defaults_(std::move(defaults)) {
  defaults_->validate();
  if (groups.empty()) raise(ErrorCode::kInvalidArgument, "{}: optimizer got an empty parameter list", name_);
  for (const ParamGroup& group : groups) add_param_group(group);
}

void Optimizer::check_group(const ParamGroup& group) const {
  if (group.params().empty()) raise(ErrorCode::kInvalidArgument, "{}: parameter group {} is empty", name_, groups_.size());
  if (group.has_options()) {
    if (group.options().optimizer_name() != name_)
      raise(ErrorCode::kInvalidArgument, "{}: parameter group {} has {} options", name_, groups_.size(),
            group.options().optimizer_name());
    group.options().validate();
  }
  // A parameter is identified by its memory: storage, offset and shape.
  auto key = [](const Tensor& t) { return std::tuple(t.storage().get(), t.offset(), t.shape()); };
  std::set<std::tuple<Storage*, int64_t, Dims>> seen;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params()) seen.insert(key(p));
  for (size_t i = 0; i < group.params().size(); ++i) {
    const Tensor& p = group.params()[i];
    auto where = [&] { return fmt::format("{}: parameter {} of group {}", name_, i, groups_.size()); };
    if (!p.defined()) raise(ErrorCode::kInvalidArgument, "{} is undefined", where());
    if (!is_floating(p.dtype()))
      raise(ErrorCode::kInvalidArgument, "{} has dtype {}; only floating tensors can be optimized", where(),
            to_string(p.dtype()));
    if (!p.is_leaf()) raise(ErrorCode::kInvalidArgument, "{} is not a leaf tensor (it was computed by {})", where(), p.grad_fn_name());
    if (!p.is_contiguous()) raise(ErrorCode::kInvalidArgument, "{} is not contiguous", where());
    if (!seen.insert(key(p)).second)
      raise(ErrorCode::kInvalidArgument, "{} appears more than once in this optimizer", where());
  }
}

void Optimizer::add_param_group(const ParamGroup& group) {
  check_group(group);
  ParamGroup added = group;
  if (!added.has_options()) added.set_options(defaults_->clone());
  groups_.push_back(std::move(added));
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> all;
  for (const ParamGroup& group : groups_) all.insert(all.end(), group.params().begin(), group.params().end());
  return all;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (const ParamGroup& group : groups_) {
    for (Tensor param : group.params()) {
      Tensor grad = param.grad();
      if (!grad.defined()) continue;
      param.set_grad(set_to_none ? Tensor() : zeros_like(grad.detach()));
    }
  }
}

void Optimizer::begin_step() const {
  for (const ParamGroup& group : groups_) group.options().validate();
}

Tensor Optimizer::update_grad(const Tensor& param, size_t index) {
  if (!param.requires_grad()) return {};
  Tensor grad = param.grad();
  if (!grad.defined()) return {};
  if (grad.shape() != param.shape() || grad.dtype() != param.dtype())
    raise(ErrorCode::kInvalidArgument, "optim: parameter {} is {} {} but its gradient is {} {}", index,
          to_string(param.dtype()), to_string(param.shape()), to_string(grad.dtype()), to_string(grad.shape()));
  return grad.detach();
}

// ---- State dict ----

OptimizerStateDict Optimizer::state_dict() const {
  OptimizerStateDict result;
  json meta;
  meta["optimizer"] = name_;
  meta["format"] = 1;
  json groups = json::array();
  size_t index = 0;
  for (const ParamGroup& group : groups_) {
    json g;
    g["options"] = group.options().to_map();
    json indices = json::array(), shapes = json::array();
    for (const Tensor& p : group.params()) {
      indices.push_back(index++);
      shapes.push_back(p.shape());
    }
    g["params"] = indices;
    g["shapes"] = shapes;
    groups.push_back(g);
  }
  meta["param_groups"] = groups;
  json state = json::object();
  for (const auto& [i, s] : state_) {
    json entry;
    entry["step"] = s.step;
    json names = json::array();
    for (const auto& [name, tensor] : s.buffers) {
      names.push_back(name);
      result.tensors[fmt::format("state.{}.{}", i, name)] = tensor;
    }
    entry["buffers"] = names;
    state[std::to_string(i)] = entry;
  }
  meta["state"] = state;
  result.metadata = meta.dump();
  return result;
}

void Optimizer::load_state_dict(const OptimizerStateDict& state_dict) {
  const std::string where = name_ + " load_state_dict";
  json meta;
  try {
    meta = json::parse(state_dict.metadata);
  } catch (const json::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{}: metadata is not valid JSON: {}", where, e.what());
  }
  std::vector<std::unique_ptr<OptimizerOptions>> options;
  std::map<size_t, ParamState> state;
  std::vector<Tensor> params = parameters();
  try {
    std::string type = meta.at("optimizer").get<std::string>();
    if (type != name_) raise(ErrorCode::kInvalidArgument, "{}: the state is of a {} optimizer, not {}", where, type, name_);
    const json& groups = meta.at("param_groups");
    if (groups.size() != groups_.size())
      raise(ErrorCode::kInvalidArgument, "{}: the state has {} parameter groups, this optimizer {}", where, groups.size(),
            groups_.size());
    std::vector<std::string> mismatches;
    size_t index = 0;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const json& saved = groups[g];
      const auto& ours = groups_[g].params();
      auto shapes = saved.at("shapes").get<std::vector<Dims>>();
      if (shapes.size() != ours.size())
        raise(ErrorCode::kInvalidArgument, "{}: group {} has {} parameters in the state, {} here", where, g, shapes.size(),
              ours.size());
      for (size_t j = 0; j < ours.size(); ++j, ++index) {
        if (shapes[j] != ours[j].shape())
          mismatches.push_back(fmt::format("parameter {} (group {}): {} in the state, {} here", index, g,
                                           to_string(shapes[j]), to_string(ours[j].shape())));
      }
      auto opts = defaults_->clone();
      opts->from_map(saved.at("options").get<std::map<std::string, double>>());
      options.push_back(std::move(opts));
    }
    if (!mismatches.empty())
      raise(ErrorCode::kInvalidArgument, "{}: parameter shapes differ: {}", where, fmt::join(mismatches, "; "));
    std::set<std::string> used;
    for (const auto& [key, entry] : meta.at("state").items()) {
      size_t i = std::stoul(key);
      if (i >= params.size() || std::to_string(i) != key)
        raise(ErrorCode::kInvalidArgument, "{}: state for parameter '{}', but there are {} parameters", where, key,
              params.size());
      // The buffers the group's (loaded) options need.
      size_t g = 0, end = groups_[0].params().size();
      while (i >= end) end += groups_[++g].params().size();
      std::vector<std::string> needed = state_buffers(*options[g]);
      auto names = entry.at("buffers").get<std::vector<std::string>>();
      std::set<std::string> have(names.begin(), names.end()), want(needed.begin(), needed.end());
      if (have != want)
        raise(ErrorCode::kInvalidArgument, "{}: parameter {} has state [{}], expected [{}] for these options", where, i,
              fmt::join(names, ", "), fmt::join(needed, ", "));
      ParamState s;
      s.step = entry.at("step").get<int64_t>();
      for (const std::string& name : names) {
        std::string tensor_name = fmt::format("state.{}.{}", i, name);
        auto t = state_dict.tensors.find(tensor_name);
        if (t == state_dict.tensors.end() || !t->second.defined())
          raise(ErrorCode::kInvalidArgument, "{}: tensor '{}' is missing", where, tensor_name);
        const Tensor& p = params[i];
        if (t->second.shape() != p.shape() || t->second.dtype() != p.dtype())
          raise(ErrorCode::kInvalidArgument, "{}: tensor '{}' is {} {}, but parameter {} is {} {}", where, tensor_name,
                to_string(t->second.dtype()), to_string(t->second.shape()), i, to_string(p.dtype()),
                to_string(p.shape()));
        s.buffers[name] = t->second.to(p.device());
        used.insert(tensor_name);
      }
      state[i] = std::move(s);
    }
    for (const auto& [name, tensor] : state_dict.tensors)
      if (!used.count(name)) raise(ErrorCode::kInvalidArgument, "{}: unexpected tensor '{}'", where, name);
  } catch (const json::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{}: malformed metadata: {}", where, e.what());
  } catch (const std::invalid_argument&) {
    raise(ErrorCode::kInvalidArgument, "{}: malformed metadata: a state key is not a parameter index", where);
  } catch (const std::out_of_range&) {
    raise(ErrorCode::kInvalidArgument, "{}: malformed metadata: a state key is out of range", where);
  }
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].set_options(std::move(options[g]));
  state_ = std::move(state);
}

}  // namespace kiln::optim
