#pragma once
// One pass of a DataLoader over its data: the epoch's order, and the worker threads that make
// batches ahead of the consumer.

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "kiln/frontend/data/dataloader.h"

namespace kiln::data {

/// Hands out batches first_batch..end_batch-1, where batch k holds the examples
/// order[k * batch_size ...] (fewer in the last). With workers > 0, threads make batches in any
/// order but next() returns them in batch order, and at most 2 x workers batches are made ahead.
class EpochRun {
 public:
  EpochRun(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> order, int64_t batch_size,
           int64_t first_batch, int64_t end_batch, int64_t workers);
  /// Stops the workers and joins them; never hangs on batches nobody took.
  ~EpochRun();
  EpochRun(const EpochRun&) = delete;
  EpochRun& operator=(const EpochRun&) = delete;

  /// The next batch, or nullopt after the last. Rethrows the error that making the batch threw.
  std::optional<Example> next();

 private:
  struct Made {
    Example batch;
    std::exception_ptr error;
  };
  Made make(int64_t batch) const;
  void work();

  std::shared_ptr<const Dataset> dataset_;
  std::vector<int64_t> order_;
  int64_t batch_size_;
  int64_t end_batch_;
  int64_t next_to_return_;  // batch next() returns next
  // Prefetching (workers > 0); everything below is guarded by mutex_.
  int64_t next_to_make_;  // batch the next free worker makes
  int64_t window_;        // how far next_to_make_ may run ahead of next_to_return_
  bool stopping_ = false;
  std::map<int64_t, Made> made_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> workers_;
};

}  // namespace kiln::data
