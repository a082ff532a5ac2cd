#include "zip_deflate.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "kiln/runtime/error.h"

namespace kiln::zip {
namespace {

// zlib counts in uInt (32 bits): feed large buffers in slices.
constexpr size_t kSlice = size_t{1} << 30;
constexpr int kRawWindowBits = -15;  // negative: raw deflate, no zlib header or trailer

}  // namespace

uint32_t crc32_of(std::span<const std::span<const uint8_t>> pieces) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::span<const uint8_t> piece : pieces) {
    for (size_t at = 0; at < piece.size(); at += kSlice) {
      const size_t n = std::min(kSlice, piece.size() - at);
      crc = crc32(crc, piece.data() + at, static_cast<uInt>(n));
    }
  }
  return static_cast<uint32_t>(crc);
}

std::vector<uint8_t> deflate_raw(std::span<const std::span<const uint8_t>> pieces, const std::string& where) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kRawWindowBits, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    raise(ErrorCode::kInternal, "{}: deflateInit2 failed", where);
  }
  uLong total = 0;
  for (std::span<const uint8_t> piece : pieces) total += piece.size();
  std::vector<uint8_t> out(deflateBound(&stream, total) + 64);
  size_t written = 0;
  auto pump = [&](const uint8_t* data, size_t n, int flush) {
    stream.next_in = const_cast<Bytef*>(data);  // zlib's API is not const-correct; it never writes here
    stream.avail_in = static_cast<uInt>(n);
    int rc = Z_OK;
    do {
      if (written == out.size()) out.resize(out.size() * 2);
      const size_t room = std::min(kSlice, out.size() - written);
      stream.next_out = out.data() + written;
      stream.avail_out = static_cast<uInt>(room);
      rc = deflate(&stream, flush);
      written += room - stream.avail_out;
      if (rc == Z_STREAM_ERROR) {
        deflateEnd(&stream);
        raise(ErrorCode::kInternal, "{}: deflate failed", where);
      }
    } while (stream.avail_in > 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  };
  for (std::span<const uint8_t> piece : pieces) {
    for (size_t at = 0; at < piece.size(); at += kSlice)
      pump(piece.data() + at, std::min(kSlice, piece.size() - at), Z_NO_FLUSH);
  }
  pump(nullptr, 0, Z_FINISH);
  deflateEnd(&stream);
  out.resize(written);
  return out;
}

std::vector<uint8_t> inflate_raw(std::span<const uint8_t> compressed, uint64_t expected_size,
                                 const std::string& where) {
  // The declared size comes from the file: grow towards it instead of trusting it with one
  // allocation, so a lying archive fails on its data rather than on a huge allocation.
  if (expected_size > std::numeric_limits<size_t>::max()) {
    raise(ErrorCode::kInvalidArgument, "{}: declared size {} is too large", where, expected_size);
  }
  z_stream stream{};
  if (inflateInit2(&stream, kRawWindowBits) != Z_OK)
    raise(ErrorCode::kInternal, "{}: inflateInit2 failed", where);
  std::vector<uint8_t> out(
      static_cast<size_t>(std::min<uint64_t>(expected_size, uint64_t{compressed.size()} * 4 + 4096)));
  size_t consumed = 0, written = 0;
  uint8_t spare = 0;  // zlib wants a non-null output pointer even when there is no room
  for (;;) {
    if (written == out.size() && out.size() < expected_size) {
      out.resize(static_cast<size_t>(std::min<uint64_t>(expected_size, uint64_t{out.size()} * 2 + 4096)));
    }
    const size_t in_n = std::min(kSlice, compressed.size() - consumed);
    const size_t out_n = std::min(kSlice, out.size() - written);
    stream.next_in = const_cast<Bytef*>(compressed.data() + consumed);  // zlib never writes input
    stream.avail_in = static_cast<uInt>(in_n);
    stream.next_out = out_n > 0 ? out.data() + written : &spare;
    stream.avail_out = static_cast<uInt>(out_n);
    const int rc = inflate(&stream, Z_NO_FLUSH);
    consumed += in_n - stream.avail_in;
    written += out_n - stream.avail_out;
    if (rc == Z_STREAM_END) break;
    std::string problem;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      problem = fmt::format("corrupt deflate data: {}", stream.msg != nullptr ? stream.msg : "unknown error");
    } else if (rc == Z_BUF_ERROR && in_n == 0) {
      problem = "corrupt deflate data: the stream ends early";
    } else if (rc == Z_BUF_ERROR) {
      problem = fmt::format("deflate data decodes to more than the declared {} bytes", expected_size);
    }
    if (!problem.empty()) {
      inflateEnd(&stream);
      raise(ErrorCode::kInvalidArgument, "{}: {}", where, problem);
    }
  }
  inflateEnd(&stream);
  if (written != expected_size) {
    raise(ErrorCode::kInvalidArgument, "{}: deflate data decodes to {} bytes, the archive declares {}", where,
          written, expected_size);
  }
  if (consumed != compressed.size()) {
    raise(ErrorCode::kInvalidArgument, "{}: {} bytes of compressed data after the end of the deflate stream",
          where, compressed.size() - consumed);
  }
  return out;
}

}  // namespace kiln::zip
