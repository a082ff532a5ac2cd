// TensorDataset, Subset and random_split: rows as views, bad shapes, split sizes, disjointness
// and determinism.

#include "kiln/frontend/data/dataset.h"

#include <algorithm>
#include <set>

#include "test_errors.h"

namespace kiln::data {
namespace {

// x[i] = {10i, 10i+1, 10i+2}, y[i] = i.
std::shared_ptr<TensorDataset> rows(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < 3; ++j) x.push_back(static_cast<float>(10 * i + j));
    y.push_back(i);
  }
  return std::make_shared<TensorDataset>(Tensor::from_vector<float>({n, 3}, x),
                                         Tensor::from_vector<int64_t>({n}, y));
}

TEST(TensorDataset, IndexesAlongDimZero) {
  auto ds = rows(4);
  EXPECT_EQ(ds->size(), 4);
  Example e = ds->get(2);
  EXPECT_EQ(e.data.shape(), (Dims{3}));
  EXPECT_EQ(e.data.to_vector<float>(), (std::vector<float>{20, 21, 22}));
  EXPECT_EQ(e.target.shape(), Dims{});
  EXPECT_EQ(e.target.item<int64_t>(), 2);
}

TEST(TensorDataset, RowsOfAStridedViewAndNoTarget) {
  // The transpose of [[0,1,2],[3,4,5]]: rows are the columns {0,3}, {1,4}, {2,5}.
  Tensor m = Tensor::from_vector<float>({2, 3}, {0, 1, 2, 3, 4, 5}).transpose(0, 1);
  TensorDataset ds(m);
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.get(1).data.to_vector<float>(), (std::vector<float>{1, 4}));
  EXPECT_FALSE(ds.get(1).target.defined());
}

TEST(TensorDataset, BadInput) {
  expect_error(
      [] {
        TensorDataset(Tensor::zeros({10, 2}, DType::kF32), Tensor::zeros({9}, DType::kF32));
      },
      ErrorCode::kInvalidArgument, "TensorDataset: data has 10 rows but target has 9");
  expect_error([] { TensorDataset(Tensor::scalar<float>(1)); }, ErrorCode::kInvalidArgument,
               "data is a scalar");
  expect_error([] { TensorDataset ds{Tensor()}; }, ErrorCode::kInvalidArgument, "data is undefined");
  expect_error([] { TensorDataset(Tensor::zeros({2}, DType::kF32), Tensor::scalar<float>(1)); },
               ErrorCode::kInvalidArgument, "target has none (a scalar)");
  auto ds = rows(3);
  expect_error([&] { ds->get(3); }, ErrorCode::kInvalidArgument,
               "TensorDataset: index 3 is out of range [0, 3)");
  expect_error([&] { ds->get(-1); }, ErrorCode::kInvalidArgument, "index -1 is out of range");
}

TEST(Subset, PicksIndicesInOrder) {
  Subset s(rows(5), {4, 0, 2});
  EXPECT_EQ(s.size(), 3);
  EXPECT_EQ(s.get(0).target.item<int64_t>(), 4);
  EXPECT_EQ(s.get(2).target.item<int64_t>(), 2);
  expect_error([] { Subset(rows(5), {5}); }, ErrorCode::kInvalidArgument,
               "Subset: index 5 is out of range [0, 5)");
  expect_error([&] { s.get(3); }, ErrorCode::kInvalidArgument, "Subset: index 3");
}

std::vector<int64_t> targets(const Dataset& ds) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < ds.size(); ++i) out.push_back(ds.get(i).target.item<int64_t>());
  return out;
}

TEST(RandomSplit, SizesDisjointAndDeterministic) {
  auto ds = rows(10);
  auto parts = random_split(ds, {7, 3}, 42);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0]->size(), 7);
  EXPECT_EQ(parts[1]->size(), 3);
  std::vector<int64_t> all = targets(*parts[0]);
  for (int64_t t : targets(*parts[1])) all.push_back(t);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));  // every example once: disjoint

  auto again = random_split(ds, {7, 3}, 42);
  EXPECT_EQ(again[0]->indices(), parts[0]->indices());
  auto other = random_split(ds, {7, 3}, 43);
  EXPECT_NE(other[0]->indices(), parts[0]->indices());
  EXPECT_NE(parts[0]->indices(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));  // shuffled, not a prefix
}

TEST(RandomSplit, FractionsAsTorch) {
  // floor(0.5*11)=5, floor(0.3*11)=3, floor(0.2*11)=2; the one left over goes to the first split.
  auto parts = random_split_fractions(rows(11), {0.5, 0.3, 0.2}, 1);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0]->size(), 6);
  EXPECT_EQ(parts[1]->size(), 3);
  EXPECT_EQ(parts[2]->size(), 2);
  std::set<int64_t> seen;
  for (const auto& p : parts) seen.insert(p->indices().begin(), p->indices().end());
  EXPECT_EQ(seen.size(), 11u);
}

TEST(RandomSplit, BadInput) {
  expect_error(
      [] {
        random_split(rows(10), {7, 2}, 0);
      },
      ErrorCode::kInvalidArgument, "random_split: the lengths add up to 9 but the dataset has 10 examples");
  expect_error(
      [] {
        random_split(rows(10), {11, -1}, 0);
      },
      ErrorCode::kInvalidArgument, "length -1 is negative");
  expect_error(
      [] {
        random_split_fractions(rows(10), {0.5, 0.4}, 0);
      },
      ErrorCode::kInvalidArgument, "the fractions add up to 0.9, not 1");
  expect_error(
      [] {
        random_split_fractions(rows(10), {1.5, -0.5}, 0);
      },
      ErrorCode::kInvalidArgument, "fraction 1.5 is outside [0, 1]");
}

}  // namespace
}  // namespace kiln::data
