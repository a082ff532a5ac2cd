#include "data/collate.h"

#include <cstring>
#include <vector>

namespace kiln::data {
namespace {

std::string describe(const Tensor& t) {
  return t.defined() ? fmt::format("{} {}", to_string(t.dtype()), to_string(t.shape())) : "no tensor";
}

// rows[i] is field of example indices[i]; all must match rows[0].
Tensor stack(const std::vector<Tensor>& rows, const char* field, std::span<const int64_t> indices,
             int64_t batch) {
  const Tensor& first = rows[0];
  for (size_t i = 1; i < rows.size(); ++i) {
    const Tensor& row = rows[i];
    if (row.defined() != first.defined() ||
        (first.defined() && (row.dtype() != first.dtype() || row.shape() != first.shape()))) {
      raise(
          ErrorCode::kInvalidArgument,
          "DataLoader: batch {}: example {} has {} {} but example {} has {}; examples of a batch must match",
          batch, indices[i], field, describe(row), indices[0], describe(first));
    }
  }
  if (!first.defined()) return {};
  Dims shape{static_cast<int64_t>(rows.size())};
  shape.insert(shape.end(), first.shape().begin(), first.shape().end());
  Tensor out = Tensor::empty(shape, first.dtype());
  const size_t row_bytes = first.nbytes();
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  for (const Tensor& row : rows) {
    const Tensor host = row.to(Device::host());  // contiguous; the row itself when it already is
    if (row_bytes > 0) std::memcpy(dst, host.raw_data(), row_bytes);
    dst += row_bytes;
  }
  return out;
}

}  // namespace

Example make_batch(const Dataset& dataset, std::span<const int64_t> indices, int64_t batch) {
  std::vector<Tensor> data;
  std::vector<Tensor> target;
  data.reserve(indices.size());
  target.reserve(indices.size());
  for (int64_t index : indices) {
    Example e = dataset.get(index);
    data.push_back(std::move(e.data));
    target.push_back(std::move(e.target));
  }
  return {stack(data, "data", indices, batch), stack(target, "target", indices, batch)};
}

}  // namespace kiln::data
