#pragma once
// The .npy format (numpy.lib.format): magic "\x93NUMPY", a version byte pair, a little-endian
// header length (2 bytes in 1.0, 4 in 2.0 and 3.0), then a Python dict literal with 'descr',
// 'fortran_order' and 'shape', padded with spaces and a final '\n' so the data starts on a
// 64-byte boundary, then the elements.

#include <cstdint>
#include <string>
#include <string_view>

#include "kiln/runtime/dtype.h"
#include "kiln/runtime/shape.h"
#include "kiln/runtime/tensor.h"
#include "npy_file.h"

namespace kiln::npy {

// numpy itself allows 32 (1.x) or 64 (2.x) dims; more means a corrupt or hostile header.
inline constexpr size_t kMaxRank = 64;
// numpy refuses headers over 10000 bytes by default; 1 MiB leaves room without reading gigabytes.
inline constexpr uint64_t kMaxHeaderBytes = uint64_t{1} << 20;

struct Header {
  DType dtype = DType::kUndefined;
  Dims shape;
  bool byte_swap = false;    // big-endian data, swapped to the host's little-endian order on read
  uint64_t data_offset = 0;  // where the elements start
};

/// Parses the header dict text. Throws Error(kInvalidArgument) naming where and the problem:
/// malformed literal, missing/unknown/duplicate key, unsupported dtype, Fortran order, bad shape.
Header parse_header_dict(std::string_view text, const std::string& where);
/// Reads and parses the magic, version and header dict. Throws like parse_header_dict, and on a
/// bad magic, an unknown version or a truncated header.
Header read_header(const ByteSource& source);
/// Reads a whole .npy: the data must be exactly as long as the shape says. Throws like
/// read_header, and Error(kInvalidArgument) on short or over-long data.
Tensor read_array(const ByteSource& source);

/// The bytes numpy's np.save writes before the data: version 1.0, keys sorted, 21 spare spaces
/// for the first dim to grow, padded to 64 bytes. Throws Error(kUnsupported) for a dtype numpy
/// has no equivalent of (bf16) and Error(kInvalidArgument) for an undefined tensor or rank > 64;
/// messages start with where ("cannot write 'a.npy'").
std::string encode_header(DType dtype, const Dims& shape, const std::string& where);
/// The tensor as contiguous host memory in row-major order (a copy when it is not already).
/// Throws Error(kInvalidArgument), starting with where, for an undefined tensor.
Tensor host_contiguous(const Tensor& tensor, const std::string& where);

}  // namespace kiln::npy
