#pragma once
// Sliding-window geometry shared by Conv, ConvTranspose and the pools: kernel, strides,
// dilations and pads per spatial dim, with auto_pad resolved.

#include <algorithm>
#include <cstddef>
#include <string>

#include "kernel.h"

namespace kiln::cpu {

struct Window {
  Dims kernel, strides, dilations, pad_begin, pad_end;  // one entry per spatial dim

  int64_t extent(size_t d) const { return (kernel[d] - 1) * dilations[d] + 1; }
  /// oneDNN counts dilation from 0 (no gaps).
  Dims dnnl_dilations() const {
    Dims out(dilations);
    for (int64_t& d : out) d -= 1;
    return out;
  }
};

/// Reads strides, dilations, pads and auto_pad for `kernel` over the spatial input dims
/// `in`. SAME_UPPER/SAME_LOWER give ceil(in / stride) outputs, the odd pad going to the end
/// (UPPER) or the beginning (LOWER). Returns "" or the reason the attributes are invalid.
inline std::string read_window(const NodeView& v, const Dims& in, const Dims& kernel, Window& w) {
  size_t n = in.size();
  w.kernel = kernel;
  w.strides = v.attr_ints("strides", Dims(n, 1));
  w.dilations = v.attr_ints("dilations", Dims(n, 1));
  Dims pads = v.attr_ints("pads", Dims(2 * n, 0));
  if (w.kernel.size() != n) return "kernel_shape has " + std::to_string(w.kernel.size()) + " dims, expected " + std::to_string(n);
  if (w.strides.size() != n) return "strides has " + std::to_string(w.strides.size()) + " dims, expected " + std::to_string(n);
  if (w.dilations.size() != n) return "dilations has " + std::to_string(w.dilations.size()) + " dims, expected " + std::to_string(n);
  if (pads.size() != 2 * n) return "pads has " + std::to_string(pads.size()) + " entries, expected " + std::to_string(2 * n);
  for (size_t d = 0; d < n; ++d) {
    if (w.kernel[d] < 1 || w.strides[d] < 1 || w.dilations[d] < 1)
      return "kernel_shape, strides and dilations must be positive";
    if (pads[d] < 0 || pads[n + d] < 0) return "pads must not be negative";
  }
  w.pad_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(n));
  w.pad_end.assign(pads.begin() + static_cast<std::ptrdiff_t>(n), pads.end());
  std::string auto_pad = v.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) return "";
  if (auto_pad == "VALID") {
    w.pad_begin.assign(n, 0);
    w.pad_end.assign(n, 0);
    return "";
  }
  if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") return "unknown auto_pad '" + auto_pad + "'";
  for (size_t d = 0; d < n; ++d) {
    int64_t out = (in[d] + w.strides[d] - 1) / w.strides[d];
    int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[d] + w.extent(d) - in[d]);
    w.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    w.pad_end[d] = total - w.pad_begin[d];
  }
  return "";
}

/// Output size of a convolution window along spatial dim d (floor division).
inline int64_t conv_out_size(const Window& w, size_t d, int64_t in) {
  return (in + w.pad_begin[d] + w.pad_end[d] - w.extent(d)) / w.strides[d] + 1;
}

}  // namespace kiln::cpu
