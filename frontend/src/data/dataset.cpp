#include "kiln/frontend/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/random_order.h"

namespace kiln::data {

void Dataset::check_index(int64_t index, const char* what) const {
  if (index < 0 || index >= size()) {
    raise(ErrorCode::kInvalidArgument, "{}: index {} is out of range [0, {})", what, index, size());
  }
}

TensorDataset::TensorDataset(Tensor data, Tensor target)
    : TensorDataset(Example{std::move(data), std::move(target)}, "TensorDataset") {}

TensorDataset::TensorDataset(Example columns, const std::string& where)
    : data_(std::move(columns.data)), target_(std::move(columns.target)) {
  if (!data_.defined()) raise(ErrorCode::kInvalidArgument, "{}: data is undefined", where);
  if (data_.rank() == 0) {
    raise(ErrorCode::kInvalidArgument, "{}: data is a scalar; examples are taken along dim 0", where);
  }
  if (target_.defined() && (target_.rank() == 0 || target_.dim(0) != data_.dim(0))) {
    raise(ErrorCode::kInvalidArgument, "{}: data has {} rows but target has {}", where, data_.dim(0),
          target_.rank() == 0 ? "none (a scalar)" : std::to_string(target_.dim(0)));
  }
}

namespace {

// Row index of t along dim 0, as a view without autograd history.
Tensor row(const Tensor& t, int64_t index) {
  if (!t.defined()) return {};
  const Dims shape(t.shape().begin() + 1, t.shape().end());
  const Dims strides(t.strides().begin() + 1, t.strides().end());
  return Tensor::view_of(t.storage(), t.dtype(), shape, strides, t.offset() + index * t.strides()[0]);
}

}  // namespace

Example TensorDataset::get(int64_t index) const {
  check_index(index, "TensorDataset");
  return {row(data_, index), row(target_, index)};
}

Subset::Subset(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  if (dataset_ == nullptr) raise(ErrorCode::kInvalidArgument, "Subset: the dataset is null");
  for (int64_t i : indices_) {
    if (i < 0 || i >= dataset_->size()) {
      raise(ErrorCode::kInvalidArgument, "Subset: index {} is out of range [0, {})", i, dataset_->size());
    }
  }
}

Example Subset::get(int64_t index) const {
  check_index(index, "Subset");
  return dataset_->get(indices_[static_cast<size_t>(index)]);
}

std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  const std::vector<int64_t>& lengths, uint64_t seed) {
  if (dataset == nullptr) raise(ErrorCode::kInvalidArgument, "random_split: the dataset is null");
  int64_t total = 0;
  for (int64_t length : lengths) {
    if (length < 0) raise(ErrorCode::kInvalidArgument, "random_split: length {} is negative", length);
    total += length;
  }
  if (total != dataset->size()) {
    raise(ErrorCode::kInvalidArgument,
          "random_split: the lengths add up to {} but the dataset has {} examples", total, dataset->size());
  }
  const std::vector<int64_t> order = random_permutation(dataset->size(), seed, 0);
  std::vector<std::shared_ptr<Subset>> out;
  auto start = order.begin();
  for (int64_t length : lengths) {
    out.push_back(std::make_shared<Subset>(dataset, std::vector<int64_t>(start, start + length)));
    start += length;
  }
  return out;
}

std::vector<std::shared_ptr<Subset>> random_split_fractions(std::shared_ptr<const Dataset> dataset,
                                                            const std::vector<double>& fractions,
                                                            uint64_t seed) {
  if (dataset == nullptr) raise(ErrorCode::kInvalidArgument, "random_split: the dataset is null");
  for (double f : fractions) {
    if (!(f >= 0.0 && f <= 1.0))
      raise(ErrorCode::kInvalidArgument, "random_split: fraction {} is outside [0, 1]", f);
  }
  const double sum = std::accumulate(fractions.begin(), fractions.end(), 0.0);
  if (std::abs(sum - 1.0) > 1e-9) {
    raise(ErrorCode::kInvalidArgument, "random_split: the fractions add up to {}, not 1", sum);
  }
  const int64_t n = dataset->size();
  std::vector<int64_t> lengths;
  for (double f : fractions) lengths.push_back(static_cast<int64_t>(std::floor(f * static_cast<double>(n))));
  const int64_t left = n - std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  for (int64_t i = 0; i < left; ++i) ++lengths[static_cast<size_t>(i) % lengths.size()];
  return random_split(std::move(dataset), lengths, seed);
}

}  // namespace kiln::data
