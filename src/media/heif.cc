// HEIC and AVIF through libheif: the primary image.
//
// Pixels: ImageMagick 6.9.11 asks libheif for 8-bit YCbCr 4:2:0 (libheif
// downsamples 4:4:4 sources to get it), upsamples chroma by nearest
// neighbour (sample x/2, y/2) and converts with its own YCbCr->RGB matrix
// in Q16 doubles when it writes PNM. ConvertYcc420 reproduces that exactly.
// For samples deeper than 8 bits ImageMagick reads the 16-bit planes as
// bytes (garbage); Takeback instead takes libheif's own 8-bit RGB.
//
// Transforms: libheif applies the container's irot/imir/clap properties by
// default, and ImageMagick 6 (which decodes HEIF through libheif with
// default options) shows the transformed image too. They are part of how
// HEIF stores a picture, not optional metadata like JPEG's EXIF tag, so
// Takeback applies them whether or not auto_orient is set; any EXIF
// orientation inside a HEIF file is ignored (irot already covers it).
// Alpha is dropped.
#include <climits>
#include <cstring>
#include <memory>

#include <libheif/heif.h>

#include "media/internal.h"

namespace takeback::media::internal {
namespace {

struct ContextDeleter {
  void operator()(heif_context* context) const { heif_context_free(context); }
};
struct HandleDeleter {
  void operator()(heif_image_handle* handle) const { heif_image_handle_release(handle); }
};
struct ImageDeleter {
  void operator()(heif_image* image) const { heif_image_release(image); }
};
struct OptionsDeleter {
  void operator()(heif_decoding_options* options) const { heif_decoding_options_free(options); }
};

// ImageMagick's ConvertYPbPrToRGB, then ClampToQuantum and
// ScaleQuantumToChar, on Q16 samples (8-bit value * 257).
std::uint8_t YccToChannel(double value) {
  std::uint32_t quantum = 0;
  if (value >= 65535.0) {
    quantum = 65535;
  } else if (value > 0.0) {
    quantum = static_cast<std::uint32_t>(value + 0.5);
  }
  return ScaleShortToChar(quantum);
}

void ConvertYcc420(const heif_image* decoded, Image* image) {
  int stride_y = 0;
  int stride_cb = 0;
  int stride_cr = 0;
  const std::uint8_t* p_y = heif_image_get_plane_readonly(decoded, heif_channel_Y, &stride_y);
  const std::uint8_t* p_cb = heif_image_get_plane_readonly(decoded, heif_channel_Cb, &stride_cb);
  const std::uint8_t* p_cr = heif_image_get_plane_readonly(decoded, heif_channel_Cr, &stride_cr);
  constexpr double kQuantumRange = 65535.0;
  constexpr double kQuantumScale = 1.0 / 65535.0;
  std::uint8_t* out = image->pixels.data();
  for (std::size_t y = 0; y < static_cast<std::size_t>(image->height); ++y) {
    for (std::size_t x = 0; x < static_cast<std::size_t>(image->width); ++x) {
      const double luma = kQuantumScale * (257.0 * p_y[y * static_cast<std::size_t>(stride_y) + x]);
      const double pb = kQuantumScale * (257.0 * p_cb[(y / 2) * static_cast<std::size_t>(stride_cb) + x / 2]);
      const double pr = kQuantumScale * (257.0 * p_cr[(y / 2) * static_cast<std::size_t>(stride_cr) + x / 2]);
      *out++ = YccToChannel(kQuantumRange * (0.99999999999914679361 * luma - 1.2188941887145875e-06 * (pb - 0.5) +
                                             1.4019995886561440468 * (pr - 0.5)));
      *out++ = YccToChannel(kQuantumRange * (0.99999975910502514331 * luma - 0.34413567816504303521 * (pb - 0.5) -
                                             0.71413649331646789076 * (pr - 0.5)));
      *out++ = YccToChannel(kQuantumRange * (1.00000124040004623180 * luma + 1.77200006607230409200 * (pb - 0.5) +
                                             2.1453384174593273e-06 * (pr - 0.5)));
    }
  }
}

// True when the decoded 4:2:0 planes are 8-bit and cover the luma size.
bool HasUsable420Planes(const heif_image* decoded, int width, int height) {
  const heif_channel channels[] = {heif_channel_Y, heif_channel_Cb, heif_channel_Cr};
  for (heif_channel channel : channels) {
    int stride = 0;
    if (heif_image_get_bits_per_pixel_range(decoded, channel) != 8 ||
        heif_image_get_plane_readonly(decoded, channel, &stride) == nullptr) {
      return false;
    }
    const int need_w = channel == heif_channel_Y ? width : (width + 1) / 2;
    const int need_h = channel == heif_channel_Y ? height : (height + 1) / 2;
    if (stride < need_w || heif_image_get_width(decoded, channel) < need_w ||
        heif_image_get_height(decoded, channel) < need_h) {
      return false;
    }
  }
  return true;
}

Status HeifError(const heif_error& error, std::string_view what) {
  std::string message = std::string(what) + ": " + (error.message != nullptr ? error.message : "unknown error");
  switch (error.code) {
    case heif_error_Unsupported_filetype:
    case heif_error_Unsupported_feature:
    case heif_error_Plugin_loading_error:
      return Unsupported("unsupported HEIF " + message);
    case heif_error_Memory_allocation_error:
      return TooLarge("HEIF " + message);
    default:
      if (error.subcode == heif_suberror_Security_limit_exceeded) return TooLarge("HEIF " + message);
      if (error.subcode == heif_suberror_End_of_data) return Corrupt("truncated HEIF data");
      return Corrupt("corrupt HEIF " + message);
  }
}

}  // namespace

Result<Image> DecodeHeif(std::span<const std::uint8_t> data, const DecodeOptions& options) {
  std::unique_ptr<heif_context, ContextDeleter> context(heif_context_alloc());
  if (context == nullptr) return TooLarge("out of memory starting libheif");
  // libheif's side limit; CheckDimensions below bounds the area.
  heif_context_set_maximum_image_size_limit(context.get(),
                                            static_cast<int>(std::min<std::uint64_t>(options.max_pixels, INT_MAX)));
  heif_error error = heif_context_read_from_memory_without_copy(context.get(), data.data(), data.size(), nullptr);
  if (error.code != heif_error_Ok) return HeifError(error, "container");

  heif_image_handle* raw_handle = nullptr;
  error = heif_context_get_primary_image_handle(context.get(), &raw_handle);
  std::unique_ptr<heif_image_handle, HandleDeleter> handle(raw_handle);
  if (error.code != heif_error_Ok) return HeifError(error, "primary image");
  TAKEBACK_RETURN_IF_ERROR(CheckDimensions(static_cast<std::uint32_t>(heif_image_handle_get_width(handle.get())),
                                           static_cast<std::uint32_t>(heif_image_handle_get_height(handle.get())),
                                           options.max_pixels, "HEIF"));

  std::unique_ptr<heif_decoding_options, OptionsDeleter> decoding(heif_decoding_options_alloc());
  if (decoding == nullptr) return TooLarge("out of memory starting libheif");
  decoding->ignore_transformations = 0;
  heif_image* raw_image = nullptr;
  error = heif_decode_image(handle.get(), &raw_image, heif_colorspace_YCbCr, heif_chroma_420, decoding.get());
  std::unique_ptr<heif_image, ImageDeleter> decoded(raw_image);
  if (error.code != heif_error_Ok) return HeifError(error, "image data");
  const int width = heif_image_get_width(decoded.get(), heif_channel_Y);
  const int height = heif_image_get_height(decoded.get(), heif_channel_Y);
  if (width <= 0 || height <= 0) return Corrupt("libheif returned an empty image");
  TAKEBACK_RETURN_IF_ERROR(CheckDimensions(static_cast<std::uint32_t>(width), static_cast<std::uint32_t>(height),
                                           options.max_pixels, "HEIF"));
  Image image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  const std::size_t row_bytes = static_cast<std::size_t>(width) * 3;
  if (!TryResize(&image.pixels, row_bytes * static_cast<std::size_t>(height))) {
    return TooLarge("out of memory for the HEIF's pixels");
  }
  if (HasUsable420Planes(decoded.get(), width, height)) {
    ConvertYcc420(decoded.get(), &image);
  } else {
    // Deeper than 8 bits: libheif's own conversion to 8-bit RGB.
    decoded.reset();
    error =
        heif_decode_image(handle.get(), &raw_image, heif_colorspace_RGB, heif_chroma_interleaved_RGB, decoding.get());
    decoded.reset(raw_image);
    if (error.code != heif_error_Ok) return HeifError(error, "image data");
    int stride = 0;
    const std::uint8_t* plane = heif_image_get_plane_readonly(decoded.get(), heif_channel_interleaved, &stride);
    if (plane == nullptr || heif_image_get_width(decoded.get(), heif_channel_interleaved) != width ||
        heif_image_get_height(decoded.get(), heif_channel_interleaved) != height || stride < width * 3 ||
        heif_image_get_bits_per_pixel_range(decoded.get(), heif_channel_interleaved) != 8) {
      return Corrupt("libheif returned no usable RGB plane");
    }
    for (int y = 0; y < height; ++y) {
      std::memcpy(image.pixels.data() + row_bytes * static_cast<std::size_t>(y),
                  plane + static_cast<std::size_t>(stride) * static_cast<std::size_t>(y), row_bytes);
    }
  }
  CollapseGrey(&image);
  return image;
}

}  // namespace takeback::media::internal
