// PDQ hashing. Re-implemented from the published algorithm and Meta's
// reference (ThreatExchange pdq/cpp); bit-exactness depends on doing every
// float operation in the same order as the reference, so the speed comes
// from running many independent lanes (rows, columns) side by side with
// SIMD, never from reordering a single lane's arithmetic.
#include "hash/pdq.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <memory>
#include <numbers>
#include <vector>

#include "common/hex.h"

namespace takeback::hash {
namespace {

constexpr int kMinHashableDim = 5;
constexpr int kDownsampleDims = 512;  // the reference's pre-resize target
constexpr int kBlurredDim = 64;
constexpr int kDctDim = 16;
constexpr int kJaroszPasses = 2;

constexpr float kLumaR = 0.299F;
constexpr float kLumaG = 0.587F;
constexpr float kLumaB = 0.114F;

// 16x64 DCT-II basis rows 1..16, computed as the reference does (double
// cosine, float scale factor, product rounded to float).
struct DctMatrix {
  float d[kDctDim][kBlurredDim];   // D
  float dt[kBlurredDim][kDctDim];  // D transposed
  DctMatrix() {
    const float scale = static_cast<float>(std::sqrt(2.0 / double{kBlurredDim}));
    for (int i = 0; i < kDctDim; ++i) {
      for (int j = 0; j < kBlurredDim; ++j) {
        const double c = std::cos((std::numbers::pi / 2.0 / double{kBlurredDim}) * (i + 1) * (2 * j + 1));
        d[i][j] = static_cast<float>(static_cast<double>(scale) * c);
        dt[j][i] = d[i][j];
      }
    }
  }
};

const DctMatrix& Dct() {
  static const DctMatrix kMatrix;
  return kMatrix;
}

int JaroszWindow(int old_dim, int new_dim) { return (old_dim + 2 * new_dim - 1) / (2 * new_dim); }

// One running-box pass along the "step" axis of a lanes-contiguous matrix:
// in[step * lanes + lane]. For every lane this performs exactly the
// reference's box1DFloat sequence of adds, subtracts and divides; the lanes
// are independent, so the compiler vectorises across them.
//
// Only steps listed in `keep` (ascending, may be null = all) are divided
// and written; the others are skipped, which is safe because the running
// sum never reads the outputs. Output row k holds kept step keep[k] (or
// step k when keep is null).
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define TAKEBACK_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TAKEBACK_SIMD_CLONES
#endif

TAKEBACK_SIMD_CLONES
void BoxAlongSteps(const float* __restrict in, float* __restrict out, float* __restrict sum, int steps, int lanes,
                   int window, const int* keep, int num_keep) {
  const int half = (window + 2) / 2;
  const int phase1 = half - 1;
  const int phase2 = window - half + 1;
  const int phase3 = steps - window;
  const int phase4 = half - 1;

  std::fill(sum, sum + lanes, 0.0F);
  int li = 0;
  int ri = 0;
  int oi = 0;      // output step index
  int next = 0;    // index into keep
  int count = 0;   // current window size

  auto emit = [&](int step) {
    if (keep == nullptr) {
      const float c = static_cast<float>(count);
      float* o = out + static_cast<std::size_t>(step) * lanes;
      for (int l = 0; l < lanes; ++l) o[l] = sum[l] / c;
    } else {
      while (next < num_keep && keep[next] == step) {
        const float c = static_cast<float>(count);
        float* o = out + static_cast<std::size_t>(next) * lanes;
        for (int l = 0; l < lanes; ++l) o[l] = sum[l] / c;
        ++next;
      }
    }
  };

  for (int i = 0; i < phase1; ++i, ++ri) {
    const float* r = in + static_cast<std::size_t>(ri) * lanes;
    for (int l = 0; l < lanes; ++l) sum[l] += r[l];
    ++count;
  }
  for (int i = 0; i < phase2; ++i, ++ri, ++oi) {
    const float* r = in + static_cast<std::size_t>(ri) * lanes;
    for (int l = 0; l < lanes; ++l) sum[l] += r[l];
    ++count;
    emit(oi);
  }
  for (int i = 0; i < phase3; ++i, ++ri, ++li, ++oi) {
    const float* r = in + static_cast<std::size_t>(ri) * lanes;
    const float* s = in + static_cast<std::size_t>(li) * lanes;
    for (int l = 0; l < lanes; ++l) {
      sum[l] += r[l];
      sum[l] -= s[l];
    }
    emit(oi);
  }
  for (int i = 0; i < phase4; ++i, ++li, ++oi) {
    const float* s = in + static_cast<std::size_t>(li) * lanes;
    for (int l = 0; l < lanes; ++l) sum[l] -= s[l];
    --count;
    emit(oi);
  }
}

// out[c * rows + r] = in[r * cols + c], in cache-friendly tiles.
void Transpose(const float* __restrict in, float* __restrict out, int rows, int cols) {
  constexpr int kTile = 16;
  for (int r0 = 0; r0 < rows; r0 += kTile) {
    const int r1 = std::min(rows, r0 + kTile);
    for (int c0 = 0; c0 < cols; c0 += kTile) {
      const int c1 = std::min(cols, c0 + kTile);
      for (int r = r0; r < r1; ++r) {
        for (int c = c0; c < c1; ++c) {
          out[static_cast<std::size_t>(c) * rows + r] = in[static_cast<std::size_t>(r) * cols + c];
        }
      }
    }
  }
}

// The reference's decimateFloat index: centre of each output cell.
int DecimateIndex(int out_index, int in_dim) {
  return static_cast<int>(((out_index + 0.5) * in_dim) / kBlurredDim);
}

// Blurs (two Jarosz passes per axis) and decimates `luma` (row-major
// height x width) to 64x64, bit-exact with the reference. `luma` is
// clobbered. The reference filters the whole image four times; only the
// sums need the whole image, so the last two passes divide (and write) only
// where the decimation samples.
void BlurAndDecimate(float* luma, int width, int height, float out[kBlurredDim][kBlurredDim]) {
  const int window_along_rows = JaroszWindow(width, kBlurredDim);
  const int window_along_cols = JaroszWindow(height, kBlurredDim);

  int keep_cols[kBlurredDim];
  int keep_rows[kBlurredDim];
  for (int k = 0; k < kBlurredDim; ++k) {
    keep_cols[k] = DecimateIndex(k, width);
    keep_rows[k] = DecimateIndex(k, height);
  }

  const std::size_t n = static_cast<std::size_t>(width) * height;
  std::vector<float> a(n);
  std::vector<float> sum(static_cast<std::size_t>(std::max(width, height)));
  float* buf_a = a.data();
  float* buf_b = luma;

  // Pass 1 (along rows): lanes are rows, so work on the transpose.
  Transpose(buf_b, buf_a, height, width);                                  // a = T (width x height)
  BoxAlongSteps(buf_a, buf_b, sum.data(), width, height, window_along_rows, nullptr, 0);  // b = T
  // Pass 2 (along columns): lanes are columns, row-major is natural.
  Transpose(buf_b, buf_a, width, height);                                  // a = row-major
  BoxAlongSteps(buf_a, buf_b, sum.data(), height, width, window_along_cols, nullptr, 0);  // b = row-major
  // Pass 3 (along rows), divided only at the 64 sampled columns.
  Transpose(buf_b, buf_a, height, width);                                  // a = T
  BoxAlongSteps(buf_a, buf_b, sum.data(), width, height, window_along_rows, keep_cols, kBlurredDim);
  // b now holds 64 x height: row k = sampled column keep_cols[k].
  Transpose(buf_b, buf_a, kBlurredDim, height);                            // a = height x 64
  // Pass 4 (along columns), divided only at the 64 sampled rows.
  BoxAlongSteps(buf_a, &out[0][0], sum.data(), height, kBlurredDim, window_along_cols, keep_rows, kBlurredDim);
}

int QualityMetric(const float b[kBlurredDim][kBlurredDim]) {
  int gradient_sum = 0;
  for (int i = 0; i < kBlurredDim - 1; ++i) {
    for (int j = 0; j < kBlurredDim; ++j) {
      const int d = static_cast<int>(((b[i][j] - b[i + 1][j]) * 100) / 255);
      gradient_sum += std::abs(d);
    }
  }
  for (int i = 0; i < kBlurredDim; ++i) {
    for (int j = 0; j < kBlurredDim - 1; ++j) {
      const int d = static_cast<int>(((b[i][j] - b[i][j + 1]) * 100) / 255);
      gradient_sum += std::abs(d);
    }
  }
  return std::min(gradient_sum / 90, 100);
}

// B = D A D^T restricted to 16x16, summing over k in the reference's order.
void Dct64To16(const float a[kBlurredDim][kBlurredDim], float b[kDctDim][kDctDim]) {
  const DctMatrix& m = Dct();
  float t[kDctDim][kBlurredDim];
  for (int i = 0; i < kDctDim; ++i) {
    float acc[kBlurredDim] = {};
    for (int k = 0; k < kBlurredDim; ++k) {
      const float dik = m.d[i][k];
      for (int j = 0; j < kBlurredDim; ++j) acc[j] += dik * a[k][j];
    }
    std::memcpy(t[i], acc, sizeof(acc));
  }
  for (int i = 0; i < kDctDim; ++i) {
    float acc[kDctDim] = {};
    for (int k = 0; k < kBlurredDim; ++k) {
      const float tik = t[i][k];
      for (int j = 0; j < kDctDim; ++j) acc[j] += tik * m.dt[k][j];
    }
    std::memcpy(b[i], acc, sizeof(acc));
  }
}

// The 128th smallest of the 256 coefficients: what the reference's Torben
// median returns for an even count.
float Median(const float b[kDctDim][kDctDim]) {
  float copy[kDctDim * kDctDim];
  std::memcpy(copy, b, sizeof(copy));
  constexpr int kRank = (kDctDim * kDctDim + 1) / 2 - 1;
  std::nth_element(copy, copy + kRank, copy + kDctDim * kDctDim);
  return copy[kRank];
}

PdqHash ToBits(const float b[kDctDim][kDctDim]) {
  const float median = Median(b);
  PdqHash h;
  for (int i = 0; i < kDctDim; ++i) {
    for (int j = 0; j < kDctDim; ++j) {
      if (b[i][j] > median) h.SetBit(i * kDctDim + j);
    }
  }
  return h;
}

// Dihedral transforms act on DCT coefficients by sign flips and transposes.
// out = sign(i, j) * in[i][j] placed at (i, j) or, when `transpose`, (j, i).
template <typename SignFn>
void TransformDct(const float in[kDctDim][kDctDim], float out[kDctDim][kDctDim], bool transpose, SignFn negate) {
  for (int i = 0; i < kDctDim; ++i) {
    for (int j = 0; j < kDctDim; ++j) {
      const float v = negate(i, j) ? -in[i][j] : in[i][j];
      if (transpose) {
        out[j][i] = v;
      } else {
        out[i][j] = v;
      }
    }
  }
}

PdqHash DihedralHash(const float dct[kDctDim][kDctDim], Dihedral d) {
  float aux[kDctDim][kDctDim];
  switch (d) {
    case Dihedral::kOriginal: return ToBits(dct);
    case Dihedral::kRotate90: TransformDct(dct, aux, true, [](int, int j) { return (j & 1) == 0; }); break;
    case Dihedral::kRotate180: TransformDct(dct, aux, false, [](int i, int j) { return ((i + j) & 1) != 0; }); break;
    case Dihedral::kRotate270: TransformDct(dct, aux, true, [](int i, int) { return (i & 1) == 0; }); break;
    case Dihedral::kFlipX: TransformDct(dct, aux, false, [](int i, int) { return (i & 1) == 0; }); break;
    case Dihedral::kFlipY: TransformDct(dct, aux, false, [](int, int j) { return (j & 1) == 0; }); break;
    case Dihedral::kFlipPlus1: TransformDct(dct, aux, true, [](int, int) { return false; }); break;
    case Dihedral::kFlipMinus1: TransformDct(dct, aux, true, [](int i, int j) { return ((i + j) & 1) != 0; }); break;
  }
  return ToBits(aux);
}

// Blur, decimate, quality, DCT. Returns false for images too small to hash.
// The reference's single-hash path skips the blur for a 64x64 input (video
// frames pre-scaled by FFmpeg) but its dihedral path does not; a window-1
// box pass is not an identity in float ((a + b) - a != b), so we follow each.
bool LumaToDct(float* luma, int width, int height, bool skip_blur_at_64, float dct[kDctDim][kDctDim],
               int& quality) {
  if (width < kMinHashableDim || height < kMinHashableDim) return false;
  float blurred[kBlurredDim][kBlurredDim];
  if (skip_blur_at_64 && width == kBlurredDim && height == kBlurredDim) {
    std::memcpy(blurred, luma, sizeof(blurred));
  } else {
    BlurAndDecimate(luma, width, height, blurred);
  }
  quality = QualityMetric(blurred);
  Dct64To16(blurred, dct);
  return true;
}

// Nearest-neighbour source index for CImg's resize: floor(x * in / out).
std::vector<int> ResizeMap(int in_dim, int out_dim) {
  std::vector<int> map(static_cast<std::size_t>(out_dim));
  for (int x = 0; x < out_dim; ++x) {
    map[static_cast<std::size_t>(x)] =
        static_cast<int>((static_cast<std::int64_t>(x) * in_dim) / out_dim);
  }
  return map;
}

TAKEBACK_SIMD_CLONES
void RgbRowToLuma(const std::uint8_t* __restrict src, float* __restrict dst, int width) {
  for (int x = 0; x < width; ++x) {
    const float r = src[3 * x];
    const float g = src[3 * x + 1];
    const float b = src[3 * x + 2];
    dst[x] = kLumaR * r + kLumaG * g + kLumaB * b;
  }
}

TAKEBACK_SIMD_CLONES
void GreyRowToLuma(const std::uint8_t* __restrict src, float* __restrict dst, int width) {
  for (int x = 0; x < width; ++x) dst[x] = src[x];
}

// The reference's pre-resize plus luma conversion, into a new buffer.
std::vector<float> PixelsToLuma(const PixelView& v, int& width, int& height) {
  assert(v.data != nullptr && v.width > 0 && v.height > 0);
  assert(v.channels == 1 || v.channels == 3);
  const bool resize = v.width > kDownsampleDims || v.height > kDownsampleDims;
  width = resize ? kDownsampleDims : v.width;
  height = resize ? kDownsampleDims : v.height;
  std::vector<float> luma(static_cast<std::size_t>(width) * height);
  if (!resize) {
    for (int y = 0; y < height; ++y) {
      const std::uint8_t* row = v.data + static_cast<std::size_t>(y) * v.stride;
      float* out = luma.data() + static_cast<std::size_t>(y) * width;
      if (v.channels == 3) {
        RgbRowToLuma(row, out, width);
      } else {
        GreyRowToLuma(row, out, width);
      }
    }
    return luma;
  }
  const std::vector<int> xs = ResizeMap(v.width, width);
  const std::vector<int> ys = ResizeMap(v.height, height);
  std::vector<std::uint8_t> gathered(static_cast<std::size_t>(width) * v.channels);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* row = v.data + static_cast<std::size_t>(ys[static_cast<std::size_t>(y)]) * v.stride;
    float* out = luma.data() + static_cast<std::size_t>(y) * width;
    if (v.channels == 3) {
      for (int x = 0; x < width; ++x) {
        const std::uint8_t* p = row + 3 * static_cast<std::size_t>(xs[static_cast<std::size_t>(x)]);
        gathered[3 * static_cast<std::size_t>(x)] = p[0];
        gathered[3 * static_cast<std::size_t>(x) + 1] = p[1];
        gathered[3 * static_cast<std::size_t>(x) + 2] = p[2];
      }
      RgbRowToLuma(gathered.data(), out, width);
    } else {
      for (int x = 0; x < width; ++x) out[x] = row[xs[static_cast<std::size_t>(x)]];
    }
  }
  return luma;
}

}  // namespace

