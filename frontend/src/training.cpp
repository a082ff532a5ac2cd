#include "kiln/frontend/training.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "kiln/frontend/checkpoint.h"

namespace kiln::train {
namespace {

constexpr const char* kModelPrefix = "model.";

nlohmann::json parse_metadata(const Checkpoint& c, const std::string& key, const std::string& path) {
  auto it = c.metadata.find(key);
  if (it == c.metadata.end()) {
    raise(ErrorCode::kInvalidArgument, "{}: not a training checkpoint (no '{}' entry)", path, key);
  }
  try {
    return nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{}: entry '{}' is not valid JSON: {}", path, key, e.what());
  }
}

const std::string& required_metadata(const Checkpoint& c, const std::string& key, const std::string& path) {
  auto it = c.metadata.find(key);
  if (it == c.metadata.end()) {
    raise(ErrorCode::kInvalidArgument, "{}: the checkpoint has no {} state, but one was given to restore", path, key);
  }
  return it->second;
}

}  // namespace

void save_training_checkpoint(const std::string& path, const TrainingParts& parts, const TrainingProgress& progress) {
  if (!parts.model) raise(ErrorCode::kInvalidArgument, "{}: save_training_checkpoint needs a model", path);
  Checkpoint c;
  c.metadata = parts.metadata;
  for (const auto& [name, t] : parts.model->state_dict()) c.tensors[kModelPrefix + name] = t;
  if (parts.optimizer) parts.optimizer->state_dict().save_to(c, "optimizer");
  if (parts.scheduler) c.metadata["scheduler"] = parts.scheduler->save();
  if (parts.generator) c.metadata["generator"] = parts.generator->state();
  if (parts.loader) {
    const data::DataLoaderState s = parts.loader->state();
    c.metadata["loader"] = nlohmann::json{{"epoch", s.epoch}, {"batches_done", s.batches_done}}.dump();
  }
  c.metadata["progress"] = nlohmann::json{{"step", progress.step}, {"epoch", progress.epoch}}.dump();
  save_checkpoint(path, c);
}

TrainingProgress load_training_checkpoint(const std::string& path, const TrainingParts& parts) {
  if (!parts.model) raise(ErrorCode::kInvalidArgument, "{}: load_training_checkpoint needs a model", path);
  const Checkpoint c = load_checkpoint(path);
  // Check everything first, so a refused checkpoint changes nothing.
  const nlohmann::json progress = parse_metadata(c, "progress", path);
  std::map<std::string, Tensor> model_state, expected;
  for (const auto& [name, t] : c.tensors)
    if (name.rfind(kModelPrefix, 0) == 0) model_state[name.substr(std::char_traits<char>::length(kModelPrefix))] = t;
  for (const auto& [name, t] : parts.model->state_dict()) expected[name] = t;
  check_same_tensors(model_state, expected, path + ": checkpoint of a different model");
  std::optional<optim::OptimizerStateDict> optimizer;
  if (parts.optimizer) {
    required_metadata(c, "optimizer", path);
    optimizer = optim::OptimizerStateDict::load_from(c, "optimizer");
  }
  const std::string* scheduler = parts.scheduler ? &required_metadata(c, "scheduler", path) : nullptr;
  const std::string* generator = parts.generator ? &required_metadata(c, "generator", path) : nullptr;
  std::optional<nlohmann::json> loader;
  if (parts.loader) {
    required_metadata(c, "loader", path);
    loader = parse_metadata(c, "loader", path);
  }
  try {
    if (optimizer) parts.optimizer->load_state_dict(*optimizer);
    if (scheduler) parts.scheduler->load(*scheduler);
    if (generator) parts.generator->set_state(*generator);
    if (loader) {
      data::DataLoaderState s;
      s.epoch = (*loader).at("epoch").get<uint64_t>();
      s.batches_done = (*loader).at("batches_done").get<int64_t>();
      parts.loader->set_state(s);
    }
    parts.model->load_state_dict(model_state);
    return {progress.at("step").get<int64_t>(), progress.at("epoch").get<int64_t>()};
  } catch (const nlohmann::json::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{}: malformed training state: {}", path, e.what());
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
}

bool check_loss(const Tensor& loss, int64_t step, NonFiniteLoss policy) {
  const double value = loss.item<double>();
  if (std::isfinite(value)) return true;
  if (policy == NonFiniteLoss::kContinue) return false;
  raise(ErrorCode::kInvalidArgument,
        "step {}: loss is {}; stopping (lower the learning rate, check the data, or ask to continue past "
        "non-finite losses)",
        step, std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf"));
}

}  // namespace kiln::train
