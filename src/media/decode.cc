// Placeholder until the decoders land.
#include "media/image.h"

namespace takeback::media {

std::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "jpeg";
    case ImageFormat::kPng: return "png";
    case ImageFormat::kWebp: return "webp";
    case ImageFormat::kGif: return "gif";
    case ImageFormat::kBmp: return "bmp";
    case ImageFormat::kHeif: return "heif";
    case ImageFormat::kUnknown: break;
  }
  return "unknown";
}

ImageFormat SniffImageFormat(std::span<const std::uint8_t>) { return ImageFormat::kUnknown; }

Result<Image> DecodeImage(std::span<const std::uint8_t>, const DecodeOptions&) {
  return Unsupported("decoders not built yet");
}

}  // namespace takeback::media
