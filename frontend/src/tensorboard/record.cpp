#include "kiln/frontend/tensorboard/record.h"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiln/runtime/error.h"

namespace kiln::tensorboard {
namespace {

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto kTable = make_table();

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(std::string_view bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char b : data) crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

std::string frame_record(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 16);
  put_u64(out, payload.size());
  put_u32(out, mask_crc(crc32c(out)));
  out.append(payload);
  put_u32(out, mask_crc(crc32c(payload)));
  return out;
}

RecordReadResult parse_records(std::string_view bytes, const std::string& label) {
  RecordReadResult result;
  size_t at = 0;
  for (size_t index = 0; at < bytes.size(); ++index) {
    const size_t left = bytes.size() - at;
    if (left < 12) {
      result.truncated_tail = true;
      result.truncated_bytes = left;
      break;
    }
    const uint64_t length = get_le(bytes, at, 8);
    if (mask_crc(crc32c(bytes.substr(at, 8))) != static_cast<uint32_t>(get_le(bytes, at + 8, 4))) {
      result.errors.push_back(fmt::format(
          "{}: record {} at byte {}: length CRC mismatch; the rest of the file ({} bytes) is unreadable",
          label, index, at, left));
      break;
    }
    if (length > left - 16 || left < 16) {
      result.truncated_tail = true;
      result.truncated_bytes = left;
      break;
    }
    std::string_view data = bytes.substr(at + 12, length);
    if (mask_crc(crc32c(data)) != static_cast<uint32_t>(get_le(bytes, at + 12 + length, 4)))
      result.errors.push_back(fmt::format("{}: record {} at byte {}: data CRC mismatch", label, index, at));
    else
      result.records.emplace_back(data);
    at += 16 + length;
  }
  return result;
}

RecordReadResult read_records(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) raise(ErrorCode::kNotFound, "{}: no such file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) raise(ErrorCode::kIo, "{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) raise(ErrorCode::kIo, "{}: read failed: {}", path, std::strerror(errno));
  return parse_records(buffer.str(), path);
}

}  // namespace kiln::tensorboard
