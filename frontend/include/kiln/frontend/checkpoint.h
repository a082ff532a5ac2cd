#pragma once
// Checkpoint files: named tensors (model parameters, optimizer buffers) plus named metadata
// strings (JSON text for optimizer, scheduler, step and RNG state; the caller decides).
//
// Format, little-endian: "KILNCKPT", u32 version (1), u64 payload size, u32 CRC-32 of the
// payload, then the payload: u64 tensor count, each tensor as u32 name size, name, u32 dtype
// (kiln_dtype), u32 rank, i64 dims[rank], u64 data size, data in row-major order; then u64
// metadata count, each as u32 key size, key, u64 value size, value.

#include <map>
#include <string>

#include "kiln/runtime/tensor.h"

namespace kiln {

struct Checkpoint {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

/// Writes checkpoint to path atomically: a temporary file in the same folder, fsync, rename over
/// path, fsync of the folder. On any failure path keeps its previous contents (or stays absent)
/// and Error(kIo) naming path is thrown; an undefined tensor or an empty name throws
/// Error(kInvalidArgument) before anything is written.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

/// Reads a checkpoint written by save_checkpoint; tensors are contiguous host tensors. Throws
/// Error(kIo) when the file cannot be read, Error(kInvalidArgument) naming path when it is not a
/// checkpoint or fails its checksum ("ckpt.bin: checksum mismatch (file corrupted or
/// truncated)"), and Error(kUnsupported) for a newer format version.
Checkpoint load_checkpoint(const std::string& path);

/// Checks that loaded holds exactly the names of expected with the same shapes and dtypes (a
/// checkpoint of the same model). Throws Error(kInvalidArgument) starting with where and listing
/// every name that is missing, unexpected, or has another shape or dtype.
void check_same_tensors(const std::map<std::string, Tensor>& loaded,
                        const std::map<std::string, Tensor>& expected, const std::string& where);

}  // namespace kiln
