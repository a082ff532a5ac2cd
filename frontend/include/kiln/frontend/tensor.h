#pragma once
// The frontend's tensor API, libtorch-style: creation (zeros, arange, rand with a seeded
// generator...), stacking, indexing and printing on top of the runtime's Tensor and its eager
// ops (kiln/runtime/tensor_ops.h, re-exported here).

#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kiln/runtime/autograd.h"
#include "kiln/runtime/tensor.h"
#include "kiln/runtime/tensor_ops.h"

namespace kiln {

/// A seeded source of random numbers (64-bit Mersenne Twister). Its state can be saved and
/// restored, so a resumed run draws the same numbers as one that never stopped.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}
  void manual_seed(uint64_t seed) { engine_.seed(seed); }
  std::mt19937_64& engine() { return engine_; }
  /// The full engine state as text.
  std::string state() const;
  /// Restores a state() string. Throws Error(kInvalidArgument) when it is not one.
  void set_state(const std::string& state);

 private:
  std::mt19937_64 engine_;
};

/// The generator used when none is given (seed 0 until manual_seed).
Generator& default_generator();
void manual_seed(uint64_t seed);

// ---- Creation (host tensors; move them with to()). Each throws Error(kInvalidArgument) on a
// ---- negative dim or an unsupported dtype.
Tensor zeros(const Dims& shape, DType dtype = DType::kF32);
Tensor ones(const Dims& shape, DType dtype = DType::kF32);
Tensor full(const Dims& shape, double value, DType dtype = DType::kF32);
/// start, start+step, ... up to (not including) end. Throws when step is 0.
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::kF32);
Tensor arange(int64_t end, DType dtype = DType::kI64);
/// steps evenly spaced values from start to end inclusive. Throws when steps < 0.
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::kF32);
/// Uniform in [0, 1).
Tensor rand(const Dims& shape, Generator& gen = default_generator(), DType dtype = DType::kF32);
/// Uniform in [low, high).
Tensor uniform(const Dims& shape, double low, double high, Generator& gen = default_generator(),
               DType dtype = DType::kF32);
/// Standard normal.
Tensor randn(const Dims& shape, Generator& gen = default_generator(), DType dtype = DType::kF32);
/// Integers uniform in [low, high), i64. Throws when high <= low.
Tensor randint(int64_t low, int64_t high, const Dims& shape, Generator& gen = default_generator());
/// A random permutation of 0..n-1, i64.
Tensor randperm(int64_t n, Generator& gen = default_generator());
/// A tensor over memory the caller owns and keeps alive; nothing is copied.
Tensor from_blob(void* data, const Dims& shape, DType dtype);

// ---- Joining and indexing (differentiable) ----
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
/// Joins equal-shaped tensors along a new axis dim. Throws when the list is empty or shapes differ.
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
/// The slice at index along dim, with that axis removed (a view). Negative index counts from the end.
Tensor select(const Tensor& t, int64_t dim, int64_t index);
/// Entries along dim picked by an i64 index tensor (a copy).
Tensor index_select(const Tensor& t, int64_t dim, const Tensor& indices);
Tensor flatten(const Tensor& t, int64_t start_dim = 0, int64_t end_dim = -1);

/// The element at a full index, converted to T. Throws on a wrong rank or an index out of range.
template <class T>
T value_at(const Tensor& t, const Dims& index);

/// Prints like PyTorch: tensor([[1.0000, 2.0000], ...], dtype=f32, requires_grad=true).
std::ostream& operator<<(std::ostream& os, const Tensor& t);
/// The printed form as a string.
std::string format_tensor(const Tensor& t);

}  // namespace kiln
