#pragma once
// Private to onnx/: reading tensor bytes stored outside the model file, confined to the
// model's folder.

#include <cstdint>
#include <string>

namespace kiln::onnx::detail {

/// The canonical path of `location` inside base_dir. Throws Error(kInvalidArgument) when it is
/// empty, absolute, has a `..` component or (through symlinks) resolves outside base_dir, and
/// Error(kNotFound) when no regular file is there. `what` prefixes every message.
std::string resolve_external_path(const std::string& base_dir, const std::string& location,
                                  const std::string& what);

/// Reads `bytes` bytes at `offset` of path into out (which must hold that many). Throws
/// Error(kInvalidArgument) when offset + bytes runs past the end of the file, Error(kIo) when
/// reading fails.
void read_external_bytes(const std::string& path, uint64_t offset, uint64_t bytes, void* out,
                         const std::string& what);

/// The size of a regular file; throws Error(kIo) when it cannot be read.
uint64_t external_file_size(const std::string& path, const std::string& what);

}  // namespace kiln::onnx::detail
