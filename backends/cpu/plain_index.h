#pragma once
// Table-driven strided copy. Transpose, Slice, Expand, Tile and Pad all produce a contiguous
// output whose element at (i0, ..., ik) comes from src[map0[i0] + ... + mapk[ik]] (element
// offsets), or is a fill value where some map says kOutside. One table per output axis keeps
// every such op a few lines: it only has to say where each output index reads from.

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "plain_util.h"

namespace kiln::cpu::plain {

class MappedCopy {
 public:
  static constexpr int64_t kOutside = -1;

  MappedCopy() = default;
  /// maps[d] has out_dims[d] entries: source element offsets (>= 0) or kOutside.
  MappedCopy(size_t esize, const Dims& out_dims, const std::vector<std::vector<int64_t>>& maps)
      : esize_(esize), total_(numel(out_dims)) {
    if (total_ == 0) return;
    for (size_t d = 0; d < out_dims.size(); ++d) {
      if (out_dims[d] == 1) {  // a size-1 axis only shifts the base offset
        if (maps[d][0] == kOutside) base_outside_ = true;
        else base_ += maps[d][0];
      } else if (d + 1 < out_dims.size()) {
        outer_dims_.push_back(out_dims[d]);
        outer_maps_.push_back(maps[d]);
      } else {
        inner_map_ = maps[d];
      }
    }
    if (inner_map_.empty()) {  // the last axis had size 1 (or rank 0): promote one outer axis
      if (!outer_dims_.empty()) {
        inner_map_ = std::move(outer_maps_.back());
        outer_maps_.pop_back();
        outer_dims_.pop_back();
      } else {
        inner_map_ = {0};
      }
    }
    inner_ = static_cast<int64_t>(inner_map_.size());
    build_segments();
  }

  /// Writes the whole output. `fill` points at one element; it is read only when a map has
  /// kOutside entries. Never throws.
  void run(const void* src, void* dst, const void* fill) const {
    if (total_ == 0) return;
    switch (esize_) {
      case 1: run_typed<uint8_t>(src, dst, fill); break;
      case 2: run_typed<uint16_t>(src, dst, fill); break;
      case 4: run_typed<uint32_t>(src, dst, fill); break;
      case 8: run_typed<uint64_t>(src, dst, fill); break;
      default: break;  // callers only build tables for sizes 1, 2, 4 and 8
    }
  }

 private:
  struct Segment {
    int64_t start, len, src;  // src == kOutside: a run of fill values
  };

  // Runs of consecutive source offsets (or of fills) along the inner axis become memcpy calls;
  // when runs are short (e.g. a transposed inner axis) an element loop is faster.
  void build_segments() {
    for (int64_t i = 0; i < inner_;) {
      int64_t j = i + 1;
      if (inner_map_[i] == kOutside) {
        while (j < inner_ && inner_map_[j] == kOutside) ++j;
      } else {
        while (j < inner_ && inner_map_[j] != kOutside && inner_map_[j] == inner_map_[j - 1] + 1) ++j;
      }
      segments_.push_back({i, j - i, inner_map_[i]});
      i = j;
    }
    if (static_cast<int64_t>(segments_.size()) * 4 > inner_ && inner_ > 1) segments_.clear();
  }

  template <class T>
  void run_typed(const void* src_v, void* dst_v, const void* fill_v) const {
    const T* src = static_cast<const T*>(src_v);
    T* dst = static_cast<T*>(dst_v);
    T fill{};
    if (fill_v) std::memcpy(&fill, fill_v, sizeof(T));
    constexpr int64_t kBlock = int64_t{1} << 14;  // long rows are split so 1-D copies parallelize
    const int64_t blocks = (inner_ + kBlock - 1) / kBlock;
    const int64_t rows = numel(outer_dims_);
    const size_t rank = outer_dims_.size();

    parallel_range(rows * blocks, total_ * static_cast<int64_t>(sizeof(T)), [&](int64_t begin, int64_t end) {
      Dims idx(rank, 0);
      for (int64_t r = begin / blocks, d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
        idx[d] = r % outer_dims_[d];
        r /= outer_dims_[d];
      }
      for (int64_t item = begin; item < end; ++item) {
        int64_t row = item / blocks, block = item % blocks;
        if (item != begin && block == 0) {  // next row: advance the odometer
          for (size_t d = rank; d-- > 0;) {
            if (++idx[d] < outer_dims_[d]) break;
            idx[d] = 0;
          }
        }
        int64_t off = base_;
        bool outside = base_outside_;
        for (size_t d = 0; d < rank; ++d) {
          int64_t m = outer_maps_[d][idx[d]];
          if (m == kOutside) outside = true;
          off += m;
        }
        int64_t lo = block * kBlock, hi = std::min(inner_, lo + kBlock);
        T* out = dst + row * inner_;
        if (outside) {
          std::fill(out + lo, out + hi, fill);
        } else if (!segments_.empty()) {
          for (const Segment& s : segments_) {
            int64_t a = std::max(lo, s.start), b = std::min(hi, s.start + s.len);
            if (a >= b) continue;
            if (s.src == kOutside) std::fill(out + a, out + b, fill);
            else std::memcpy(out + a, src + off + s.src + (a - s.start), static_cast<size_t>(b - a) * sizeof(T));
          }
        } else {
          const int64_t* map = inner_map_.data();
          for (int64_t i = lo; i < hi; ++i) out[i] = map[i] == kOutside ? fill : src[off + map[i]];
        }
      }
    });
  }

  size_t esize_ = 0;
  int64_t total_ = 0;
  Dims outer_dims_;
  std::vector<std::vector<int64_t>> outer_maps_;
  int64_t base_ = 0;
  bool base_outside_ = false;
  int64_t inner_ = 1;
  std::vector<int64_t> inner_map_;
  std::vector<Segment> segments_;  // empty: copy element by element
};

/// The map of an axis read at offsets start, start + step, ... scaled by stride.
inline std::vector<int64_t> strided_map(int64_t count, int64_t start, int64_t step, int64_t stride) {
  std::vector<int64_t> m(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) m[i] = (start + i * step) * stride;
  return m;
}

}  // namespace kiln::cpu::plain
