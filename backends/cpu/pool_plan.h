#pragma once
// The window of a MaxPool / AveragePool node, shared by the forward kernels (pool.cpp) and the
// backward ones (pool_backward.cpp).

#include <string>

#include "compute_window.h"

namespace kiln::cpu {

struct PoolPlan {
  Dims x, y;
  Window w;
  Dims pad_end;  // derived from the output shape; may exceed w.pad_end under ceil_mode
};

/// Plans pooling of x to y (the node's own shapes for the forward op; dY's and X's for the
/// backward ops) with the node's attributes. Returns "" or why the node is not supported.
inline std::string plan_pool(const NodeView& v, const Dims& x, const Dims& y, PoolPlan& p) {
  p.x = x;
  p.y = y;
  if (p.x.size() < 3 || p.x.size() > 5) return "X must have rank 3 to 5 (N, C and 1 to 3 spatial dims)";
  if (p.y.size() != p.x.size() || p.y[0] != p.x[0] || p.y[1] != p.x[1])
    return "output shape does not match X";
  Dims kernel = v.attr_ints("kernel_shape", {});
  Dims in(p.x.begin() + 2, p.x.end());
  std::string why = read_window(v, in, kernel, p.w);
  if (!why.empty()) return why;
  p.pad_end = p.w.pad_end;
  for (size_t d = 0; d < in.size(); ++d) {
    int64_t out = p.y[d + 2];
    if (out == 0 || in[d] == 0) continue;  // empty output: nothing is computed
    if (conv_out_size(p.w, d, in[d]) == out) continue;
    int64_t needed = (out - 1) * p.w.strides[d] + p.w.extent(d) - in[d] - p.w.pad_begin[d];
    // ceil_mode rounds the window count up: at most stride - 1 positions of extra end padding.
    if (v.attr_int("ceil_mode", 0) == 0 || needed <= p.w.pad_end[d] ||
        needed >= p.w.pad_end[d] + p.w.strides[d])
      return "output dim " + std::to_string(d + 2) + " (" + std::to_string(out) +
             ") does not match the pooling window";
    p.pad_end[d] = needed;
  }
  return "";
}

}  // namespace kiln::cpu
