// GIF through giflib's in-memory reader: the first frame only.
//
// Like ImageMagick (`convert FILE[0] pnm:-`), the result is the first
// frame's own rectangle, not the logical screen: a 10x10 frame placed at
// +5+5 on a 20x20 screen decodes to 10x10. Transparent pixels keep their
// palette colour (alpha is dropped without compositing). An index past the
// end of the colour map takes entry 0, as ImageMagick's
// ConstrainColormapIndex does.
#include <cstring>
#include <memory>

#include <gif_lib.h>

#include "media/internal.h"

namespace takeback::media::internal {
namespace {

struct GifSource {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos;
  bool truncated;
};

int ReadFromMemory(GifFileType* gif, GifByteType* out, int length) {
  auto* source = static_cast<GifSource*>(gif->UserData);
  if (length < 0) return 0;
  std::size_t n = static_cast<std::size_t>(length);
  if (source->size - source->pos < n) {
    source->truncated = true;
    n = source->size - source->pos;
  }
  std::memcpy(out, source->data + source->pos, n);
  source->pos += n;
  return static_cast<int>(n);
}

struct GifCloser {
  void operator()(GifFileType* gif) const {
    int error = 0;
    DGifCloseFile(gif, &error);
  }
};

Status GifError(int code, const GifSource& source) {
  if (source.truncated) return Corrupt("truncated GIF data");
  const char* text = GifErrorString(code);
  return Corrupt(std::string("corrupt GIF: ") + (text != nullptr ? text : "unknown error"));
}

}  // namespace

Result<Image> DecodeGif(std::span<const std::uint8_t> data, const DecodeOptions& options) {
  GifSource source{data.data(), data.size(), 0, false};
  int error = 0;
  std::unique_ptr<GifFileType, GifCloser> gif(DGifOpen(&source, ReadFromMemory, &error));
  if (gif == nullptr) return GifError(error, source);

  // Skip extensions up to the first image descriptor.
  GifRecordType record = UNDEFINED_RECORD_TYPE;
  do {
    if (DGifGetRecordType(gif.get(), &record) == GIF_ERROR) return GifError(gif->Error, source);
    if (record == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* block = nullptr;
      if (DGifGetExtension(gif.get(), &code, &block) == GIF_ERROR) return GifError(gif->Error, source);
      while (block != nullptr) {
        if (DGifGetExtensionNext(gif.get(), &block) == GIF_ERROR) return GifError(gif->Error, source);
      }
    } else if (record == TERMINATE_RECORD_TYPE) {
      return Corrupt("GIF holds no image");
    }
  } while (record != IMAGE_DESC_RECORD_TYPE);
  if (DGifGetImageDesc(gif.get()) == GIF_ERROR) return GifError(gif->Error, source);

  const GifImageDesc& desc = gif->Image;
  if (desc.Width < 0 || desc.Height < 0) return Corrupt("GIF frame has a negative size");
  TAKEBACK_RETURN_IF_ERROR(CheckDimensions(static_cast<std::uint32_t>(desc.Width),
                                           static_cast<std::uint32_t>(desc.Height), options.max_pixels, "GIF"));
  const ColorMapObject* map = desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap;
  if (map == nullptr || map->Colors == nullptr || map->ColorCount <= 0) return Corrupt("GIF frame has no colour map");

  const std::size_t width = static_cast<std::size_t>(desc.Width);
  const std::size_t height = static_cast<std::size_t>(desc.Height);
  std::vector<std::uint8_t> indexes;
  if (!TryResize(&indexes, width * height)) return TooLarge("out of memory for the GIF's pixels");
  if (desc.Interlace) {
    static constexpr std::size_t kStart[] = {0, 4, 2, 1};
    static constexpr std::size_t kStep[] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass) {
      for (std::size_t y = kStart[pass]; y < height; y += kStep[pass]) {
        if (DGifGetLine(gif.get(), indexes.data() + y * width, desc.Width) == GIF_ERROR) {
          return GifError(gif->Error, source);
        }
      }
    }
  } else {
    for (std::size_t y = 0; y < height; ++y) {
      if (DGifGetLine(gif.get(), indexes.data() + y * width, desc.Width) == GIF_ERROR) {
        return GifError(gif->Error, source);
      }
    }
  }

  Image image;
  image.width = desc.Width;
  image.height = desc.Height;
  image.channels = 3;
  if (!TryResize(&image.pixels, width * height * 3)) return TooLarge("out of memory for the GIF's pixels");
  const std::uint8_t* in = indexes.data();
  std::uint8_t* out = image.pixels.data();
  for (std::size_t i = 0; i < width * height; ++i, out += 3) {
    const GifColorType& colour = map->Colors[in[i] < map->ColorCount ? in[i] : 0];
    out[0] = colour.Red;
    out[1] = colour.Green;
    out[2] = colour.Blue;
  }
  CollapseGrey(&image);
  return image;
}

}  // namespace takeback::media::internal
