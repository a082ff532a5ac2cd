#pragma once
// Datasets read from files: .npy pairs, .npz archives and CSV text. Each file is read whole when
// the dataset is made; examples are then views into those tensors.

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/frontend/data/dataset.h"

namespace kiln::data {

/// Inputs from one .npy file and targets from another (target_path empty: no targets), indexed
/// along dim 0. Throws what read_npy throws, and Error(kInvalidArgument) naming both files when
/// their first dims differ or the inputs are rank 0.
class NpyDataset : public TensorDataset {
 public:
  explicit NpyDataset(const std::string& data_path, const std::string& target_path = "");
};

/// Inputs and targets from two arrays of one .npz archive (target_key empty: no targets).
/// Throws what read_npz throws, Error(kNotFound) naming the file, the key and the keys it has
/// when a key is missing, and Error(kInvalidArgument) when the first dims differ.
class NpzDataset : public TensorDataset {
 public:
  explicit NpzDataset(const std::string& path, const std::string& data_key = "x",
                      const std::string& target_key = "y");
};

/// A CSV file of numbers, one example a row: the columns listed in target_columns (negative
/// counts from the end: -1 is the last) form the target, a f32 vector of that many values in
/// that order; the other columns, in file order, form the data, a f32 vector. Empty lines are
/// skipped; fields may have spaces around them; quoted fields are not numbers.
class CsvDataset : public TensorDataset {
 public:
  /// Throws Error(kIo) when the file cannot be read, and Error(kInvalidArgument) naming file,
  /// line and column for a ragged row ("a.csv: line 7 has 3 fields, expected 4"), a field that
  /// is not a number, a target column out of range or listed twice, no data columns, or no rows.
  explicit CsvDataset(const std::string& path, const std::vector<int64_t>& target_columns = {-1},
                      bool has_header = true, char delimiter = ',');
};

}  // namespace kiln::data
