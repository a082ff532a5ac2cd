#pragma once
// numpy-style broadcasting for the kernels written in plain C++ (integer arithmetic, Pow,
// expanding an operand before a oneDNN primitive).

#include <algorithm>
#include <array>
#include <cstddef>

#include "kernel.h"

namespace kiln::cpu {

/// True when `in` broadcasts to `out` under numpy rules (right aligned, dims equal or 1).
inline bool broadcastable(const Dims& in, const Dims& out) {
  if (in.size() > out.size()) return false;
  for (size_t k = 0; k < in.size(); ++k) {
    int64_t i = in[in.size() - 1 - k], o = out[out.size() - 1 - k];
    if (i != o && i != 1) return false;
  }
  return true;
}

/// The numpy broadcast of two shapes; throws via fail() naming the node when they clash.
inline Dims broadcast_shape(const NodeView& v, const Dims& a, const Dims& b) {
  Dims out(std::max(a.size(), b.size()), 1);
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t x = k < a.size() ? a[a.size() - 1 - k] : 1;
    int64_t y = k < b.size() ? b[b.size() - 1 - k] : 1;
    if (x != y && x != 1 && y != 1) fail(v, "shapes do not broadcast");
    out[out.size() - 1 - k] = x == 1 ? y : x;
  }
  return out;
}

/// Shape `in` with leading 1s up to `rank` dims.
inline Dims pad_rank(const Dims& in, size_t rank) {
  Dims out(rank > in.size() ? rank - in.size() : 0, 1);
  out.insert(out.end(), in.begin(), in.end());
  return out;
}

/// Element strides of a contiguous tensor of shape `in` read as shape `out`: 0 on the dims
/// that broadcast. `in` must be broadcastable to `out`.
inline Dims broadcast_strides(const Dims& in, const Dims& out) {
  Dims strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    size_t i = in.size() - 1 - k, o = out.size() - 1 - k;
    strides[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return strides;
}

/// Calls f(o, offsets) for every element o of `out` in row-major order; offsets[k] is the
/// matching element offset in input k, whose strides (from broadcast_strides) are strides[k].
template <size_t N, class F>
void for_each_broadcast(const Dims& out, const std::array<Dims, N>& strides, F&& f) {
  int64_t total = numel(out);
  if (total == 0) return;
  std::array<int64_t, N> base{};
  if (out.empty()) {
    f(int64_t{0}, base);
    return;
  }
  size_t rank = out.size();
  int64_t inner = out[rank - 1];
  std::array<int64_t, N> step{};
  for (size_t k = 0; k < N; ++k) step[k] = strides[k][rank - 1];
  Dims index(rank, 0);
  for (int64_t o = 0; o < total; o += inner) {
    std::array<int64_t, N> offs = base;
    for (int64_t i = 0; i < inner; ++i) {
      f(o + i, offs);
      for (size_t k = 0; k < N; ++k) offs[k] += step[k];
    }
    for (size_t d = rank - 1; d-- > 0;) {  // odometer over the outer dims
      ++index[d];
      for (size_t k = 0; k < N; ++k) base[k] += strides[k][d];
      if (index[d] < out[d]) break;
      for (size_t k = 0; k < N; ++k) base[k] -= strides[k][d] * out[d];
      index[d] = 0;
    }
  }
}

/// Copies `src` (shape `in`) broadcast to shape `out` into `dst`.
template <class T>
void expand_into(const T* src, const Dims& in, T* dst, const Dims& out) {
  for_each_broadcast<1>(out, {broadcast_strides(in, out)},
                        [&](int64_t o, const std::array<int64_t, 1>& off) { dst[o] = src[off[0]]; });
}

/// out = op(a, b) elementwise with numpy broadcasting of a and b to `out_shape`.
template <class T, class U, class R, class Op>
void broadcast_apply(const T* a, const Dims& a_shape, const U* b, const Dims& b_shape, R* out,
                     const Dims& out_shape, Op&& op) {
  for_each_broadcast<2>(out_shape, {broadcast_strides(a_shape, out_shape), broadcast_strides(b_shape, out_shape)},
                        [&](int64_t o, const std::array<int64_t, 2>& off) { out[o] = op(a[off[0]], b[off[1]]); });
}

}  // namespace kiln::cpu
