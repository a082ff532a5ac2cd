#pragma once
// DataLoader: batches of a Dataset in (optionally shuffled) order, stacked along a new dim 0,
// made on the calling thread or ahead of time by worker threads.
//
//   data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(32).shuffle(true).seed(1));
//   for (const data::Example& batch : loader) { ... batch.data, batch.target ... }

#include <cstdint>
#include <iterator>
#include <memory>

#include "kiln/frontend/data/dataset.h"

namespace kiln::data {

/// Options with chainable setters: DataLoaderOptions().batch_size(32).shuffle(true). Setters
/// never fail; DataLoader checks the values.
class DataLoaderOptions {
 public:
  DataLoaderOptions& batch_size(int64_t value) {
    batch_size_ = value;
    return *this;
  }
  DataLoaderOptions& shuffle(bool value) {
    shuffle_ = value;
    return *this;
  }
  /// Seed of the shuffle: with the same seed, every run sees the same order in each epoch.
  DataLoaderOptions& seed(uint64_t value) {
    seed_ = value;
    return *this;
  }
  /// Drop the last batch when it would be smaller than batch_size.
  DataLoaderOptions& drop_last(bool value) {
    drop_last_ = value;
    return *this;
  }
  /// Threads that make batches ahead of time; 0 makes each batch when it is asked for. The
  /// batches and their order are the same for every number of workers.
  DataLoaderOptions& workers(int64_t value) {
    workers_ = value;
    return *this;
  }

  int64_t batch_size() const { return batch_size_; }
  bool shuffle() const { return shuffle_; }
  uint64_t seed() const { return seed_; }
  bool drop_last() const { return drop_last_; }
  int64_t workers() const { return workers_; }

 private:
  int64_t batch_size_ = 1;
  bool shuffle_ = false;
  uint64_t seed_ = 0;
  bool drop_last_ = false;
  int64_t workers_ = 0;
};

/// Where a loader is, to save in a checkpoint. The shuffle of an epoch depends only on the
/// seed and the epoch number, so this is the whole of the loader's random state.
struct DataLoaderState {
  uint64_t epoch = 0;        // the epoch the next (or current) iteration goes through
  int64_t batches_done = 0;  // batches of that epoch already handed out
  friend bool operator==(const DataLoaderState&, const DataLoaderState&) = default;
};

class EpochRun;  // one pass over the data: the order and the prefetch threads

/// Iterates batches: each Example holds data (and target) of its examples stacked along a new
/// dim 0, as contiguous host tensors. Each iteration is one epoch; a finished epoch moves to the
/// next, whose shuffle differs. Only the batches in flight are held in memory (at most about
/// 2 x workers). The loader must outlive its iterators, and iterates one epoch at a time.
class DataLoader {
 public:
  class Iterator;

  /// Throws Error(kInvalidArgument) with one line when dataset is null or empty, batch_size is
  /// below 1, workers is negative, or drop_last leaves no batch.
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});

  /// Starts an epoch: a restored state (set_state) continues its epoch at its batch; an epoch
  /// left early is abandoned and the next one begins. Errors of the dataset (or of stacking
  /// examples of different shapes: Error(kInvalidArgument) naming the batch and the indices)
  /// are thrown by begin() or ++ when their batch is reached.
  Iterator begin();
  std::default_sentinel_t end() const { return {}; }

  /// Batches per epoch.
  int64_t size() const;
  const DataLoaderOptions& options() const { return options_; }
  DataLoaderState state() const { return state_; }
  /// Makes the next begin() continue from state. Throws Error(kInvalidArgument) when
  /// batches_done is negative or past the batches of an epoch.
  void set_state(const DataLoaderState& state);

  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Example;
    using difference_type = std::ptrdiff_t;

    Iterator() = default;
    Iterator(Iterator&&) noexcept;
    Iterator& operator=(Iterator&&) noexcept;
    /// Stops this epoch's workers and waits for them (a batch being made is finished first).
    ~Iterator();
    const Example& operator*() const { return batch_; }
    const Example* operator->() const { return &batch_; }
    Iterator& operator++();
    friend bool operator==(const Iterator& it, std::default_sentinel_t) { return it.run_ == nullptr; }

   private:
    friend class DataLoader;
    Iterator(DataLoader* loader, std::unique_ptr<EpochRun> run);
    void fetch();
    DataLoader* loader_ = nullptr;
    std::unique_ptr<EpochRun> run_;
    Example batch_;
  };

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  DataLoaderState state_;
  bool resume_ = false;  // set_state was called: the next begin() continues state_ as it is
};

}  // namespace kiln::data
