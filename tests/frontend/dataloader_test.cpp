// DataLoader: stacked batches with real numbers, drop_last, seeded shuffles (each example once per
// epoch, epochs differ, runs repeat), workers giving the same batches as none, bounded prefetch,
// early destruction, saved and restored state, and bad input.

#include "kiln/frontend/data/dataloader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "test_errors.h"

namespace kiln::data {
namespace {

// Example i: data {i, -i} (f32), target i (i64).
class Numbers : public Dataset {
 public:
  explicit Numbers(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  Example get(int64_t index) const override {
    check_index(index, "Numbers");
    ++gets;
    const auto v = static_cast<float>(index);
    return {Tensor::from_vector<float>({2}, {v, -v}), Tensor::scalar<int64_t>(index)};
  }
  mutable std::atomic<int64_t> gets{0};

 private:
  int64_t n_;
};

std::shared_ptr<Numbers> numbers(int64_t n) { return std::make_shared<Numbers>(n); }

// The target indices of every batch of one epoch.
std::vector<std::vector<int64_t>> epoch(DataLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (const Example& batch : loader) out.push_back(batch.target.to_vector<int64_t>());
  return out;
}

std::vector<int64_t> flat(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
  return out;
}

TEST(DataLoader, StacksExamplesInOrder) {
  DataLoader loader(numbers(10), DataLoaderOptions().batch_size(4));
  EXPECT_EQ(loader.size(), 3);
  std::vector<Example> batches;
  for (const Example& b : loader) batches.push_back(b);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].data.shape(), (Dims{4, 2}));
  EXPECT_EQ(batches[0].data.to_vector<float>(), (std::vector<float>{0, -0.f, 1, -1, 2, -2, 3, -3}));
  EXPECT_EQ(batches[0].target.shape(), (Dims{4}));
  EXPECT_EQ(batches[0].target.dtype(), DType::kI64);
  EXPECT_EQ(batches[2].data.shape(), (Dims{2, 2}));
  EXPECT_EQ(batches[2].target.to_vector<int64_t>(), (std::vector<int64_t>{8, 9}));
}

TEST(DataLoader, BatchesOfATensorDatasetWithoutTarget) {
  auto ds = std::make_shared<TensorDataset>(Tensor::from_vector<double>({3, 1, 2}, {1, 2, 3, 4, 5, 6}));
  DataLoader loader(ds, DataLoaderOptions().batch_size(2));
  auto it = loader.begin();
  EXPECT_EQ(it->data.shape(), (Dims{2, 1, 2}));
  EXPECT_EQ(it->data.to_vector<double>(), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_FALSE(it->target.defined());
}

TEST(DataLoader, IncrementAtTheEndStaysAtTheEnd) {
  DataLoader loader(numbers(3), DataLoaderOptions().batch_size(2));
  auto it = loader.begin();
  ++it;
  ++it;
  EXPECT_TRUE(it == loader.end());
  ++it;
  EXPECT_TRUE(it == loader.end());
  EXPECT_EQ(loader.state(), (DataLoaderState{1, 0}));
}

TEST(DataLoader, DropLast) {
  DataLoader loader(numbers(10), DataLoaderOptions().batch_size(4).drop_last(true));
  EXPECT_EQ(loader.size(), 2);
  EXPECT_EQ(epoch(loader), (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}}));
}

TEST(DataLoader, ShuffleIsSeededAndCoversEveryExampleOncePerEpoch) {
  auto options = DataLoaderOptions().batch_size(3).shuffle(true).seed(7);
  DataLoader a(numbers(20), options);
  DataLoader b(numbers(20), options);
  std::vector<int64_t> sorted(20);
  for (int64_t i = 0; i < 20; ++i) sorted[static_cast<size_t>(i)] = i;
  std::vector<std::vector<int64_t>> orders;
  for (int e = 0; e < 3; ++e) {
    const std::vector<int64_t> order = flat(epoch(a));
    EXPECT_EQ(order, flat(epoch(b))) << "epoch " << e;  // the same seed repeats
    std::vector<int64_t> s = order;
    std::sort(s.begin(), s.end());
    EXPECT_EQ(s, sorted) << "epoch " << e;  // each example exactly once
    EXPECT_NE(order, sorted);
    orders.push_back(order);
  }
  EXPECT_NE(orders[0], orders[1]);  // each epoch has its own order
  EXPECT_NE(orders[1], orders[2]);
  DataLoader c(numbers(20), DataLoaderOptions(options).seed(8));
  EXPECT_NE(flat(epoch(c)), orders[0]);
}

