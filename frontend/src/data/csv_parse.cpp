#include "data/csv_parse.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string_view>

namespace kiln::data {
namespace {

std::string_view trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::vector<std::string_view> split(std::string_view line, char delimiter) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t end = line.find(delimiter, start);
    fields.push_back(
        trim(line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)));
    if (end == std::string_view::npos) return fields;
    start = end + 1;
  }
}

// Which column goes where: role[c] < 0 is data column -role[c]-1, else target column role[c].
std::vector<int64_t> column_roles(const std::string& path, const std::vector<int64_t>& target_columns,
                                  int64_t columns) {
  std::vector<int64_t> role(static_cast<size_t>(columns), 0);
  std::vector<bool> is_target(static_cast<size_t>(columns), false);
  for (size_t t = 0; t < target_columns.size(); ++t) {
    const int64_t c = target_columns[t] < 0 ? target_columns[t] + columns : target_columns[t];
    if (c < 0 || c >= columns) {
      raise(ErrorCode::kInvalidArgument, "{}: target column {} is out of range: rows have {} columns", path,
            target_columns[t], columns);
    }
    if (is_target[static_cast<size_t>(c)]) {
      raise(ErrorCode::kInvalidArgument, "{}: column {} is listed twice as a target", path, c + 1);
    }
    is_target[static_cast<size_t>(c)] = true;
    role[static_cast<size_t>(c)] = static_cast<int64_t>(t);
  }
  int64_t data_columns = 0;
  for (int64_t c = 0; c < columns; ++c) {
    if (!is_target[static_cast<size_t>(c)]) role[static_cast<size_t>(c)] = -(++data_columns);
  }
  if (data_columns == 0)
    raise(ErrorCode::kInvalidArgument, "{}: every column is a target; no data columns", path);
  return role;
}

}  // namespace

Example read_csv(const std::string& path, const std::vector<int64_t>& target_columns, bool has_header,
                 char delimiter) {
  std::ifstream in(path);
  if (!in) raise(ErrorCode::kIo, "cannot open '{}': {}", path, std::strerror(errno));
  std::vector<std::string> names;  // column names from the header, for messages
  std::vector<int64_t> role;
  std::vector<float> data;
  std::vector<float> target;
  int64_t rows = 0;
  int64_t line_number = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const std::vector<std::string_view> fields = split(line, delimiter);
    const auto count = static_cast<int64_t>(fields.size());
    if (role.empty()) {
      role = column_roles(path, target_columns, count);
      if (has_header) {
        names.assign(fields.begin(), fields.end());
        continue;
      }
    }
    if (count != static_cast<int64_t>(role.size())) {
      raise(ErrorCode::kInvalidArgument, "{}: line {} has {} fields, expected {}", path, line_number, count,
            role.size());
    }
    data.resize(data.size() + static_cast<size_t>(count) - target_columns.size());
    target.resize(target.size() + target_columns.size());
    float* data_row = data.data() + data.size() - (static_cast<size_t>(count) - target_columns.size());
    float* target_row = target.data() + target.size() - target_columns.size();
    for (int64_t c = 0; c < count; ++c) {
      std::string_view field = fields[static_cast<size_t>(c)];
      if (field.starts_with('+')) field.remove_prefix(1);
      float value = 0;
      const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
      if (field.empty() || error != std::errc() || end != field.data() + field.size()) {
        raise(ErrorCode::kInvalidArgument, "{}: line {}, column {}{}: '{}' is {}", path, line_number, c + 1,
              names.empty() ? "" : fmt::format(" ('{}')", names[static_cast<size_t>(c)]),
              fields[static_cast<size_t>(c)],
              error == std::errc::result_out_of_range ? "out of range for f32" : "not a number");
      }
      const int64_t r = role[static_cast<size_t>(c)];
      (r < 0 ? data_row[-r - 1] : target_row[r]) = value;
    }
    ++rows;
  }
  if (in.bad()) raise(ErrorCode::kIo, "cannot read '{}': {}", path, std::strerror(errno));
  if (rows == 0) raise(ErrorCode::kInvalidArgument, "{}: no data rows", path);
  const auto data_columns = static_cast<int64_t>(role.size() - target_columns.size());
  const auto target_count = static_cast<int64_t>(target_columns.size());
  return {Tensor::from_vector<float>({rows, data_columns}, data),
          target_count == 0 ? Tensor() : Tensor::from_vector<float>({rows, target_count}, target)};
}

}  // namespace kiln::data
