#pragma once
// TFRecord framing, the container of TensorBoard event files. Each record is
//   uint64 length (little-endian), uint32 masked CRC-32C of those 8 bytes,
//   length bytes of data, uint32 masked CRC-32C of the data,
// with mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::tensorboard {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::string_view data);
/// TFRecord's masked form of a CRC.
uint32_t mask_crc(uint32_t crc);
/// The record around payload: header, payload, footer (payload.size() + 16 bytes).
std::string frame_record(std::string_view payload);

/// What a reader got out of a stream of records.
///
/// Decisions: records are read in order. A record whose 8-byte length fails its CRC ends the
/// read (the framing cannot be trusted past it) with an error. A record whose data fails its
/// CRC is reported and skipped, and reading goes on with the next record (its length was
/// verified, so the framing stays in step). A tail shorter than its header or its declared
/// length is an incomplete write (a live writer or a crash) and is skipped without an error;
/// truncated_tail says so.
struct RecordReadResult {
  std::vector<std::string> records;  // payloads of the records that passed both CRCs
  /// One line per bad record: "<label>: record 12 at byte 4096: data CRC mismatch".
  /// Records count from 0 (the file_version record is record 0).
  std::vector<std::string> errors;
  bool truncated_tail = false;
  uint64_t truncated_bytes = 0;  // bytes of the incomplete tail
};

/// Reads the records in bytes; label names the source in errors. Never throws on bad data.
RecordReadResult parse_records(std::string_view bytes, const std::string& label);

/// Reads the records of a file. Throws Error(kNotFound) when it does not exist and Error(kIo)
/// naming the path when it cannot be read; bad records are reported in the result.
RecordReadResult read_records(const std::string& path);

}  // namespace kiln::tensorboard
