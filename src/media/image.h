// Decoded still images. src/media is the only place in Takeback that calls
// image decoders; nothing else includes a decoder header.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace takeback::media {

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp, kGif, kBmp, kHeif };

// "jpeg", "png", ... ; "unknown" for kUnknown.
std::string_view ImageFormatName(ImageFormat format);

// Identifies the container by its magic bytes, never by file name.
ImageFormat SniffImageFormat(std::span<const std::uint8_t> data);

// 8-bit pixels, rows top to bottom, interleaved channels, no padding.
// channels is 1 (grey) or 3 (RGB). Alpha is dropped without compositing and
// CMYK is converted to RGB, both the way ImageMagick 6 does when it writes
// PNM, because Meta's reference PDQ hasher sees the pixels that way. For the
// same reason an RGB image whose every pixel has R == G == B comes back with
// channels == 1 (ImageMagick writes such an image as PGM).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<std::uint8_t> pixels;  // width * height * channels bytes
};

struct DecodeOptions {
  // Refuse images with more pixels than this, checked from the header
  // before any pixel buffer is allocated.
  std::uint64_t max_pixels = 100'000'000;
  // Apply the EXIF Orientation tag (JPEG, and HEIF's own transforms). Off
  // by default: the reference hasher ignores EXIF.
  bool auto_orient = false;
  // Fast path, never the default: JPEG only, let libjpeg scale in the DCT
  // domain (by N/8) to the smallest size whose sides are both at least this
  // many pixels, with its fast integer IDCT. Much faster on camera photos,
  // but the pixels (so the PDQ bits) differ a little from a full decode.
  // 0 decodes at full size, as bit-exact hashing needs.
  int jpeg_fast_min_side = 0;
};

// Decodes the first frame of a JPEG, PNG, WebP, GIF, BMP or HEIC/AVIF image.
// Errors: kUnsupported (not an image, or a format this build lacks),
// kCorrupt (damaged or truncated data), kTooLarge (over max_pixels).
// Never aborts or reads out of bounds on hostile input.
Result<Image> DecodeImage(std::span<const std::uint8_t> data, const DecodeOptions& options);

}  // namespace takeback::media
