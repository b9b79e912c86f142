// A bounds-checked BMP reader (no library): Windows BITMAPCOREHEADER and
// BITMAPINFOHEADER v1/v3/v4/v5; 1, 4 and 8 bits with a palette, 24 bits,
// and 16/32 bits as BI_RGB or BI_BITFIELDS/BI_ALPHABITFIELDS; bottom-up or
// top-down. RLE, embedded JPEG/PNG and OS/2 2.x headers are kUnsupported.
//
// Bitfield samples are widened the way ImageMagick 6's bmp.c does (top-
// aligned to 16 bits, then its bit replication) and scaled with
// ScaleQuantumToChar, so 5-6-5 pixels match `convert FILE pnm:-`.
#include <algorithm>
#include <cstring>

#include "media/internal.h"

namespace takeback::media::internal {
namespace {

constexpr std::uint32_t kBiRgb = 0;
constexpr std::uint32_t kBiBitfields = 3;
constexpr std::uint32_t kBiAlphaBitfields = 6;
constexpr std::size_t kFileHeaderSize = 14;

std::uint32_t Le16(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8;
}
std::uint32_t Le32(const std::uint8_t* p) { return Le16(p) | Le16(p + 2) << 16; }

// One colour channel of a BI_BITFIELDS pixel.
struct Field {
  std::uint32_t mask = 0;
  int shift = 0;  // left shift that puts the mask's top bit at bit 31
  int bits = 0;   // contiguous bits below that top bit

  explicit Field(std::uint32_t m) : mask(m) {
    if (mask == 0) return;
    while (((mask << shift) & 0x80000000U) == 0) ++shift;
    while (shift + bits < 32 && ((mask << (shift + bits)) & 0x80000000U) != 0) ++bits;
  }

  std::uint8_t Sample(std::uint32_t pixel, bool sixteen_bit) const {
    std::uint32_t v = ((pixel & mask) << shift) >> 16;
    if (sixteen_bit) {
      if (bits == 5) v |= (v & 0xE000) >> 5;
      if (bits == 6) v |= (v & 0xC000) >> 6;
      if (bits <= 8) v |= (v & 0xFF00) >> 8;
    } else if (bits == 8) {
      v |= v >> 8;
    }
    return ScaleShortToChar(v & 0xFFFF);
  }
};

}  // namespace

Result<Image> DecodeBmp(std::span<const std::uint8_t> data, const DecodeOptions& options) {
  const std::uint8_t* d = data.data();
  const std::size_t size = data.size();
  if (size < kFileHeaderSize + 12) return Corrupt("truncated BMP header");
  const std::uint32_t pixel_offset = Le32(d + 10);
  const std::uint32_t header_size = Le32(d + 14);
  const bool core = header_size == 12;
  if (!core && header_size != 40 && header_size != 52 && header_size != 56 && header_size != 108 &&
      header_size != 124) {
    return Unsupported("unsupported BMP header (" + std::to_string(header_size) + " bytes)");
  }
  if (size < kFileHeaderSize + header_size) return Corrupt("truncated BMP header");
  const std::uint8_t* h = d + kFileHeaderSize;

  std::int64_t width = 0;
  std::int64_t height = 0;
  std::uint32_t bpp = 0;
  std::uint32_t compression = kBiRgb;
  std::uint32_t colors_used = 0;
  if (core) {
    width = Le16(h + 4);
    height = Le16(h + 6);
    bpp = Le16(h + 10);
  } else {
    width = static_cast<std::int32_t>(Le32(h + 4));
    height = static_cast<std::int32_t>(Le32(h + 8));
    bpp = Le16(h + 14);
    compression = Le32(h + 16);
    colors_used = Le32(h + 32);
  }
  const bool top_down = height < 0;
  if (top_down) height = -height;
  if (width < 0) return Corrupt("BMP header gives a negative width");
  TAKEBACK_RETURN_IF_ERROR(CheckDimensions(static_cast<std::uint64_t>(width), static_cast<std::uint64_t>(height),
                                           options.max_pixels, "BMP"));

  const bool bitfields = compression == kBiBitfields || compression == kBiAlphaBitfields;
  if (compression != kBiRgb && !bitfields) {
    return Unsupported("unsupported BMP compression " + std::to_string(compression) + " (RLE, JPEG or PNG)");
  }
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) {
    return Unsupported("unsupported BMP depth of " + std::to_string(bpp) + " bits");
  }
  if (bitfields && bpp != 16 && bpp != 32) return Corrupt("BMP bitfields with " + std::to_string(bpp) + " bits");

