#include "kiln/frontend/data/file_datasets.h"

#include <map>

#include "data/csv_parse.h"
#include "kiln/frontend/npy.h"

namespace kiln::data {
namespace {

Example read_npy_pair(const std::string& data_path, const std::string& target_path) {
  return {read_npy(data_path), target_path.empty() ? Tensor() : read_npy(target_path)};
}

Tensor take(std::map<std::string, Tensor>& arrays, const std::string& key, const std::string& path) {
  if (key.empty()) return {};
  auto it = arrays.find(key);
  if (it == arrays.end()) {
    std::string keys;
    for (const auto& [name, array] : arrays) keys += (keys.empty() ? "'" : ", '") + name + "'";
    raise(ErrorCode::kNotFound, "{}: no array '{}' (the archive has {})", path, key,
          keys.empty() ? "none" : keys);
  }
  return it->second;
}

Example read_npz_pair(const std::string& path, const std::string& data_key, const std::string& target_key) {
  std::map<std::string, Tensor> arrays = read_npz(path);
  Tensor data = take(arrays, data_key, path);
  return {std::move(data), take(arrays, target_key, path)};
}

}  // namespace

NpyDataset::NpyDataset(const std::string& data_path, const std::string& target_path)
    : TensorDataset(read_npy_pair(data_path, target_path),
                    target_path.empty() ? data_path : data_path + " and " + target_path) {}

NpzDataset::NpzDataset(const std::string& path, const std::string& data_key, const std::string& target_key)
    : TensorDataset(read_npz_pair(path, data_key, target_key), path) {}

CsvDataset::CsvDataset(const std::string& path, const std::vector<int64_t>& target_columns, bool has_header,
                       char delimiter)
    : TensorDataset(read_csv(path, target_columns, has_header, delimiter), path) {}

}  // namespace kiln::data
