#pragma once
// NumPy .npy and .npz files: f32, f64, f16, i64, i32, i8, u8, bool in C order (big-endian data is
// converted on read); npz stored or deflated. bf16 has no numpy dtype: writing it is kUnsupported.

#include <map>
#include <string>

#include "kiln/runtime/tensor.h"

namespace kiln {

/// Reads one array. Throws Error(kIo) when the file cannot be read and Error(kInvalidArgument)
/// naming the file and the problem (bad magic, header, dtype, Fortran order, truncated data).
Tensor read_npy(const std::string& path);
/// Writes one array (contiguous copy, C order). Throws Error(kIo) naming the path.
void write_npy(const std::string& path, const Tensor& tensor);
/// Reads every array of an .npz (stored or deflated members), keyed by name without ".npy".
std::map<std::string, Tensor> read_npz(const std::string& path);
/// Writes an .npz; compress selects deflate over stored members.
void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays, bool compress = false);

}  // namespace kiln
