#pragma once
// Datasets in libtorch's shape: a Dataset hands out Examples by index; TensorDataset indexes
// tensors along dim 0; Subset and random_split pick a part of another dataset.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/runtime/tensor.h"

namespace kiln::data {

/// One sample (or, from a DataLoader, one batch with a leading batch dim): the input and its
/// target. target is undefined for a dataset without targets.
struct Example {
  Tensor data;
  Tensor target;
};

/// A sized collection of examples. get() may run on several DataLoader worker threads at once,
/// so implementations must not change shared state in it.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  /// The example at index. Throws Error(kInvalidArgument) when index is outside [0, size()).
  virtual Example get(int64_t index) const = 0;

 protected:
  /// Throws Error(kInvalidArgument) naming what and the range when index is outside [0, size()).
  void check_index(int64_t index, const char* what) const;
};

/// Examples are slices along dim 0: example i is {data[i], target[i]}, views that share memory
/// with the tensors.
class TensorDataset : public Dataset {
 public:
  /// Throws Error(kInvalidArgument) when data is undefined or rank 0, or when target is defined
  /// and its dim 0 differs from data's ("TensorDataset: data has 10 rows but target has 9").
  explicit TensorDataset(Tensor data, Tensor target = {});
  int64_t size() const override { return data_.dim(0); }
  Example get(int64_t index) const override;
  const Tensor& data() const { return data_; }
  const Tensor& target() const { return target_; }

 protected:
  /// As above over columns.data and columns.target; messages start with where (a file name)
  /// instead of "TensorDataset".
  TensorDataset(Example columns, const std::string& where);

 private:
  Tensor data_;
  Tensor target_;
};

/// The examples of dataset at indices, in that order.
class Subset : public Dataset {
 public:
  /// Throws Error(kInvalidArgument) when dataset is null or an index is outside [0, dataset size).
  Subset(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::vector<int64_t> indices_;
};

/// Splits dataset into disjoint random Subsets of the given lengths, as torch's random_split;
/// the same seed gives the same split. Throws Error(kInvalidArgument) when a length is negative
/// or the lengths do not add up to the dataset's size.
std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  const std::vector<int64_t>& lengths, uint64_t seed);
/// random_split with lengths floor(fraction * size); the examples left over go one each to the
/// first splits, as torch does. Throws Error(kInvalidArgument) when a fraction is outside [0, 1]
/// or the fractions do not add up to 1.
std::vector<std::shared_ptr<Subset>> random_split_fractions(std::shared_ptr<const Dataset> dataset,
                                                            const std::vector<double>& fractions,
                                                            uint64_t seed);

}  // namespace kiln::data
