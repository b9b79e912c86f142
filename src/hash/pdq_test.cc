#include "hash/pdq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace takeback::hash {
namespace {

// A structured synthetic picture: overlapping rectangles of random colour
// on a gradient, so that it has edges (real photos do) and a high quality.
std::vector<std::uint8_t> SyntheticRgb(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = &px[(static_cast<std::size_t>(y) * w + x) * 3];
      p[0] = static_cast<std::uint8_t>(255 * x / w);
      p[1] = static_cast<std::uint8_t>(255 * y / h);
      p[2] = 128;
    }
  }
  for (int r = 0; r < 40; ++r) {
    const int x0 = std::uniform_int_distribution<int>(0, w - 1)(rng);
    const int y0 = std::uniform_int_distribution<int>(0, h - 1)(rng);
    const int x1 = std::min(w, x0 + std::uniform_int_distribution<int>(w / 20, w / 3)(rng));
    const int y1 = std::min(h, y0 + std::uniform_int_distribution<int>(h / 20, h / 3)(rng));
    std::uint8_t colour[3];
    for (auto& c : colour) c = static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng));
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) {
        std::memcpy(&px[(static_cast<std::size_t>(y) * w + x) * 3], colour, 3);
      }
    }
  }
  // Soften the edges a little, as a camera's optics would.
  std::vector<std::uint8_t> soft(px.size());
  constexpr int kR = 3;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        int acc = 0;
        int n = 0;
        for (int dy = -kR; dy <= kR; ++dy) {
          for (int dx = -kR; dx <= kR; ++dx) {
            const int yy = std::clamp(y + dy, 0, h - 1);
            const int xx = std::clamp(x + dx, 0, w - 1);
            acc += px[(static_cast<std::size_t>(yy) * w + xx) * 3 + c];
            ++n;
          }
        }
        soft[(static_cast<std::size_t>(y) * w + x) * 3 + c] = static_cast<std::uint8_t>(acc / n);
      }
    }
  }
  return soft;
}

PixelView View(const std::vector<std::uint8_t>& px, int w, int h, int channels) {
  return {px.data(), w, h, channels, static_cast<std::size_t>(w) * channels};
}

TEST(PdqHashTest, HexRoundTripUsesReferenceBitOrder) {
  PdqHash h;
  h.SetBit(0);    // lowest bit of the last hex digit
  h.SetBit(255);  // highest bit of the first hex digit
  EXPECT_EQ(h.ToHex(), "8000000000000000000000000000000000000000000000000000000000000001");
  auto parsed = PdqHash::FromHex(h.ToHex());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, h);
  EXPECT_TRUE(parsed->Bit(0));
  EXPECT_TRUE(parsed->Bit(255));
  EXPECT_FALSE(parsed->Bit(1));
  EXPECT_FALSE(PdqHash::FromHex("abc").has_value());
  EXPECT_FALSE(PdqHash::FromHex(std::string(64, 'g')).has_value());
  EXPECT_TRUE(PdqHash::FromHex(std::string(64, 'F')).has_value());
}

TEST(PdqHashTest, HammingDistanceCountsDifferingBits) {
  PdqHash a;
  PdqHash b;
  EXPECT_EQ(HammingDistance(a, b), 0);
  b.SetBit(3);
  b.SetBit(100);
  b.SetBit(200);
  EXPECT_EQ(HammingDistance(a, b), 3);
  EXPECT_EQ(HammingDistance(*PdqHash::FromHex(std::string(64, 'f')), a), 256);
}

TEST(PdqHashTest, TinyImagesGetZeroHashAndQuality) {
  std::vector<std::uint8_t> px(4 * 4 * 3, 128);
  PdqResult r = PdqHashPixels(View(px, 4, 4, 3));
  EXPECT_EQ(r.quality, 0);
  EXPECT_EQ(r.hash, PdqHash{});
}

TEST(PdqHashTest, FlatImageHasZeroQuality) {
  std::vector<std::uint8_t> px(100 * 80, 77);
  EXPECT_EQ(PdqHashPixels(View(px, 100, 80, 1)).quality, 0);
}

