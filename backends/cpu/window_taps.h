#pragma once
// The taps of a sliding window as a table, for the plain f64 backward kernels (exact, simple):
// for each output position and kernel position, the flat spatial offset it reads in the input.

#include <vector>

#include "compute_window.h"

namespace kiln::cpu {

struct WindowTaps {
  int64_t in_plane = 1, out_plane = 1, taps = 1;
  std::vector<int64_t> offset;        // [out_plane * taps]; -1 where the tap is in the padding
  std::vector<int64_t> padded_count;  // per output: taps inside the input or its explicit pads
};

/// Taps of window w from spatial dims `in` to spatial dims `out`, both row-major.
inline WindowTaps window_taps(const Dims& in, const Dims& out, const Window& w) {
  const size_t n = in.size();
  WindowTaps t;
  t.in_plane = numel(in);
  t.out_plane = numel(out);
  t.taps = numel(w.kernel);
  t.offset.assign(static_cast<size_t>(t.out_plane * t.taps), -1);
  t.padded_count.assign(static_cast<size_t>(t.out_plane), 0);
  Dims o_at(n, 0);
  for (int64_t o = 0; o < t.out_plane; ++o) {
    Dims k_at(n, 0);
    for (int64_t k = 0; k < t.taps; ++k) {
      int64_t flat = 0;
      bool inside = true, padded = true;
      for (size_t d = 0; d < n; ++d) {
        int64_t pos = o_at[d] * w.strides[d] - w.pad_begin[d] + k_at[d] * w.dilations[d];
        inside = inside && pos >= 0 && pos < in[d];
        padded = padded && pos >= -w.pad_begin[d] && pos < in[d] + w.pad_end[d];
        flat = flat * in[d] + pos;
      }
      if (inside) t.offset[static_cast<size_t>(o * t.taps + k)] = flat;
      t.padded_count[static_cast<size_t>(o)] += padded;
      for (size_t d = n; d-- > 0;)  // next kernel position, row-major
        if (++k_at[d] < w.kernel[d])
          break;
        else
          k_at[d] = 0;
    }
    for (size_t d = n; d-- > 0;)  // next output position
      if (++o_at[d] < out[d])
        break;
      else
        o_at[d] = 0;
  }
  return t;
}

/// Spatial dims of an [N, C, spatial...] shape.
inline Dims spatial_dims(const Dims& shape) { return Dims(shape.begin() + 2, shape.end()); }

/// "" when every present input and wanted output is f32, or every one is f64.
inline std::string same_float_dtypes(const NodeView& v) {
  return check_dtypes(v, {v.input_dtype(0) == KILN_DTYPE_F64 ? KILN_DTYPE_F64 : KILN_DTYPE_F32});
}

}  // namespace kiln::cpu
