#pragma once
// What a training loop needs beyond the model and optimizer: a checkpoint of everything that
// decides the rest of the run (model, optimizer, scheduler, step, random and loader state), so
// a resumed run continues exactly as one that never stopped, and a guard against a non-finite
// loss.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "kiln/frontend/data/dataloader.h"
#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/optim/optimizer.h"
#include "kiln/frontend/tensor.h"

namespace kiln::train {

/// State kept as JSON text (the LR schedulers): how to save it and how to restore it.
struct JsonState {
  std::function<std::string()> save;
  std::function<void(const std::string&)> load;
};

/// JsonState of an object with state_dict() -> string and load_state_dict(string).
template <class S>
JsonState json_state(S& object) {
  return {[&object] { return object.state_dict(); }, [&object](const std::string& s) { object.load_state_dict(s); }};
}

/// The objects a training checkpoint holds. model is required; the others are saved when set.
struct TrainingParts {
  nn::Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  std::optional<JsonState> scheduler;
  Generator* generator = nullptr;     // e.g. &default_generator(), which Dropout draws from
  data::DataLoader* loader = nullptr;  // its epoch and position (shuffle order follows)
  /// Extra metadata saved as it is (e.g. the source model's path and SHA-256); load ignores it.
  std::map<std::string, std::string> metadata;
};

struct TrainingProgress {
  int64_t step = 0;   // optimizer steps taken
  int64_t epoch = 0;  // epochs completed
};

/// Writes one checkpoint file with everything in parts plus progress, atomically (temp file,
/// fsync, rename, fsync of the folder): a failed write leaves the previous file intact.
/// Throws Error(kIo) naming path, or Error(kInvalidArgument) when parts.model is null.
void save_training_checkpoint(const std::string& path, const TrainingParts& parts, const TrainingProgress& progress);

/// Restores parts from a checkpoint and returns its progress. The file's checksum is verified;
/// a checkpoint of another model is refused with every parameter name and shape that differs;
/// a checkpoint without a part that is asked for (an optimizer, a scheduler...) is refused.
/// Everything is checked before anything changes. Throws Error(kInvalidArgument) naming path,
/// or Error(kIo) when it cannot be read.
TrainingProgress load_training_checkpoint(const std::string& path, const TrainingParts& parts);

/// What to do when a loss is NaN or infinite.
enum class NonFiniteLoss { kStop, kContinue };

/// True when loss is finite. Otherwise throws Error(kInvalidArgument) "step 12: loss is nan;
/// stopping (...)" under kStop, or returns false under kContinue (the caller skips the update).
bool check_loss(const Tensor& loss, int64_t step, NonFiniteLoss policy = NonFiniteLoss::kStop);

}  // namespace kiln::train