TEST(PdqHashTest, DeterministicAndHalfTheBitsSet) {
  const auto px = SyntheticRgb(640, 480, 1);
  PdqResult a = PdqHashPixels(View(px, 640, 480, 3));
  PdqResult b = PdqHashPixels(View(px, 640, 480, 3));
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_GE(a.quality, 50);
  int ones = 0;
  for (int k = 0; k < 256; ++k) ones += a.hash.Bit(k) ? 1 : 0;
  EXPECT_EQ(ones, 128);  // the threshold is the median of 256 distinct values
}

TEST(PdqHashTest, DifferentImagesAreFarApart) {
  const auto px1 = SyntheticRgb(300, 300, 1);
  const auto px2 = SyntheticRgb(300, 300, 2);
  const int d = HammingDistance(PdqHashPixels(View(px1, 300, 300, 3)).hash, PdqHashPixels(View(px2, 300, 300, 3)).hash);
  EXPECT_GT(d, 31);
}

TEST(PdqHashTest, SmallEditsStayClose) {
  auto px = SyntheticRgb(400, 300, 3);
  const PdqHash before = PdqHashPixels(View(px, 400, 300, 3)).hash;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> noise(-6, 6);
  for (auto& v : px) v = static_cast<std::uint8_t>(std::clamp(v + noise(rng), 0, 255));
  const PdqHash after = PdqHashPixels(View(px, 400, 300, 3)).hash;
  EXPECT_LE(HammingDistance(before, after), 16);
}

// Rotating/flipping the pixels and hashing must land close to the matching
// dihedral hash computed from the DCT of the original.
TEST(PdqHashTest, DihedralHashesMatchTransformedPixels) {
  const int n = 512;
  const auto px = SyntheticRgb(n, n, 5);
  const PdqDihedralResult dh = PdqDihedralHashPixels(View(px, n, n, 3));
  EXPECT_EQ(dh.hashes[0], PdqHashPixels(View(px, n, n, 3)).hash);
  auto transformed = [&](auto map) {
    std::vector<std::uint8_t> out(px.size());
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        auto [sx, sy] = map(x, y);
        for (int c = 0; c < 3; ++c) {
          out[(static_cast<std::size_t>(y) * n + x) * 3 + c] = px[(static_cast<std::size_t>(sy) * n + sx) * 3 + c];
        }
      }
    }
    return PdqHashPixels(View(out, n, n, 3)).hash;
  };
  const int m = n - 1;
  struct Case {
    Dihedral d;
    PdqHash h;
  };
  const Case cases[] = {
      {Dihedral::kRotate90, transformed([&](int x, int y) {
         return std::pair{m - y, x};
       })},
      {Dihedral::kRotate180, transformed([&](int x, int y) {
         return std::pair{m - x, m - y};
       })},
      {Dihedral::kRotate270, transformed([&](int x, int y) {
         return std::pair{y, m - x};
       })},
      {Dihedral::kFlipX, transformed([&](int x, int y) {
         return std::pair{x, m - y};
       })},
      {Dihedral::kFlipY, transformed([&](int x, int y) {
         return std::pair{m - x, y};
       })},
      {Dihedral::kFlipPlus1, transformed([&](int x, int y) {
         return std::pair{y, x};
       })},
      {Dihedral::kFlipMinus1, transformed([&](int x, int y) {
         return std::pair{m - y, m - x};
       })},
  };
  // Pixel-domain transforms shift the box filter's and the decimation's
  // sampling grid by a pixel, so they are near, not equal; the product needs
  // them within the default match radius (31) and nearer than any other
  // variant.
  for (const Case& c : cases) {
    const int own = HammingDistance(dh.hashes[static_cast<std::size_t>(c.d)], c.h);
    EXPECT_LE(own, 31) << DihedralName(c.d);
    for (int other = 0; other < kNumDihedral; ++other) {
      if (other == static_cast<int>(c.d)) continue;
      EXPECT_LT(own, HammingDistance(dh.hashes[static_cast<std::size_t>(other)], c.h))
          << DihedralName(c.d) << " vs " << DihedralName(static_cast<Dihedral>(other));
    }
  }
}

}  // namespace
}  // namespace takeback::hash