  // Masks: in the header from v3 (52 bytes) on, else right after a v1 header.
  std::size_t after_header = kFileHeaderSize + header_size;
  std::uint32_t masks[3] = {0, 0, 0};
  if (bitfields) {
    const std::uint8_t* m = nullptr;
    if (header_size >= 52) {
      m = h + 40;
    } else {
      if (size < after_header + 12) return Corrupt("truncated BMP bitfield masks");
      m = d + after_header;
      after_header += compression == kBiAlphaBitfields ? 16 : 12;
    }
    for (int i = 0; i < 3; ++i) masks[i] = Le32(m + 4 * i);
  } else if (bpp == 16) {
    masks[0] = 0x7C00;
    masks[1] = 0x03E0;
    masks[2] = 0x001F;
  } else if (bpp == 32) {
    masks[0] = 0x00FF0000;
    masks[1] = 0x0000FF00;
    masks[2] = 0x000000FF;
  }

  // Palette for 1/4/8 bits: B, G, R (, reserved) entries before the pixels.
  std::vector<std::uint8_t> palette;  // RGB triples
  if (bpp <= 8) {
    const std::size_t entry_size = core ? 3 : 4;
    std::size_t entries = colors_used != 0 ? colors_used : (std::size_t{1} << bpp);
    entries = std::min(entries, std::size_t{1} << bpp);
    if (after_header + entries * entry_size > size) return Corrupt("truncated BMP palette");
    palette.resize(entries * 3);
    for (std::size_t i = 0; i < entries; ++i) {
      const std::uint8_t* e = d + after_header + i * entry_size;
      palette[3 * i] = e[2];
      palette[3 * i + 1] = e[1];
      palette[3 * i + 2] = e[0];
    }
  }

  const std::uint64_t w = static_cast<std::uint64_t>(width);
  const std::uint64_t rows = static_cast<std::uint64_t>(height);
  const std::uint64_t stride = (w * bpp + 31) / 32 * 4;
  const std::uint64_t last_row_bytes = (w * bpp + 7) / 8;
  if (pixel_offset > size || (size - pixel_offset) < stride * (rows - 1) + last_row_bytes) {
    return Corrupt("truncated BMP data");
  }

  Image image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.channels = 3;
  if (!TryResize(&image.pixels, static_cast<std::size_t>(w * rows * 3))) {
    return TooLarge("out of memory for the BMP's pixels");
  }
  const Field red(masks[0]);
  const Field green(masks[1]);
  const Field blue(masks[2]);
  const std::size_t palette_entries = palette.size() / 3;
  for (std::uint64_t y = 0; y < rows; ++y) {
    const std::uint8_t* in = d + pixel_offset + stride * (top_down ? y : rows - 1 - y);
    std::uint8_t* out = image.pixels.data() + y * w * 3;
    for (std::uint64_t x = 0; x < w; ++x, out += 3) {
      if (bpp <= 8) {
        const std::uint64_t bit = x * bpp;
        const std::uint32_t index = (in[bit / 8] >> (8 - bpp - bit % 8)) & ((1U << bpp) - 1);
        const std::size_t entry = index < palette_entries ? index : 0;  // ImageMagick: ConstrainColormapIndex
        if (palette_entries == 0) {
          out[0] = out[1] = out[2] = 0;
        } else {
          std::memcpy(out, palette.data() + 3 * entry, 3);
        }
      } else if (bpp == 24) {
        out[0] = in[3 * x + 2];
        out[1] = in[3 * x + 1];
        out[2] = in[3 * x];
      } else {
        const bool sixteen = bpp == 16;
        const std::uint32_t pixel = sixteen ? Le16(in + 2 * x) : Le32(in + 4 * x);
        out[0] = red.Sample(pixel, sixteen);
        out[1] = green.Sample(pixel, sixteen);
        out[2] = blue.Sample(pixel, sixteen);
      }
    }
  }
  CollapseGrey(&image);
  return image;
}

}  // namespace takeback::media::internal
