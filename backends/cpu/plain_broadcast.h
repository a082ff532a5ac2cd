#pragma once
// Numpy broadcasting of N inputs to an output shape, for the element-wise plain kernels
// (Where, Equal, Less, Greater). Axes on which every input is laid out alike are merged, so
// same-shape inputs become one long row and the inner loop stays simple.

#include <array>
#include <cstdint>

#include "plain_util.h"

namespace kiln::cpu::plain {

/// True when `in` broadcasts to `out` (numpy rules, aligned on the right).
inline bool broadcasts_to(const Dims& in, const Dims& out) {
  if (in.size() > out.size()) return false;
  size_t shift = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d)
    if (in[d] != 1 && in[d] != out[d + shift]) return false;
  return true;
}

template <size_t N>
class Broadcast {
 public:
  Broadcast() = default;
  /// Every input must broadcast to out (check with broadcasts_to first).
  Broadcast(const Dims& out, const std::array<Dims, N>& ins) : total_(numel(out)) {
    std::array<Dims, N> full;  // element strides aligned to out, 0 on broadcast axes
    for (size_t k = 0; k < N; ++k) {
      Dims s = strides_of(ins[k]);
      size_t shift = out.size() - ins[k].size();
      full[k].assign(out.size(), 0);
      for (size_t d = 0; d < ins[k].size(); ++d) full[k][d + shift] = ins[k][d] == 1 ? 0 : s[d];
    }
    for (size_t d = 0; d < out.size(); ++d) {
      if (out[d] == 1) continue;
      bool merge = !dims_.empty();
      for (size_t k = 0; k < N && merge; ++k) merge = strides_[k].back() == full[k][d] * out[d];
      if (merge) {
        dims_.back() *= out[d];
        for (size_t k = 0; k < N; ++k) strides_[k].back() = full[k][d];
      } else {
        dims_.push_back(out[d]);
        for (size_t k = 0; k < N; ++k) strides_[k].push_back(full[k][d]);
      }
    }
    if (dims_.empty()) {
      dims_ = {1};
      for (size_t k = 0; k < N; ++k) strides_[k] = {0};
    }
  }

  /// Calls f(out_offset, in_offsets, inner_strides, count) for runs of `count` consecutive
  /// output elements; input k's element j of the run is at in_offsets[k] + j * inner_strides[k].
  /// Offsets count elements. Runs in parallel when the output is large; f must not throw.
  template <class F>
  void run(int64_t elem_bytes, F&& f) const {
    if (total_ == 0) return;
    constexpr int64_t kBlock = int64_t{1} << 14;
    const size_t rank = dims_.size() - 1;  // outer axes
    const int64_t inner = dims_.back();
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
    const int64_t rows = total_ / inner;
    std::array<int64_t, N> inner_stride;
    for (size_t k = 0; k < N; ++k) inner_stride[k] = strides_[k].back();

    parallel_range(rows * blocks, total_ * elem_bytes, [&](int64_t begin, int64_t end) {
      Dims idx(rank, 0);
      for (int64_t r = begin / blocks, d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
        idx[d] = r % dims_[d];
        r /= dims_[d];
      }
      for (int64_t item = begin; item < end; ++item) {
        int64_t row = item / blocks, block = item % blocks;
        if (item != begin && block == 0) {
          for (size_t d = rank; d-- > 0;) {
            if (++idx[d] < dims_[d]) break;
            idx[d] = 0;
          }
        }
        int64_t lo = block * kBlock, hi = std::min(inner, lo + kBlock);
        std::array<int64_t, N> off;
        for (size_t k = 0; k < N; ++k) {
          off[k] = lo * inner_stride[k];
          for (size_t d = 0; d < rank; ++d) off[k] += idx[d] * strides_[k][d];
        }
        f(row * inner + lo, off, inner_stride, hi - lo);
      }
    });
  }

 private:
  int64_t total_ = 0;
  Dims dims_;
  std::array<Dims, N> strides_;
};

}  // namespace kiln::cpu::plain
