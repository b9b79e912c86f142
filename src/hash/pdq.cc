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

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/cpu.h"
#include "common/hex.h"

namespace takeback::hash {
namespace {

constexpr int kMinHashableDim = 5;
constexpr int kDownsampleDims = 512;  // the reference's pre-resize target
constexpr int kBlurredDim = 64;
constexpr int kDctDim = 16;

constexpr float kLumaR = 0.299F;
constexpr float kLumaG = 0.587F;
constexpr float kLumaB = 0.114F;

// 16x64 DCT-II basis rows 1..16, computed as the reference does (double
// cosine, float scale factor, product rounded to float).
struct DctMatrix {
  float d[kDctDim][kBlurredDim]{};   // D
  float dt[kBlurredDim][kDctDim]{};  // D transposed
  DctMatrix() {
    const auto scale = static_cast<float>(std::sqrt(2.0 / double{kBlurredDim}));
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
// in[step * ld_in + lane]. For every lane this performs exactly the
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
void BoxAlongSteps(const float* __restrict in, std::size_t ld_in, float* __restrict out, std::size_t ld_out,
                   float* __restrict sum, int steps, int lanes, int window, const int* keep, int num_keep) {
  const int half = (window + 2) / 2;
  const int phase1 = half - 1;
  const int phase2 = window - half + 1;
  const int phase3 = steps - window;
  const int phase4 = half - 1;

  std::fill(sum, sum + lanes, 0.0F);
  int li = 0;
  int ri = 0;
  int oi = 0;     // output step index
  int next = 0;   // index into keep
  int count = 0;  // current window size

  auto emit = [&](int step) {
    if (keep == nullptr) {
      const auto c = static_cast<float>(count);
      float* o = out + static_cast<std::size_t>(step) * ld_out;
      for (int l = 0; l < lanes; ++l) o[l] = sum[l] / c;
    } else {
      while (next < num_keep && keep[next] == step) {
        const auto c = static_cast<float>(count);
        float* o = out + static_cast<std::size_t>(next) * ld_out;
        for (int l = 0; l < lanes; ++l) o[l] = sum[l] / c;
        ++next;
      }
    }
  };

  for (int i = 0; i < phase1; ++i, ++ri) {
    const float* r = in + static_cast<std::size_t>(ri) * ld_in;
    for (int l = 0; l < lanes; ++l) sum[l] += r[l];
    ++count;
  }
  for (int i = 0; i < phase2; ++i, ++ri, ++oi) {
    const float* r = in + static_cast<std::size_t>(ri) * ld_in;
    for (int l = 0; l < lanes; ++l) sum[l] += r[l];
    ++count;
    emit(oi);
  }
  for (int i = 0; i < phase3; ++i, ++ri, ++li, ++oi) {
    const float* r = in + static_cast<std::size_t>(ri) * ld_in;
    const float* s = in + static_cast<std::size_t>(li) * ld_in;
    for (int l = 0; l < lanes; ++l) {
      sum[l] += r[l];
      sum[l] -= s[l];
    }
    emit(oi);
  }
  for (int i = 0; i < phase4; ++i, ++li, ++oi) {
    const float* s = in + static_cast<std::size_t>(li) * ld_in;
    for (int l = 0; l < lanes; ++l) sum[l] -= s[l];
    --count;
    emit(oi);
  }
}

// out[c * ld_out + r] = in[r * ld_in + c]. Transposes are pure data movement
// (no arithmetic), so any method is exact; 8x8 register tiles with AVX when
// the processor has it, scalar tiles otherwise.
void TransposeScalar(const float* __restrict in, std::size_t ld_in, float* __restrict out, std::size_t ld_out, int rows,
                     int cols, int r_begin, int c_begin) {
  constexpr int kTile = 16;
  for (int r0 = 0; r0 < rows; r0 += kTile) {
    const int r1 = std::min(rows, r0 + kTile);
    for (int c0 = 0; c0 < cols; c0 += kTile) {
      const int c1 = std::min(cols, c0 + kTile);
      for (int r = r0; r < r1; ++r) {
        if (r < r_begin && c1 <= c_begin) continue;  // already done by the fast path
        for (int c = c0; c < c1; ++c) {
          if (r < r_begin && c < c_begin) continue;
          out[static_cast<std::size_t>(c) * ld_out + r] = in[static_cast<std::size_t>(r) * ld_in + c];
        }
      }
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("avx"))) void TransposeAvx(const float* __restrict in, std::size_t ld_in, float* __restrict out,
                                                 std::size_t ld_out, int rows, int cols) {
  const int rows8 = rows & ~7;
  const int cols8 = cols & ~7;
  for (int r = 0; r < rows8; r += 8) {
    for (int c = 0; c < cols8; c += 8) {
      const float* src = in + static_cast<std::size_t>(r) * ld_in + c;
      __m256 r0 = _mm256_loadu_ps(src + 0 * ld_in);
      __m256 r1 = _mm256_loadu_ps(src + 1 * ld_in);
      __m256 r2 = _mm256_loadu_ps(src + 2 * ld_in);
      __m256 r3 = _mm256_loadu_ps(src + 3 * ld_in);
      __m256 r4 = _mm256_loadu_ps(src + 4 * ld_in);
      __m256 r5 = _mm256_loadu_ps(src + 5 * ld_in);
      __m256 r6 = _mm256_loadu_ps(src + 6 * ld_in);
      __m256 r7 = _mm256_loadu_ps(src + 7 * ld_in);
      const __m256 t0 = _mm256_unpacklo_ps(r0, r1);
      const __m256 t1 = _mm256_unpackhi_ps(r0, r1);
      const __m256 t2 = _mm256_unpacklo_ps(r2, r3);
      const __m256 t3 = _mm256_unpackhi_ps(r2, r3);
      const __m256 t4 = _mm256_unpacklo_ps(r4, r5);
      const __m256 t5 = _mm256_unpackhi_ps(r4, r5);
      const __m256 t6 = _mm256_unpacklo_ps(r6, r7);
      const __m256 t7 = _mm256_unpackhi_ps(r6, r7);
      const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
      r0 = _mm256_permute2f128_ps(s0, s4, 0x20);
      r1 = _mm256_permute2f128_ps(s1, s5, 0x20);
      r2 = _mm256_permute2f128_ps(s2, s6, 0x20);
      r3 = _mm256_permute2f128_ps(s3, s7, 0x20);
      r4 = _mm256_permute2f128_ps(s0, s4, 0x31);
      r5 = _mm256_permute2f128_ps(s1, s5, 0x31);
      r6 = _mm256_permute2f128_ps(s2, s6, 0x31);
      r7 = _mm256_permute2f128_ps(s3, s7, 0x31);
      float* dst = out + static_cast<std::size_t>(c) * ld_out + r;
      _mm256_storeu_ps(dst + 0 * ld_out, r0);
      _mm256_storeu_ps(dst + 1 * ld_out, r1);
      _mm256_storeu_ps(dst + 2 * ld_out, r2);
      _mm256_storeu_ps(dst + 3 * ld_out, r3);
      _mm256_storeu_ps(dst + 4 * ld_out, r4);
      _mm256_storeu_ps(dst + 5 * ld_out, r5);
      _mm256_storeu_ps(dst + 6 * ld_out, r6);
      _mm256_storeu_ps(dst + 7 * ld_out, r7);
    }
  }
  if (rows8 != rows || cols8 != cols) TransposeScalar(in, ld_in, out, ld_out, rows, cols, rows8, cols8);
}
#endif

void Transpose(const float* __restrict in, std::size_t ld_in, float* __restrict out, std::size_t ld_out, int rows,
               int cols) {
#if defined(__x86_64__)
  if (cpu::HasAvx()) {
    TransposeAvx(in, ld_in, out, ld_out, rows, cols);
    return;
  }
#endif
  TransposeScalar(in, ld_in, out, ld_out, rows, cols, 0, 0);
}

// Row length for scratch matrices: a multiple of 8 floats that is not a
// multiple of 256, so that walking down a column does not keep hitting the
// same cache sets (a 512-float stride aliases badly).
std::size_t PaddedLd(int n) {
  std::size_t ld = (static_cast<std::size_t>(n) + 7) & ~std::size_t{7};
  if (ld % 256 == 0) ld += 16;
  return ld;
}

// The reference's decimateFloat index: centre of each output cell.
int DecimateIndex(int out_index, int in_dim) { return static_cast<int>(((out_index + 0.5) * in_dim) / kBlurredDim); }

// Blurs (two Jarosz passes per axis) and decimates `luma` (row-major
// height x width) to 64x64, bit-exact with the reference. `luma` is
// clobbered. The reference filters the whole image four times; only the
// sums need the whole image, so the last two passes divide (and write) only
// where the decimation samples.
void BlurAndDecimate(const float* luma, std::size_t ld, int width, int height, float out[kBlurredDim][kBlurredDim]) {
  const int window_along_rows = JaroszWindow(width, kBlurredDim);
  const int window_along_cols = JaroszWindow(height, kBlurredDim);

  int keep_cols[kBlurredDim];
  int keep_rows[kBlurredDim];
  for (int k = 0; k < kBlurredDim; ++k) {
    keep_cols[k] = DecimateIndex(k, width);
    keep_rows[k] = DecimateIndex(k, height);
  }

  // Per-thread scratch: allocating a megabyte per hash costs page faults.
  const std::size_t ld_t = PaddedLd(height);  // transposed: width rows of height lanes
  const std::size_t ld_r = PaddedLd(width);   // row-major: height rows of width lanes
  thread_local std::vector<float> x;
  thread_local std::vector<float> y;
  thread_local std::vector<float> sum;
  // Pass 3 writes 64 rows even when the image is narrower than 64 pixels.
  const std::size_t size = std::max({ld_t * static_cast<std::size_t>(std::max(width, kBlurredDim)),
                                     ld_r * static_cast<std::size_t>(height), std::size_t{kBlurredDim} * height});
  x.resize(size);
  y.resize(size);
  sum.resize(std::max({ld_t, ld_r, std::size_t{kBlurredDim}}));
  float* buf_x = x.data();
  float* buf_y = y.data();
  float* s = sum.data();

  // Pass 1 (along rows): lanes are rows, so work on the transpose.
  Transpose(luma, ld, buf_x, ld_t, height, width);
  BoxAlongSteps(buf_x, ld_t, buf_y, ld_t, s, width, height, window_along_rows, nullptr, 0);
  // Pass 2 (along columns): lanes are columns, row-major is natural.
  Transpose(buf_y, ld_t, buf_x, ld_r, width, height);
  BoxAlongSteps(buf_x, ld_r, buf_y, ld_r, s, height, width, window_along_cols, nullptr, 0);
  // Pass 3 (along rows), divided only at the 64 sampled columns: y becomes
  // 64 rows (the sampled columns) of height lanes.
  Transpose(buf_y, ld_r, buf_x, ld_t, height, width);
  BoxAlongSteps(buf_x, ld_t, buf_y, ld_t, s, width, height, window_along_rows, keep_cols, kBlurredDim);
  // Pass 4 (along columns), divided only at the 64 sampled rows.
  Transpose(buf_y, ld_t, buf_x, kBlurredDim, kBlurredDim, height);
  BoxAlongSteps(buf_x, kBlurredDim, &out[0][0], kBlurredDim, s, height, kBlurredDim, window_along_cols, keep_rows,
                kBlurredDim);
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
  std::nth_element(std::begin(copy), copy + kRank, std::end(copy));
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
    case Dihedral::kOriginal:
      return ToBits(dct);
    case Dihedral::kRotate90:
      TransformDct(dct, aux, true, [](int, int j) { return (j & 1) == 0; });
      break;
    case Dihedral::kRotate180:
      TransformDct(dct, aux, false, [](int i, int j) { return ((i + j) & 1) != 0; });
      break;
    case Dihedral::kRotate270:
      TransformDct(dct, aux, true, [](int i, int) { return (i & 1) == 0; });
      break;
    case Dihedral::kFlipX:
      TransformDct(dct, aux, false, [](int i, int) { return (i & 1) == 0; });
      break;
    case Dihedral::kFlipY:
      TransformDct(dct, aux, false, [](int, int j) { return (j & 1) == 0; });
      break;
    case Dihedral::kFlipPlus1:
      TransformDct(dct, aux, true, [](int, int) { return false; });
      break;
    case Dihedral::kFlipMinus1:
      TransformDct(dct, aux, true, [](int i, int j) { return ((i + j) & 1) != 0; });
      break;
  }
  return ToBits(aux);
}

// Blur, decimate, quality, DCT. Returns false for images too small to hash.
// The reference's single-hash path skips the blur for a 64x64 input (video
// frames pre-scaled by FFmpeg) but its dihedral path does not; a window-1
// box pass is not an identity in float ((a + b) - a != b), so we follow each.
bool LumaToDct(const float* luma, std::size_t ld, int width, int height, bool skip_blur_at_64,
               float dct[kDctDim][kDctDim], int& quality) {
  if (width < kMinHashableDim || height < kMinHashableDim) return false;
  float blurred[kBlurredDim][kBlurredDim];
  if (skip_blur_at_64 && width == kBlurredDim && height == kBlurredDim) {
    for (int r = 0; r < kBlurredDim; ++r) std::memcpy(blurred[r], luma + r * ld, sizeof(blurred[r]));
  } else {
    BlurAndDecimate(luma, ld, width, height, blurred);
  }
  quality = QualityMetric(blurred);
  Dct64To16(blurred, dct);
  return true;
}

// Nearest-neighbour source index for CImg's resize: floor(x * in / out).
std::vector<int> ResizeMap(int in_dim, int out_dim) {
  std::vector<int> map(static_cast<std::size_t>(out_dim));
  for (int x = 0; x < out_dim; ++x) {
    map[static_cast<std::size_t>(x)] = static_cast<int>((static_cast<std::int64_t>(x) * in_dim) / out_dim);
  }
  return map;
}

TAKEBACK_SIMD_CLONES
void RgbRowToLuma(const std::uint8_t* __restrict src, float* __restrict dst, int width) {
  const auto n = static_cast<std::size_t>(width);
  for (std::size_t x = 0; x < n; ++x) {
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

// The reference's pre-resize plus luma conversion, into a per-thread buffer
// (rows `ld` floats apart) that stays valid until the next call on the same
// thread.
const float* PixelsToLuma(const PixelView& v, int& width, int& height, std::size_t& ld) {
  assert(v.data != nullptr && v.width > 0 && v.height > 0);
  assert(v.channels == 1 || v.channels == 3);
  const bool resize = v.width > kDownsampleDims || v.height > kDownsampleDims;
  width = resize ? kDownsampleDims : v.width;
  height = resize ? kDownsampleDims : v.height;
  ld = PaddedLd(width);
  thread_local std::vector<float> luma;
  luma.resize(ld * height);
  if (!resize) {
    for (int y = 0; y < height; ++y) {
      const std::uint8_t* row = v.data + static_cast<std::size_t>(y) * v.stride;
      float* out = luma.data() + static_cast<std::size_t>(y) * ld;
      if (v.channels == 3) {
        RgbRowToLuma(row, out, width);
      } else {
        GreyRowToLuma(row, out, width);
      }
    }
    return luma.data();
  }
  const std::vector<int> xs = ResizeMap(v.width, width);
  const std::vector<int> ys = ResizeMap(v.height, height);
  thread_local std::vector<std::uint8_t> gathered;
  gathered.resize(static_cast<std::size_t>(width) * v.channels);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* row = v.data + static_cast<std::size_t>(ys[static_cast<std::size_t>(y)]) * v.stride;
    float* out = luma.data() + static_cast<std::size_t>(y) * ld;
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
  return luma.data();
}

PdqResult HashLuma(const float* luma, std::size_t ld, int width, int height) {
  PdqResult r;
  float dct[kDctDim][kDctDim];
  if (LumaToDct(luma, ld, width, height, /*skip_blur_at_64=*/true, dct, r.quality)) r.hash = ToBits(dct);
  return r;
}

PdqDihedralResult DihedralHashLuma(const float* luma, std::size_t ld, int width, int height) {
  PdqDihedralResult r;
  float dct[kDctDim][kDctDim];
  if (!LumaToDct(luma, ld, width, height, /*skip_blur_at_64=*/false, dct, r.quality)) return r;
  for (int d = 0; d < kNumDihedral; ++d) {
    r.hashes[static_cast<std::size_t>(d)] = DihedralHash(dct, static_cast<Dihedral>(d));
  }
  return r;
}

}  // namespace

std::string PdqHash::ToHex() const {
  std::array<std::uint8_t, 32> bytes{};
  for (std::size_t w = 0; w < 4; ++w) {
    for (std::size_t b = 0; b < 8; ++b) {
      bytes[(3 - w) * 8 + (7 - b)] = static_cast<std::uint8_t>(words[w] >> (8 * b));
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
    for (std::size_t b = 0; b < 8; ++b) v = (v << 8) | (*bytes)[static_cast<std::size_t>(3 - w) * 8 + b];
    h.words[static_cast<std::size_t>(w)] = v;
  }
  return h;
}

std::string_view DihedralName(Dihedral d) {
  switch (d) {
    case Dihedral::kOriginal:
      return "orig";
    case Dihedral::kRotate90:
      return "rot90";
    case Dihedral::kRotate180:
      return "rot180";
    case Dihedral::kRotate270:
      return "rot270";
    case Dihedral::kFlipX:
      return "flipx";
    case Dihedral::kFlipY:
      return "flipy";
    case Dihedral::kFlipPlus1:
      return "flipplus1";
    case Dihedral::kFlipMinus1:
      return "flipminus1";
  }
  return "unknown";
}

PdqResult PdqHashLuma(const float* luma, int width, int height) {
  return HashLuma(luma, static_cast<std::size_t>(width), width, height);
}

PdqDihedralResult PdqDihedralHashLuma(const float* luma, int width, int height) {
  return DihedralHashLuma(luma, static_cast<std::size_t>(width), width, height);
}

PdqResult PdqHashPixels(const PixelView& view) {
  int w = 0;
  int h = 0;
  std::size_t ld = 0;
  const float* luma = PixelsToLuma(view, w, h, ld);
  return HashLuma(luma, ld, w, h);
}

PdqDihedralResult PdqDihedralHashPixels(const PixelView& view) {
  int w = 0;
  int h = 0;
  std::size_t ld = 0;
  const float* luma = PixelsToLuma(view, w, h, ld);
  return DihedralHashLuma(luma, ld, w, h);
}

}  // namespace takeback::hash