std::string PdqHash::ToHex() const {
  std::array<std::uint8_t, 32> bytes{};
  for (int w = 0; w < 4; ++w) {
    for (int b = 0; b < 8; ++b) {
      bytes[static_cast<std::size_t>((3 - w) * 8 + (7 - b))] =
          static_cast<std::uint8_t>(words[static_cast<std::size_t>(w)] >> (8 * b));
    }
  }
  return HexEncode(bytes);
}

std::optional<PdqHash> PdqHash::FromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto bytes = HexDecode(hex);
  if (!bytes) return std::nullopt;
  PdqHash h;
  for (int w = 0; w < 4; ++w) {
    std::uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v = (v << 8) | (*bytes)[static_cast<std::size_t>((3 - w) * 8 + b)];
    h.words[static_cast<std::size_t>(w)] = v;
  }
  return h;
}

std::string_view DihedralName(Dihedral d) {
  switch (d) {
    case Dihedral::kOriginal: return "orig";
    case Dihedral::kRotate90: return "rot90";
    case Dihedral::kRotate180: return "rot180";
    case Dihedral::kRotate270: return "rot270";
    case Dihedral::kFlipX: return "flipx";
    case Dihedral::kFlipY: return "flipy";
    case Dihedral::kFlipPlus1: return "flipplus1";
    case Dihedral::kFlipMinus1: return "flipminus1";
  }
  return "unknown";
}

