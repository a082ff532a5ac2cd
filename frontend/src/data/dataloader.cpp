#include "kiln/frontend/data/dataloader.h"

#include <numeric>
#include <vector>

#include "data/epoch_run.h"
#include "data/random_order.h"

namespace kiln::data {

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  if (dataset_ == nullptr) raise(ErrorCode::kInvalidArgument, "DataLoader: the dataset is null");
  if (dataset_->size() == 0) raise(ErrorCode::kInvalidArgument, "DataLoader: the dataset is empty");
  if (options_.batch_size() < 1) {
    raise(ErrorCode::kInvalidArgument, "DataLoader: batch_size must be at least 1, got {}",
          options_.batch_size());
  }
  if (options_.workers() < 0) {
    raise(ErrorCode::kInvalidArgument, "DataLoader: workers must be 0 or more, got {}", options_.workers());
  }
  if (size() == 0) {
    raise(ErrorCode::kInvalidArgument,
          "DataLoader: drop_last with batch_size {} leaves no batch of the dataset's {} examples",
          options_.batch_size(), dataset_->size());
  }
}

int64_t DataLoader::size() const {
  const int64_t n = dataset_->size();
  const int64_t b = options_.batch_size();
  return options_.drop_last() ? n / b : (n + b - 1) / b;
}

void DataLoader::set_state(const DataLoaderState& state) {
  if (state.batches_done < 0 || state.batches_done > size()) {
    raise(ErrorCode::kInvalidArgument, "DataLoader: cannot resume at batch {}: an epoch has {} batches",
          state.batches_done, size());
  }
  state_ = state;
  resume_ = true;
}

DataLoader::Iterator DataLoader::begin() {
  if (!resume_ && state_.batches_done > 0) state_ = {state_.epoch + 1, 0};  // the last epoch was left early
  resume_ = false;
  std::vector<int64_t> order;
  if (options_.shuffle()) {
    order = random_permutation(dataset_->size(), options_.seed(), state_.epoch);
  } else {
    order.resize(static_cast<size_t>(dataset_->size()));
    std::iota(order.begin(), order.end(), int64_t{0});
  }
  return Iterator(this, std::make_unique<EpochRun>(dataset_, std::move(order), options_.batch_size(),
                                                   state_.batches_done, size(), options_.workers()));
}

DataLoader::Iterator::Iterator(DataLoader* loader, std::unique_ptr<EpochRun> run)
    : loader_(loader), run_(std::move(run)) {
  fetch();
}

DataLoader::Iterator::Iterator(Iterator&&) noexcept = default;
DataLoader::Iterator& DataLoader::Iterator::operator=(Iterator&&) noexcept = default;
DataLoader::Iterator::~Iterator() = default;

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  fetch();
  return *this;
}

void DataLoader::Iterator::fetch() {
  if (run_ == nullptr) return;  // ++ at the end stays at the end
  std::optional<Example> batch;
  try {
    batch = run_->next();
  } catch (...) {
    run_.reset();  // an error ends the epoch
    throw;
  }
  if (!batch) {
    run_.reset();
    loader_->state_ = {loader_->state_.epoch + 1, 0};
    return;
  }
  batch_ = std::move(*batch);
  ++loader_->state_.batches_done;
}

}  // namespace kiln::data
