#pragma once
// zlib under the ZIP code: CRC-32 and raw deflate streams (no zlib or gzip wrapper, as ZIP
// method 8 stores them).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::zip {

/// CRC-32 (the ZIP/zlib polynomial) of the concatenated pieces. Never fails.
uint32_t crc32_of(std::span<const std::span<const uint8_t>> pieces);
/// Raw-deflates the concatenated pieces. Throws Error(kInternal) naming where if zlib fails.
std::vector<uint8_t> deflate_raw(std::span<const std::span<const uint8_t>> pieces, const std::string& where);
/// Inflates a raw deflate stream that must decode to exactly expected_size bytes and use all of
/// its input. Throws Error(kInvalidArgument) naming where on corrupt or mis-sized data.
std::vector<uint8_t> inflate_raw(std::span<const uint8_t> compressed, uint64_t expected_size,
                                 const std::string& where);

}  // namespace kiln::zip
