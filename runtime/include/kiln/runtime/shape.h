#pragma once
// Shapes of graph values: each dim is a number, a symbol ("N") or unknown.
// Tensors use concrete shapes (std::vector<int64_t>).

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

using Dims = std::vector<int64_t>;

class Dim {
 public:
  Dim() = default;  // unknown
  Dim(int64_t value) : value_(value) {}  // NOLINT: implicit from a number is the common case
  // Any integer, so that a literal 0 is not ambiguous with the const char* constructor.
  template <std::integral T>
  Dim(T value) : value_(static_cast<int64_t>(value)) {}  // NOLINT
  Dim(std::string symbol) : symbol_(std::move(symbol)) {}  // NOLINT
  Dim(const char* symbol) : symbol_(symbol) {}             // NOLINT

  bool is_static() const { return value_ >= 0; }
  bool is_symbolic() const { return value_ < 0 && !symbol_.empty(); }
  bool is_unknown() const { return value_ < 0 && symbol_.empty(); }
  /// The number; -1 when not static.
  int64_t value() const { return value_; }
  const std::string& symbol() const { return symbol_; }
  std::string to_string() const;
  friend bool operator==(const Dim& a, const Dim& b) = default;

 private:
  int64_t value_ = -1;
  std::string symbol_;
};

class Shape {
 public:
  Shape() = default;  // rank 0
  Shape(std::vector<Dim> dims) : dims_(std::move(dims)) {}  // NOLINT
  Shape(std::initializer_list<Dim> dims) : dims_(dims) {}
  static Shape of(const Dims& dims);
  /// A shape whose rank itself is unknown.
  static Shape unknown_rank();

  bool has_rank() const { return has_rank_; }
  size_t rank() const { return dims_.size(); }
  const Dim& operator[](size_t i) const { return dims_[i]; }
  Dim& operator[](size_t i) { return dims_[i]; }
  const std::vector<Dim>& dims() const { return dims_; }
  bool is_static() const;
  /// The concrete dims. Throws Error(kInvalidArgument) when a dim is not static.
  Dims concrete() const;
  /// Product of dims when static, else std::nullopt.
  std::optional<int64_t> numel() const;
  std::string to_string() const;  // "[N,3,224,224]", "[?]" for an unknown dim, "?" for unknown rank
  friend bool operator==(const Shape& a, const Shape& b) = default;

 private:
  std::vector<Dim> dims_;
  bool has_rank_ = true;
};

/// "[2,3]" for concrete dims.
std::string to_string(const Dims& dims);
/// Product of dims; throws Error(kInvalidArgument) on a negative dim or int64 overflow.
int64_t checked_numel(const Dims& dims);
/// Row-major strides in elements.
Dims contiguous_strides(const Dims& dims);

}  // namespace kiln
