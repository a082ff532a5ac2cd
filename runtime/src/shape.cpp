#include "kiln/runtime/shape.h"

#include <fmt/format.h>

#include "kiln/runtime/error.h"

namespace kiln {

std::string Dim::to_string() const {
  if (is_static()) return std::to_string(value_);
  if (is_symbolic()) return symbol_;
  return "?";
}

Shape Shape::of(const Dims& dims) {
  std::vector<Dim> out;
  out.reserve(dims.size());
  for (int64_t d : dims) out.emplace_back(d);
  return Shape(std::move(out));
}

Shape Shape::unknown_rank() {
  Shape s;
  s.has_rank_ = false;
  return s;
}

bool Shape::is_static() const {
  if (!has_rank_) return false;
  for (const Dim& d : dims_) {
    if (!d.is_static()) return false;
  }
  return true;
}

Dims Shape::concrete() const {
  if (!has_rank_)
    raise(ErrorCode::kInvalidArgument, "shape {} has an unknown rank, expected concrete dims", to_string());
  Dims out;
  out.reserve(dims_.size());
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (!dims_[i].is_static()) {
      raise(ErrorCode::kInvalidArgument, "shape {}: dim {} is '{}', expected a number", to_string(), i,
            dims_[i].to_string());
    }
    out.push_back(dims_[i].value());
  }
  return out;
}

std::optional<int64_t> Shape::numel() const {
  if (!is_static()) return std::nullopt;
  return checked_numel(concrete());
}

std::string Shape::to_string() const {
  if (!has_rank_) return "?";
  std::string out = "[";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i > 0) out += ',';
    out += dims_[i].to_string();
  }
  out += ']';
  return out;
}

std::string to_string(const Dims& dims) { return fmt::format("[{}]", fmt::join(dims, ",")); }

int64_t checked_numel(const Dims& dims) {
  int64_t n = 1;
  bool overflow = false;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) {
      raise(ErrorCode::kInvalidArgument, "shape {}: dim {} is {}, expected >= 0", to_string(dims), i,
            dims[i]);
    }
    // Keep scanning after an overflow: a later 0 makes the product 0, a later negative is an error.
    if (!overflow && __builtin_mul_overflow(n, dims[i], &n)) overflow = true;
    if (dims[i] == 0) {
      n = 0;
      overflow = false;
    }
  }
  if (overflow) {
    raise(ErrorCode::kInvalidArgument, "shape {}: element count overflows int64", to_string(dims));
  }
  return n;
}

Dims contiguous_strides(const Dims& dims) {
  Dims strides(dims.size());
  int64_t s = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = s;
    // Size-0 and size-1 dims keep the stride meaningful (as if size 1).
    int64_t d = dims[i] > 1 ? dims[i] : 1;
    if (i > 0 && __builtin_mul_overflow(s, d, &s)) {
      raise(ErrorCode::kInvalidArgument, "shape {}: strides overflow int64", to_string(dims));
    }
  }
  return strides;
}

}  // namespace kiln
