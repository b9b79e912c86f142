// PDQ: Meta's 256-bit perceptual image hash, bit-exact with the reference
// implementation (facebook/ThreatExchange pdq/cpp) on the same pixels.
//
// Pure functions of pixels: nothing here decodes files (see src/media).
// All functions are thread-safe; none allocates more than O(pixels).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace takeback::hash {

// A 256-bit PDQ hash. Bit k (0..255) is bit (k % 64) of words[k / 64]; the
// hex form is the reference's: 64 lower-case digits, most significant first.
struct PdqHash {
  std::array<std::uint64_t, 4> words{};

  bool Bit(int k) const { return ((words[k >> 6] >> (k & 63)) & 1U) != 0; }
  void SetBit(int k) { words[k >> 6] |= std::uint64_t{1} << (k & 63); }
  std::string ToHex() const;
  // Parses exactly 64 hex digits (either case); nullopt otherwise.
  static std::optional<PdqHash> FromHex(std::string_view hex);

  friend bool operator==(const PdqHash&, const PdqHash&) = default;
};

inline int HammingDistance(const PdqHash& a, const PdqHash& b) {
  int d = 0;
  for (int i = 0; i < 4; ++i) d += std::popcount(a.words[i] ^ b.words[i]);
  return d;
}

// Quality 0..100: how much gradient the image has. Below 50 the hash is
// not to be trusted (flat or tiny images).
struct PdqResult {
  PdqHash hash;
  int quality = 0;
};

// The eight dihedral transforms, in the reference's order and naming.
enum class Dihedral {
  kOriginal = 0,
  kRotate90,  // counter-clockwise
  kRotate180,
  kRotate270,
  kFlipX,       // top/bottom swap
  kFlipY,       // left/right swap
  kFlipPlus1,   // transpose
  kFlipMinus1,  // anti-transpose
};
inline constexpr int kNumDihedral = 8;
// "orig", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1".
std::string_view DihedralName(Dihedral d);

struct PdqDihedralResult {
  std::array<PdqHash, kNumDihedral> hashes;  // indexed by Dihedral
  int quality = 0;
};

// A view of 8-bit pixels: `channels` is 1 (grey) or 3 (RGB, interleaved);
// `stride` is bytes from one row to the next.
struct PixelView {
  const std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int channels = 0;
  std::size_t stride = 0;
};

// Hashes pixels exactly as the reference pdq-photo-hasher does after its
// decoder: an image with either side over 512 is first resized to 512x512
// by nearest neighbour (CImg's default resize), then converted to float luma
// (0.299 R + 0.587 G + 0.114 B), blurred with two Jarosz box passes per
// axis, decimated to 64x64, DCT'd to 16x16 and thresholded at the median.
// Images with a side under 5 pixels get an all-zero hash and quality 0, as
// in the reference. Precondition: view is valid (checked by assert).
PdqResult PdqHashPixels(const PixelView& view);
PdqDihedralResult PdqDihedralHashPixels(const PixelView& view);

// Lower-level entry points on float luma (row-major, width*height values),
// with no pre-resize (video frames already scaled by the decoder).
PdqResult PdqHashLuma(const float* luma, int width, int height);
PdqDihedralResult PdqDihedralHashLuma(const float* luma, int width, int height);

}  // namespace takeback::hash
