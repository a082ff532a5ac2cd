#pragma once
// A small ZIP reader and writer for .npz files (PKWARE APPNOTE layout): local file headers
// followed by member data, then the central directory and the end-of-central-directory record.
// Members are stored (method 0) or deflated (method 8). Reading understands zip64 sizes and
// offsets (numpy's savez writes zip64 extra fields); writing refuses archives that would need them.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "npy_file.h"

namespace kiln::zip {

struct Entry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

struct Directory {
  std::vector<Entry> entries;
  uint64_t data_end = 0;  // where the central directory starts; member data must end before it
};

/// Reads the central directory. Throws Error(kInvalidArgument) naming the archive when it is not
/// a ZIP archive, spans several disks, or its directory is truncated or inconsistent.
Directory read_directory(const npy::ByteSource& archive);
/// One member's bytes: inflated when deflated, sizes and CRC-32 checked. Throws
/// Error(kInvalidArgument) naming the archive and the member on a bad local header, encryption,
/// an unsupported method, corrupt deflate data or a CRC mismatch.
std::vector<uint8_t> read_member(const npy::ByteSource& archive, const Directory& directory,
                                 const Entry& entry);

struct MemberToWrite {
  std::string name;
  std::vector<std::span<const uint8_t>> pieces;  // the member's bytes, concatenated
};
/// Writes members in order, deflated when compress is true, else stored. Throws
/// Error(kUnsupported) naming the archive when a size, an offset or the member count needs zip64,
/// and Error(kIo) when writing fails.
void write_archive(npy::FileSink& sink, std::span<const MemberToWrite> members, bool compress);

}  // namespace kiln::zip
