// WebP through libwebp: lossy (fancy upsampling, libwebp's default, as
// ImageMagick uses it), lossless and alpha. Alpha is dropped; libwebp's RGB
// output is not premultiplied, so the colour values are ImageMagick's.
// Animated WebP needs libwebpdemux and is refused with kUnsupported.
#include <webp/decode.h>

#include "media/internal.h"

namespace takeback::media::internal {
namespace {

Status WebpError(VP8StatusCode code, std::string_view what) {
  switch (code) {
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return Corrupt("truncated WebP data");
    case VP8_STATUS_OUT_OF_MEMORY:
      return TooLarge("out of memory decoding the WebP");
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return Unsupported("unsupported WebP feature in the " + std::string(what));
    default:
      return Corrupt("corrupt WebP " + std::string(what) + " (libwebp status " + std::to_string(code) + ")");
  }
}

}  // namespace

Result<Image> DecodeWebp(std::span<const std::uint8_t> data, const DecodeOptions& options) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) return Internal("libwebp version mismatch");
  VP8StatusCode code = WebPGetFeatures(data.data(), data.size(), &config.input);
  if (code != VP8_STATUS_OK) return WebpError(code, "header");
  TAKEBACK_RETURN_IF_ERROR(CheckDimensions(static_cast<std::uint32_t>(config.input.width),
                                           static_cast<std::uint32_t>(config.input.height), options.max_pixels,
                                           "WebP"));
  if (config.input.has_animation) return Unsupported("animated WebP is not supported");

  Image image;
  image.width = config.input.width;
  image.height = config.input.height;
  image.channels = 3;
  const std::size_t stride = static_cast<std::size_t>(image.width) * 3;
  if (!TryResize(&image.pixels, stride * static_cast<std::size_t>(image.height))) {
    return TooLarge("out of memory for the WebP's pixels");
  }
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = image.pixels.data();
  config.output.u.RGBA.stride = static_cast<int>(stride);
  config.output.u.RGBA.size = image.pixels.size();
  code = WebPDecode(data.data(), data.size(), &config);
  WebPFreeDecBuffer(&config.output);  // external memory: frees nothing of ours
  if (code != VP8_STATUS_OK) return WebpError(code, "data");
  CollapseGrey(&image);
  return image;
}

}  // namespace takeback::media::internal
