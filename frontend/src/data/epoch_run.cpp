#include "data/epoch_run.h"

#include <algorithm>
#include <span>

#include "data/collate.h"

namespace kiln::data {

EpochRun::EpochRun(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> order, int64_t batch_size,
                   int64_t first_batch, int64_t end_batch, int64_t workers)
    : dataset_(std::move(dataset)),
      order_(std::move(order)),
      batch_size_(batch_size),
      end_batch_(end_batch),
      next_to_return_(first_batch),
      next_to_make_(first_batch),
      window_(2 * workers) {
  workers_.reserve(static_cast<size_t>(workers));
  for (int64_t i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
}

EpochRun::~EpochRun() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : workers_) t.join();
}

EpochRun::Made EpochRun::make(int64_t batch) const {
  const auto n = static_cast<int64_t>(order_.size());
  const int64_t begin = batch * batch_size_;
  const int64_t count = std::min(batch_size_, n - begin);
  try {
    return {
        make_batch(*dataset_,
                   std::span(order_).subspan(static_cast<size_t>(begin), static_cast<size_t>(count)), batch),
        nullptr};
  } catch (...) {
    return {{}, std::current_exception()};
  }
}

void EpochRun::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] {
      return stopping_ || next_to_make_ >= end_batch_ || next_to_make_ < next_to_return_ + window_;
    });
    if (stopping_ || next_to_make_ >= end_batch_) return;
    const int64_t batch = next_to_make_++;
    lock.unlock();
    Made made = make(batch);
    lock.lock();
    made_.emplace(batch, std::move(made));
    changed_.notify_all();
  }
}

std::optional<Example> EpochRun::next() {
  if (next_to_return_ >= end_batch_) return std::nullopt;
  Made made;
  if (workers_.empty()) {
    made = make(next_to_return_++);
  } else {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return made_.contains(next_to_return_); });
    auto it = made_.find(next_to_return_++);
    made = std::move(it->second);
    made_.erase(it);
    lock.unlock();
    changed_.notify_all();  // a worker may make the next batch of the window
  }
  if (made.error) std::rethrow_exception(made.error);
  return std::move(made.batch);
}

}  // namespace kiln::data
