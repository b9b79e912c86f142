#include "media/internal.h"
namespace takeback::media::internal {
Result<Image> DecodeBmp(std::span<const std::uint8_t>, const DecodeOptions&) { return Unsupported("BMP soon"); }
}  // namespace takeback::media::internal
