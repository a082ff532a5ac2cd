#pragma once
// safetensors files (the format of Hugging Face's `safetensors`, read by
// safetensors.torch.load_file): an 8-byte little-endian header length, a JSON header
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}} padded
// with spaces to a multiple of 8 bytes, then the tensors' raw little-endian bytes in C order.

#include <map>
#include <string>

#include "kiln/runtime/tensor.h"

namespace kiln {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;  // host tensors, contiguous
  std::map<std::string, std::string> metadata;
};

/// Writes tensors (any device and strides; copied to the host in C order) and metadata to path
/// through a temporary file that replaces path only when complete (fsynced, folder fsynced).
/// Dtypes: F32, F64, F16, BF16, I64, I32, I8, U8, BOOL. Throws Error(kInvalidArgument) for an
/// undefined tensor, an empty name or "__metadata__" as a name, and Error(kIo) naming the path
/// when it cannot be written (no partial file is left behind).
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// Reads a safetensors file. Throws Error(kIo) when it cannot be read, and
/// Error(kInvalidArgument) naming the file, the tensor and the problem for a bad file: a header
/// length past the end, a header that is not a JSON object, an unknown dtype (kUnsupported for
/// U16/U32/U64/I16 and other dtypes kiln lacks), a shape or data_offsets that do not fit the
/// dtype, overlapping or out-of-range data, or bytes no tensor covers.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace kiln
