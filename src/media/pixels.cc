// Size checks and pixel-level helpers shared by the decoders.
#include <cstdio>

#include "media/internal.h"

namespace takeback::media::internal {
namespace {

// "900 MP", "1.5 MP", "0.0012 MP".
std::string FormatMegapixels(std::uint64_t pixels) {
  char buffer[32];
  const double mp = static_cast<double>(pixels) / 1e6;
  if (pixels % 1'000'000 == 0 || mp >= 100) {
    std::snprintf(buffer, sizeof buffer, "%.0f MP", mp);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.3g MP", mp);
  }
  return buffer;
}

}  // namespace

Status CheckDimensions(std::uint64_t width, std::uint64_t height, std::uint64_t max_pixels, std::string_view format) {
  if (width == 0 || height == 0) {
    return Corrupt(std::string(format) + " header gives a zero width or height");
  }
  // Image stores int sides; the product of two values below 2^31 fits.
  constexpr std::uint64_t kMaxSide = 0x7FFFFFFF;
  if (width > kMaxSide || height > kMaxSide || width * height > max_pixels) {
    const std::uint64_t pixels = width > kMaxSide || height > kMaxSide ? UINT64_MAX : width * height;
    return TooLarge("image is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                    (pixels == UINT64_MAX ? std::string("too many pixels") : FormatMegapixels(pixels)) + ", over the " +
                    FormatMegapixels(max_pixels) + " limit");
  }
  return Status::Ok();
}

bool TryResize(std::vector<std::uint8_t>* buffer, std::size_t size) noexcept {
  try {
    buffer->resize(size);
    return true;
  } catch (...) {
    return false;
  }
}

void CollapseGrey(Image* image) {
  if (image->channels != 3) return;
  // Raw pointers: this runs over every pixel, also in unoptimised builds.
  std::uint8_t* p = image->pixels.data();
  const std::size_t count = image->pixels.size() / 3;
  const std::uint8_t* end = p + 3 * count;
  for (const std::uint8_t* q = p; q != end; q += 3) {
    if (q[0] != q[1] || q[0] != q[2]) return;
  }
  for (std::size_t i = 0; i < count; ++i) p[i] = p[3 * i];
  image->pixels.resize(count);
  image->pixels.shrink_to_fit();
  image->channels = 1;
}

Status ApplyOrientation(int orientation, Image* image) {
  if (orientation < 2 || orientation > 8) return Status::Ok();
  const std::size_t w = static_cast<std::size_t>(image->width);
  const std::size_t h = static_cast<std::size_t>(image->height);
  const std::size_t c = static_cast<std::size_t>(image->channels);
  const bool swaps = orientation >= 5;
  const std::size_t out_w = swaps ? h : w;
  const std::size_t out_h = swaps ? w : h;
  std::vector<std::uint8_t> out;
  if (!TryResize(&out, image->pixels.size())) return TooLarge("out of memory while orienting the image");
  for (std::size_t oy = 0; oy < out_h; ++oy) {
    for (std::size_t ox = 0; ox < out_w; ++ox) {
      std::size_t sx = 0;
      std::size_t sy = 0;
      switch (orientation) {
        case 2:
          sx = w - 1 - ox;
          sy = oy;
          break;  // mirror left-right
        case 3:
          sx = w - 1 - ox;
          sy = h - 1 - oy;
          break;  // rotate 180
        case 4:
          sx = ox;
          sy = h - 1 - oy;
          break;  // mirror top-bottom
        case 5:
          sx = oy;
          sy = ox;
          break;  // transpose
        case 6:
          sx = oy;
          sy = h - 1 - ox;
          break;  // rotate 90 clockwise
        case 7:
          sx = w - 1 - oy;
          sy = h - 1 - ox;
          break;  // transverse
        default:
          sx = w - 1 - oy;
          sy = ox;
          break;  // 8: rotate 90 anticlockwise
      }
      const std::uint8_t* src = image->pixels.data() + (sy * w + sx) * c;
      std::uint8_t* dst = out.data() + (oy * out_w + ox) * c;
      for (std::size_t k = 0; k < c; ++k) dst[k] = src[k];
    }
  }
  image->pixels = std::move(out);
  image->width = static_cast<int>(out_w);
  image->height = static_cast<int>(out_h);
  return Status::Ok();
}

}  // namespace takeback::media::internal
