#include "png.h"

#include <zlib.h>

#include "kiln/runtime/error.h"

namespace kiln::tensorboard {
namespace {

void put_u32_be(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void chunk(std::string& out, const char* type, const std::string& data) {
  put_u32_be(out, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  out += body;
  uLong crc = ::crc32(0L, Z_NULL, 0);
  crc = ::crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  put_u32_be(out, static_cast<uint32_t>(crc));
}

}  // namespace

std::string encode_png(const std::vector<uint8_t>& pixels, int height, int width, int channels) {
  if (height <= 0 || width <= 0)
    raise(ErrorCode::kInvalidArgument, "PNG image of {}x{} pixels", height, width);
  int color_type = 0;
  switch (channels) {
    case 1:
      color_type = 0;
      break;
    case 3:
      color_type = 2;
      break;
    case 4:
      color_type = 6;
      break;
    default:
      raise(ErrorCode::kInvalidArgument, "PNG image with {} channels; expected 1, 3 or 4", channels);
  }
  const size_t row = static_cast<size_t>(width) * static_cast<size_t>(channels);
  if (pixels.size() != row * static_cast<size_t>(height))
    raise(ErrorCode::kInvalidArgument, "PNG image: {} bytes for {}x{}x{}", pixels.size(), height, width,
          channels);
  std::string raw;
  raw.reserve((row + 1) * static_cast<size_t>(height));
  for (int y = 0; y < height; ++y) {
    raw.push_back('\0');  // filter type None
    raw.append(reinterpret_cast<const char*>(pixels.data()) + static_cast<size_t>(y) * row, row);
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                Z_BEST_SPEED) != Z_OK)
    raise(ErrorCode::kInternal, "PNG image: zlib compress2 failed");
  packed.resize(packed_size);

  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_u32_be(ihdr, static_cast<uint32_t>(width));
  put_u32_be(ihdr, static_cast<uint32_t>(height));
  ihdr.push_back(8);  // bit depth
  ihdr.push_back(static_cast<char>(color_type));
  ihdr.push_back(0);  // deflate
  ihdr.push_back(0);  // adaptive filtering
  ihdr.push_back(0);  // no interlace
  chunk(out, "IHDR", ihdr);
  chunk(out, "IDAT", packed);
  chunk(out, "IEND", "");
  return out;
}

}  // namespace kiln::tensorboard