TEST(DataLoader, WorkersGiveTheSameBatchesAsNone) {
  auto options = DataLoaderOptions().batch_size(5).shuffle(true).seed(3);
  DataLoader serial(numbers(103), options);
  DataLoader one(numbers(103), DataLoaderOptions(options).workers(1));
  DataLoader four(numbers(103), DataLoaderOptions(options).workers(4));
  for (int e = 0; e < 3; ++e) {
    const auto expected = epoch(serial);
    EXPECT_EQ(epoch(one), expected);
    EXPECT_EQ(epoch(four), expected);
  }
}

TEST(DataLoader, PrefetchIsBounded) {
  auto ds = numbers(1000);
  DataLoader loader(ds, DataLoaderOptions().batch_size(10).workers(2));
  auto it = loader.begin();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Batch 0 was taken; at most 2 x workers batches after it are made ahead.
  EXPECT_LE(ds->gets.load(), 5 * 10);
  EXPECT_GE(ds->gets.load(), 10);
}

TEST(DataLoader, LeavingEarlyDoesNotHangAndStartsTheNextEpoch) {
  DataLoader loader(numbers(1000), DataLoaderOptions().batch_size(2).shuffle(true).workers(3));
  for (const Example& b : loader) {
    (void)b;
    break;  // the iterator is destroyed with workers blocked on a full window
  }
  EXPECT_EQ(loader.state(), (DataLoaderState{0, 1}));
  auto it = loader.begin();  // the abandoned epoch 0 is not resumed
  EXPECT_EQ(loader.state(), (DataLoaderState{1, 1}));
}

TEST(DataLoader, RestoredStateContinuesTheEpoch) {
  auto options = DataLoaderOptions().batch_size(4).shuffle(true).seed(11).workers(2);
  DataLoader full(numbers(30), options);
  epoch(full);
  const auto second = epoch(full);  // epoch 1, uninterrupted

  DataLoader first(numbers(30), options);
  epoch(first);
  DataLoaderState saved;
  int taken = 0;
  for (const Example& b : first) {
    (void)b;
    if (++taken == 3) {
      saved = first.state();
      break;
    }
  }
  EXPECT_EQ(saved, (DataLoaderState{1, 3}));

  DataLoader resumed(numbers(30), options);
  resumed.set_state(saved);
  const auto rest = epoch(resumed);
  EXPECT_EQ(rest, std::vector<std::vector<int64_t>>(second.begin() + 3, second.end()));
  EXPECT_EQ(resumed.state(), (DataLoaderState{2, 0}));
  expect_error(
      [&] {
        resumed.set_state({0, 9});
      },
      ErrorCode::kInvalidArgument, "DataLoader: cannot resume at batch 9: an epoch has 8 batches");
}

// Example i has i+1 values, so examples 0 and 1 cannot share a batch.
class Ragged : public Dataset {
 public:
  int64_t size() const override { return 4; }
  Example get(int64_t index) const override {
    if (index == 3) raise(ErrorCode::kIo, "ragged: cannot read example 3");
    return {Tensor::zeros({index < 2 ? 1 : index}, DType::kF32), {}};
  }
};

TEST(DataLoader, BadExamplesFailAtTheirBatch) {
  for (int64_t workers : {0, 2}) {
    DataLoader two(std::make_shared<Ragged>(), DataLoaderOptions().batch_size(3).workers(workers));
    expect_error([&] { two.begin(); }, ErrorCode::kInvalidArgument,
                 "DataLoader: batch 0: example 2 has data f32 [2] but example 0 has f32 [1]");
    DataLoader singles(std::make_shared<Ragged>(), DataLoaderOptions().batch_size(1).workers(workers));
    auto it = singles.begin();
    ++it;
    ++it;
    expect_error([&] { ++it; }, ErrorCode::kIo, "ragged: cannot read example 3");
    EXPECT_TRUE(it == singles.end());
  }
}

TEST(DataLoader, BadOptions) {
  expect_error([] { DataLoader(numbers(0), DataLoaderOptions()); }, ErrorCode::kInvalidArgument,
               "DataLoader: the dataset is empty");
  expect_error([] { DataLoader(numbers(5), DataLoaderOptions().batch_size(0)); }, ErrorCode::kInvalidArgument,
               "DataLoader: batch_size must be at least 1, got 0");
  expect_error([] { DataLoader(numbers(5), DataLoaderOptions().workers(-1)); }, ErrorCode::kInvalidArgument,
               "workers must be 0 or more, got -1");
  expect_error([] { DataLoader(numbers(5), DataLoaderOptions().batch_size(8).drop_last(true)); },
               ErrorCode::kInvalidArgument,
               "drop_last with batch_size 8 leaves no batch of the dataset's 5 examples");
  expect_error([] { DataLoader(nullptr); }, ErrorCode::kInvalidArgument, "the dataset is null");
}

}  // namespace
}  // namespace kiln::data