PdqResult PdqHashLuma(float* luma, int width, int height) {
  PdqResult r;
  float dct[kDctDim][kDctDim];
  if (LumaToDct(luma, width, height, /*skip_blur_at_64=*/true, dct, r.quality)) r.hash = ToBits(dct);
  return r;
}

PdqDihedralResult PdqDihedralHashLuma(float* luma, int width, int height) {
  PdqDihedralResult r;
  float dct[kDctDim][kDctDim];
  if (!LumaToDct(luma, width, height, /*skip_blur_at_64=*/false, dct, r.quality)) return r;
  for (int d = 0; d < kNumDihedral; ++d) {
    r.hashes[static_cast<std::size_t>(d)] = DihedralHash(dct, static_cast<Dihedral>(d));
  }
  return r;
}

PdqResult PdqHashPixels(const PixelView& view) {
  int w = 0;
  int h = 0;
  std::vector<float> luma = PixelsToLuma(view, w, h);
  return PdqHashLuma(luma.data(), w, h);
}

PdqDihedralResult PdqDihedralHashPixels(const PixelView& view) {
  int w = 0;
  int h = 0;
  std::vector<float> luma = PixelsToLuma(view, w, h);
  return PdqDihedralHashLuma(luma.data(), w, h);
}

}  // namespace takeback::hash
