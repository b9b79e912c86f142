// Shared pieces of the per-format decoders. Private to src/media: nothing
// outside this folder includes it, and no decoder header appears here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "media/image.h"

namespace takeback::media::internal {

// Fails with kCorrupt for a zero side and kTooLarge when width * height is
// over max_pixels ("image is 30000x30000 = 900 MP, over the 100 MP limit").
// Every decoder calls it with the header's dimensions before it allocates
// any pixel buffer. `format` names the format in messages ("PNG").
Status CheckDimensions(std::uint64_t width, std::uint64_t height, std::uint64_t max_pixels, std::string_view format);

// Resizes `buffer` to `size` bytes; false instead of throwing when memory
// runs out. Safe to call from code that libjpeg/libpng may longjmp across.
[[nodiscard]] bool TryResize(std::vector<std::uint8_t>* buffer, std::size_t size) noexcept;

// ImageMagick writes an RGB image whose every pixel has R == G == B as PGM;
// this turns such a 3-channel image into a 1-channel one in place.
void CollapseGrey(Image* image);

// Applies EXIF orientation 2..8 (1 and unknown values leave the image as
// it is). Fails only when memory runs out.
Status ApplyOrientation(int orientation, Image* image);

// Reads the Orientation tag (0x0112) from IFD0 of an EXIF APP1 payload
// ("Exif\0\0" followed by a TIFF header). Returns 1..8, or 0 when the tag
// is absent, out of range or the structure is damaged. Never reads outside
// `app1`.
int ParseExifOrientation(std::span<const std::uint8_t> app1);

// IM 6 Q16's ScaleQuantumToChar: a 16-bit sample to 8 bits, rounded.
inline std::uint8_t ScaleShortToChar(std::uint32_t value) {
  return static_cast<std::uint8_t>(((value + 128U) - ((value + 128U) >> 8)) >> 8);
}

// Per-format decoders, called by DecodeImage after sniffing. Each returns
// channels 1 or 3 and follows DecodeImage's error contract.
Result<Image> DecodeJpeg(std::span<const std::uint8_t> data, const DecodeOptions& options);
Result<Image> DecodePng(std::span<const std::uint8_t> data, const DecodeOptions& options);
Result<Image> DecodeWebp(std::span<const std::uint8_t> data, const DecodeOptions& options);
Result<Image> DecodeGif(std::span<const std::uint8_t> data, const DecodeOptions& options);
Result<Image> DecodeBmp(std::span<const std::uint8_t> data, const DecodeOptions& options);
Result<Image> DecodeHeif(std::span<const std::uint8_t> data, const DecodeOptions& options);

}  // namespace takeback::media::internal
