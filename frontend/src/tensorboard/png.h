#pragma once
// A minimal PNG encoder over zlib: 8-bit gray, RGB or RGBA, no filtering.

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::tensorboard {

/// PNG bytes of height x width pixels of channels (1, 3 or 4) interleaved bytes, row-major.
/// Throws Error(kInvalidArgument) on a bad size or channel count, Error(kInternal) when zlib fails.
std::string encode_png(const std::vector<uint8_t>& pixels, int height, int width, int channels);

}  // namespace kiln::tensorboard
