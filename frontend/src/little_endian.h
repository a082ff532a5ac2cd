#pragma once
// Little-endian integers in byte buffers, as ZIP archives and checkpoint files store them.

#include <cstdint>
#include <vector>

namespace kiln {

inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t get32(const uint8_t* p) { return uint32_t{get16(p)} | (uint32_t{get16(p + 2)} << 16); }
inline uint64_t get64(const uint8_t* p) { return uint64_t{get32(p)} | (uint64_t{get32(p + 4)} << 32); }

inline void put16(std::vector<uint8_t>& out, uint64_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
inline void put32(std::vector<uint8_t>& out, uint64_t v) {
  put16(out, v & 0xffff);
  put16(out, (v >> 16) & 0xffff);
}
inline void put64(std::vector<uint8_t>& out, uint64_t v) {
  put32(out, v & 0xffffffff);
  put32(out, v >> 32);
}

}  // namespace kiln
