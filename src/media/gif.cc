#include "media/internal.h"
namespace takeback::media::internal {
Result<Image> DecodeGif(std::span<const std::uint8_t>, const DecodeOptions&) { return Unsupported("GIF soon"); }
}  // namespace takeback::media::internal
