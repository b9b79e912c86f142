// A bounds-checked reader for the one EXIF tag Takeback needs: Orientation.
#include "media/internal.h"

namespace takeback::media::internal {
namespace {

class TiffReader {
 public:
  TiffReader(std::span<const std::uint8_t> tiff, bool big_endian) : tiff_(tiff), big_endian_(big_endian) {}

  bool Read16(std::size_t offset, std::uint32_t* value) const {
    if (offset > tiff_.size() || tiff_.size() - offset < 2) return false;
    const std::uint8_t* p = tiff_.data() + offset;
    *value = big_endian_ ? (p[0] << 8 | p[1]) : (p[1] << 8 | p[0]);
    return true;
  }

  bool Read32(std::size_t offset, std::uint32_t* value) const {
    std::uint32_t a = 0;
    std::uint32_t b = 0;
    if (!Read16(offset, &a) || !Read16(offset + 2, &b)) return false;
    *value = big_endian_ ? (a << 16 | b) : (b << 16 | a);
    return true;
  }

 private:
  std::span<const std::uint8_t> tiff_;
  bool big_endian_;
};

}  // namespace

int ParseExifOrientation(std::span<const std::uint8_t> app1) {
  static constexpr std::uint8_t kExifHeader[] = {'E', 'x', 'i', 'f', 0, 0};
  if (app1.size() < sizeof kExifHeader + 8) return 0;
  for (std::size_t i = 0; i < sizeof kExifHeader; ++i) {
    if (app1[i] != kExifHeader[i]) return 0;
  }
  const std::span<const std::uint8_t> tiff = app1.subspan(sizeof kExifHeader);
  bool big_endian = false;
  if (tiff[0] == 'M' && tiff[1] == 'M') {
    big_endian = true;
  } else if (!(tiff[0] == 'I' && tiff[1] == 'I')) {
    return 0;
  }
  const TiffReader reader(tiff, big_endian);
  std::uint32_t magic = 0;
  std::uint32_t ifd0 = 0;
  std::uint32_t entries = 0;
  if (!reader.Read16(2, &magic) || magic != 42 || !reader.Read32(4, &ifd0) || !reader.Read16(ifd0, &entries)) {
    return 0;
  }
  for (std::uint32_t i = 0; i < entries; ++i) {
    const std::size_t entry = static_cast<std::size_t>(ifd0) + 2 + 12 * static_cast<std::size_t>(i);
    std::uint32_t tag = 0;
    std::uint32_t type = 0;
    std::uint32_t count = 0;
    std::uint32_t value = 0;
    if (!reader.Read16(entry, &tag)) return 0;
    if (tag != 0x0112) continue;
    // SHORT, count 1: the value sits in the first two bytes of the field.
    if (!reader.Read16(entry + 2, &type) || type != 3 || !reader.Read32(entry + 4, &count) || count != 1 ||
        !reader.Read16(entry + 8, &value)) {
      return 0;
    }
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 0;
  }
  return 0;
}

}  // namespace takeback::media::internal
