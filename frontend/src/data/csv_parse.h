#pragma once
// CSV text of numbers into a data tensor and a target tensor (CsvDataset's reader).

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/frontend/data/dataset.h"

namespace kiln::data {

/// Reads path whole: data [rows, columns not in target_columns] and target [rows,
/// target_columns.size()] (undefined when target_columns is empty), both f32. Throws as
/// CsvDataset's constructor documents.
Example read_csv(const std::string& path, const std::vector<int64_t>& target_columns, bool has_header,
                 char delimiter);

}  // namespace kiln::data
