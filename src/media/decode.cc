// Format sniffing and dispatch to the per-format decoders.
#include <cstring>
#include <new>

#include "media/image.h"
#include "media/internal.h"

namespace takeback::media {
namespace {

bool StartsWith(std::span<const std::uint8_t> data, std::string_view magic, std::size_t offset = 0) {
  return data.size() >= offset + magic.size() && std::memcmp(data.data() + offset, magic.data(), magic.size()) == 0;
}

std::uint32_t ReadLe32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

std::uint32_t ReadBe32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}

bool IsHeifBrand(const std::uint8_t* brand) {
  static constexpr std::string_view kBrands[] = {"heic", "heix", "hevc", "hevx", "heim", "heis",
                                                 "mif1", "msf1", "avif", "avis", "mif2"};
  for (std::string_view b : kBrands) {
    if (std::memcmp(brand, b.data(), 4) == 0) return true;
  }
  return false;
}

// An ISO-BMFF "ftyp" box whose major or a compatible brand is HEIF/AVIF.
bool IsHeif(std::span<const std::uint8_t> data) {
  if (data.size() < 16 || !StartsWith(data, "ftyp", 4)) return false;
  std::uint64_t box_size = ReadBe32(data.data());
  if (box_size < 16) return false;
  const std::size_t end = static_cast<std::size_t>(std::min<std::uint64_t>(box_size, data.size()));
  if (IsHeifBrand(data.data() + 8)) return true;
  for (std::size_t at = 16; at + 4 <= end; at += 4) {  // compatible brands follow the minor version
    if (IsHeifBrand(data.data() + at)) return true;
  }
  return false;
}

// "BM" alone also starts ordinary text, so the DIB header size must be one
// of the known ones too.
bool IsBmp(std::span<const std::uint8_t> data) {
  if (data.size() < 18 || !StartsWith(data, "BM")) return false;
  switch (ReadLe32(data.data() + 14)) {
    case 12:
    case 16:
    case 40:
    case 52:
    case 56:
    case 64:
    case 108:
    case 124:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kGif:
      return "gif";
    case ImageFormat::kBmp:
      return "bmp";
    case ImageFormat::kHeif:
      return "heif";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageFormat SniffImageFormat(std::span<const std::uint8_t> data) {
  if (StartsWith(data, "\xFF\xD8\xFF")) return ImageFormat::kJpeg;
  if (StartsWith(data, "\x89PNG\r\n\x1A\n")) return ImageFormat::kPng;
  if (StartsWith(data, "GIF87a") || StartsWith(data, "GIF89a")) return ImageFormat::kGif;
  if (StartsWith(data, "RIFF") && StartsWith(data, "WEBP", 8)) return ImageFormat::kWebp;
  if (IsBmp(data)) return ImageFormat::kBmp;
  if (IsHeif(data)) return ImageFormat::kHeif;
  return ImageFormat::kUnknown;
}

Result<Image> DecodeImage(std::span<const std::uint8_t> data, const DecodeOptions& options) {
  if (data.empty()) return Unsupported("not an image (empty input)");
  try {
    switch (SniffImageFormat(data)) {
      case ImageFormat::kJpeg:
        return internal::DecodeJpeg(data, options);
      case ImageFormat::kPng:
        return internal::DecodePng(data, options);
      case ImageFormat::kWebp:
        return internal::DecodeWebp(data, options);
      case ImageFormat::kGif:
        return internal::DecodeGif(data, options);
      case ImageFormat::kBmp:
        return internal::DecodeBmp(data, options);
      case ImageFormat::kHeif:
        return internal::DecodeHeif(data, options);
      case ImageFormat::kUnknown:
        break;
    }
  } catch (const std::bad_alloc&) {
    // Sizes are checked against max_pixels first; this is a machine that
    // cannot hold even an allowed image.
    return TooLarge("out of memory while decoding the image");
  }
  return Unsupported("not an image (unrecognised format)");
}

}  // namespace takeback::media
