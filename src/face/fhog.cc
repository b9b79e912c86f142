// Takeback's HOG face detector; see fhog.h for what it reproduces. This file
// is compiled with -ffp-contract=off: the pixel-level float arithmetic must
// round as dlib's (unfused) SSE2 code does, so that the pyramid images and
// the gradient votes come out the same.
#include "face/fhog.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "common/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TAKEBACK_FHOG_X86 1
#else
#define TAKEBACK_FHOG_X86 0
#endif

namespace takeback::face::fhog {
namespace {

constexpr int kOrientations = 18;
// dlib's unit vectors for the 9 unsigned orientations (matrix<float,2,1>).
constexpr float kDirX[9] = {1.0000F, 0.9397F, 0.7660F, 0.500F, 0.1736F, -0.1736F, -0.5000F, -0.7660F, -0.9397F};
constexpr float kDirY[9] = {0.0000F, 0.3420F, 0.6428F, 0.8660F, 0.9848F, 0.9848F, 0.8660F, 0.6428F, 0.3420F};

void ResizeInto(const PlanarImage& in, int out_width, int out_height, PlanarImage& out);

bool DetectAvx2() {
#if TAKEBACK_FHOG_X86
  const char* off = std::getenv("TAKEBACK_NO_AVX2");
  if (off != nullptr && *off != '\0' && *off != '0') return false;
  return cpu::HasAvx2() && cpu::HasFma();
#else
  return false;
#endif
}

// ---------------------------------------------------------------------------
// Resize: dlib's resize_image for RGB images with bilinear interpolation.

#if TAKEBACK_FHOG_X86
// dlib's 4-wide float loop, 8 columns at a time, for the three planes
// together (the columns' weights are the same for all three): the same
// products and sums in the same order, so the same bytes. The 8 left and 8
// right neighbours of a group come from one 16-byte load at the group's
// first left neighbour and a byte shuffle (`shuffle`, 16 bytes per group;
// groups whose pixels span 16 bytes or more have none and are left to the
// caller). Reads up to 15 bytes past a group's first pixel (the next row, or
// kSlack).
__attribute__((target("avx2,fma"))) int ResizeRowAvx2(const std::uint8_t* const trow[3],
                                                      const std::uint8_t* const brow[3], const int* left,
                                                      const std::uint8_t* shuffle, const float* lr, const float* inv_lr,
                                                      int cols, float tb, float inv_tb, std::uint8_t* const orow[3]) {
  const __m256 vtb = _mm256_set1_ps(tb);
  const __m256 vinv_tb = _mm256_set1_ps(inv_tb);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int c = 0;
  for (; c + 8 <= cols; c += 8) {
    const __m128i mask = _mm_loadu_si128(reinterpret_cast<const __m128i*>(shuffle + 2 * c));
    if (_mm_movemask_epi8(mask) != 0) break;  // no shuffle for this group
    const int base = left[c];
    const __m256 f = _mm256_loadu_ps(lr + c);
    const __m256 inv_f = _mm256_loadu_ps(inv_lr + c);
    const __m256 tlf = _mm256_mul_ps(vinv_tb, inv_f);
    const __m256 trf = _mm256_mul_ps(vinv_tb, f);
    const __m256 blf = _mm256_mul_ps(vtb, inv_f);
    const __m256 brf = _mm256_mul_ps(vtb, f);
    for (int ch = 0; ch < 3; ++ch) {
      const __m128i t = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(trow[ch] + base)), mask);
      const __m128i b = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(brow[ch] + base)), mask);
      const __m256 tl = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(t));
      const __m256 tr = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(t, 8)));
      const __m256 bl = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
      const __m256 br = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8)));
      __m256 v = _mm256_add_ps(_mm256_mul_ps(tlf, tl), _mm256_mul_ps(trf, tr));
      v = _mm256_add_ps(v, _mm256_mul_ps(blf, bl));
      v = _mm256_add_ps(v, _mm256_mul_ps(brf, br));
      const __m256i iv = _mm256_cvttps_epi32(v);
      // 8 int32 in 0..255 -> 8 bytes.
      const __m256i w16 = _mm256_packus_epi32(iv, iv);   // 16-bit lanes: 0-3 0-3 | 4-7 4-7
      const __m256i w8 = _mm256_packus_epi16(w16, w16);  // bytes 0-3 x4 | 4-7 x4
      const __m256i packed = _mm256_permutevar8x32_epi32(w8, order);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(orow[ch] + c), _mm256_castsi256_si128(packed));
    }
  }
  return c;
}
#endif

// dlib's resize_image for the three planes of an image (the same geometry).
void ResizePlanes(const std::uint8_t* const in[3], int iw, int ih, std::uint8_t* const out[3], int ow, int oh,
                  bool avx2) {
  const double x_scale = (iw - 1) / static_cast<double>(std::max(ow - 1, 1));
  const double y_scale = (ih - 1) / static_cast<double>(std::max(oh - 1, 1));
  // The column quantities of dlib's 4-wide float loop do not depend on the
  // row: the lanes start at x, x+s, x+2s, x+3s (x = -4s) and advance by 4s
  // in float until the fourth lane's right neighbour leaves the image.
  std::vector<int> left;
  std::vector<float> lr;
  {
    const double x = -4 * x_scale;
    float lane[4] = {static_cast<float>(x), static_cast<float>(x + x_scale), static_cast<float>(x + 2 * x_scale),
                     static_cast<float>(x + 3 * x_scale)};
    const float step = static_cast<float>(4 * x_scale);
    for (int c = 0;; c += 4) {
      int l[4];
      for (int i = 0; i < 4; ++i) {
        lane[i] += step;
        l[i] = static_cast<int>(lane[i]);  // cvttps: truncation
      }
      if (l[3] + 1 >= iw) break;
      for (int i = 0; i < 4; ++i) {
        left.push_back(l[i]);
        lr.push_back(lane[i] - static_cast<float>(l[i]));
      }
      if (c + 4 > ow) break;  // cannot happen for a valid size; keeps writes in bounds
    }
  }
  const int simd_cols = std::min(static_cast<int>(left.size()), ow);
  std::vector<float> inv_lr(lr.size());
  for (std::size_t i = 0; i < lr.size(); ++i) inv_lr[i] = 1 - lr[i];
  // Per group of 8 columns: the byte shuffle that picks the 8 left then the
  // 8 right neighbours out of 16 bytes loaded at the group's first left
  // neighbour; 0x80 bytes (no shuffle) where they span more.
  std::vector<std::uint8_t> shuffle(2 * lr.size() + 16, 0x80);
  for (std::size_t g = 0; g + 8 <= lr.size(); g += 8) {
    const int base = left[g];
    if (left[g + 7] + 1 - base >= 16 || left[g + 7] < base) break;
    for (std::size_t i = 0; i < 8; ++i) {
      shuffle[2 * g + i] = static_cast<std::uint8_t>(left[g + i] - base);
      shuffle[2 * g + 8 + i] = static_cast<std::uint8_t>(left[g + i] + 1 - base);
    }
  }
#if !TAKEBACK_FHOG_X86
  (void)avx2;
#endif
  double y = -y_scale;
  for (int r = 0; r < oh; ++r) {
    y += y_scale;
    const long top = static_cast<long>(std::floor(y));
    const long bottom = std::min(top + 1, static_cast<long>(ih) - 1);
    const double tb_frac = y - static_cast<double>(top);
    const float tb = static_cast<float>(tb_frac);
    const float inv_tb = static_cast<float>(1 - tb_frac);
    const std::uint8_t* trows[3];
    const std::uint8_t* brows[3];
    std::uint8_t* orows[3];
    for (int ch = 0; ch < 3; ++ch) {
      trows[ch] = in[ch] + top * iw;
      brows[ch] = in[ch] + bottom * iw;
      orows[ch] = out[ch] + static_cast<std::size_t>(r) * ow;
    }
    int done = 0;
#if TAKEBACK_FHOG_X86
    if (avx2) {
      done = ResizeRowAvx2(trows, brows, left.data(), shuffle.data(), lr.data(), inv_lr.data(), simd_cols, tb, inv_tb,
                           orows);
    }
#endif
    for (int ch = 0; ch < 3; ++ch) {
      const std::uint8_t* trow = trows[ch];
      const std::uint8_t* brow = brows[ch];
      std::uint8_t* orow = orows[ch];
      for (int c = done; c < simd_cols; ++c) {
        const int l = left[static_cast<std::size_t>(c)];
        const float f = lr[static_cast<std::size_t>(c)];
        const float inv_f = inv_lr[static_cast<std::size_t>(c)];
        const float tlf = inv_tb * inv_f;
        const float trf = inv_tb * f;
        const float blf = tb * inv_f;
        const float brf = tb * f;
        const float v = tlf * static_cast<float>(trow[l]) + trf * static_cast<float>(trow[l + 1]) +
                        blf * static_cast<float>(brow[l]) + brf * static_cast<float>(brow[l + 1]);
        orow[c] = static_cast<std::uint8_t>(static_cast<int>(v));
      }
      double x = -x_scale + simd_cols * x_scale;
      for (int c = simd_cols; c < ow; ++c) {
        x += x_scale;
        const long l = static_cast<long>(std::floor(x));
        const long rt = std::min(l + 1, static_cast<long>(iw) - 1);
        const double f = x - static_cast<double>(l);
        const double v =
            (1 - tb_frac) * ((1 - f) * trow[l] + f * trow[rt]) + tb_frac * ((1 - f) * brow[l] + f * brow[rt]);
        orow[c] = static_cast<std::uint8_t>(v);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Gradients: per pixel of one row, the orientation bin (0..17) and the
// gradient length, for x in [1, end). Pixels below simd_end follow dlib's
// 8-wide code (ties between channels go to the later channel), the rest its
// scalar code (ties go to the earlier channel).

// dlib's orientation choice for one gradient: the strongest of the 9
// unsigned directions, signed (0..17); dlib tries dot then -dot against the
// best so far, in float.
inline int Orientation(float fx, float fy) {
  float best_dot = 0;
  int best_o = 0;
  for (int o = 0; o < 9; ++o) {
    const float dot = fx * kDirX[o] + fy * kDirY[o];
    if (dot > best_dot) {
      best_dot = dot;
      best_o = o;
    } else if (-dot > best_dot) {
      best_dot = -dot;
      best_o = o + 9;
    }
  }
  return best_o;
}

#if TAKEBACK_FHOG_X86
// The same choice for 8 gradients, with 4 dot products instead of 9.
// Directions o and 9 - o (o = 1..4) are mirror images (kDirX[9 - o] =
// -kDirX[o], kDirY the same), so with a = |fx| kDirX[o] and b = |fy| kDirY[o]
// the larger of their two |dot|s is a + b, in float too (rounding is
// symmetric), and it belongs to o when fx and fy have the same sign (or one
// is 0: then the two tie and dlib keeps the first, o), to 9 - o otherwise;
// direction 0's |dot| is |fx|. The strongest of the 5 (the first on ties,
// as dlib), then its sign: that of fy, or of fx when fy is 0 or direction 0
// wins. Checked against Orientation on all 511 x 511 integer gradients
// (FhogOrientation.SameChoiceAsDlibForEveryGradient).
__attribute__((target("avx2,fma"))) inline __m256i OrientationAvx2(__m256 fx, __m256 fy) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 zero = _mm256_setzero_ps();
  const __m256 ax = _mm256_and_ps(fx, abs_mask);
  const __m256 ay = _mm256_and_ps(fy, abs_mask);
  __m256 best = ax;
  __m256 k = zero;  // the winning pair, as a float (exact)
  for (int o = 1; o <= 4; ++o) {
    const __m256 m =
        _mm256_add_ps(_mm256_mul_ps(ax, _mm256_set1_ps(kDirX[o])), _mm256_mul_ps(ay, _mm256_set1_ps(kDirY[o])));
    const __m256 better = _mm256_cmp_ps(m, best, _CMP_GT_OQ);
    best = _mm256_max_ps(m, best);
    k = _mm256_blendv_ps(k, _mm256_set1_ps(static_cast<float>(o)), better);
  }
  const __m256 k_zero = _mm256_cmp_ps(k, zero, _CMP_EQ_OQ);
  const __m256 fy_zero = _mm256_cmp_ps(fy, zero, _CMP_EQ_OQ);
  const __m256 fx_zero = _mm256_cmp_ps(fx, zero, _CMP_EQ_OQ);
  // Sign bit set where fx and fy are both non-zero with opposite signs and a
  // pair won: the mirror direction 9 - k.
  const __m256 mirror = _mm256_andnot_ps(_mm256_or_ps(k_zero, _mm256_or_ps(fx_zero, fy_zero)), _mm256_xor_ps(fx, fy));
  const __m256 w = _mm256_blendv_ps(k, _mm256_sub_ps(_mm256_set1_ps(9), k), mirror);
  // The winning dot's sign (no -0: the gradients come from integers).
  const __m256 sign_of = _mm256_blendv_ps(fy, fx, _mm256_or_ps(k_zero, fy_zero));
  const __m256 bin = _mm256_add_ps(w, _mm256_blendv_ps(zero, _mm256_set1_ps(9), sign_of));
  return _mm256_cvttps_epi32(bin);
}
#endif

inline void GradientPixel(const std::uint8_t* const up[3], const std::uint8_t* const mid[3],
                          const std::uint8_t* const down[3], int x, bool simd_rule, int* orientation, float* length) {
  int gx[3];
  int gy[3];
  int len[3];
  for (int ch = 0; ch < 3; ++ch) {
    gx[ch] = static_cast<int>(mid[ch][x + 1]) - static_cast<int>(mid[ch][x - 1]);
    gy[ch] = static_cast<int>(down[ch][x]) - static_cast<int>(up[ch][x]);
    len[ch] = gx[ch] * gx[ch] + gy[ch] * gy[ch];
  }
  int best = 0;
  if (simd_rule) {
    best = len[0] > len[1] ? 0 : 1;
    best = len[best] > len[2] ? best : 2;
  } else {
    if (len[1] > len[best]) best = 1;
    if (len[2] > len[best]) best = 2;
  }
  *orientation = Orientation(static_cast<float>(gx[best]), static_cast<float>(gy[best]));
  *length = std::sqrt(static_cast<float>(len[best]));
}

// Where each pixel of a row votes: its left vote goes to votes[at[x]]
// with weight wx1[x], its right vote to votes[at[x] + 1] (the next
// histogram column) with wx0[x]; at[x] = base[x] + orientation * o_stride
// (histogram rows are orientation-major: 18 rows of columns).
struct VoteMap {
  const int* base;
  const float* wx1;
  const float* wx0;
  int o_stride;
};
// A row's gradients as votes: at[x], and the left and right votes'
// values, for x in [1, end).
struct RowVotes {
  int* at;
  float* left;
  float* right;
};

void GradientRowPortable(const std::uint8_t* const up[3], const std::uint8_t* const mid[3],
                         const std::uint8_t* const down[3], int simd_end, int end, const VoteMap& map,
                         const RowVotes& out) {
  for (int x = 1; x < end; ++x) {
    int o = 0;
    float len = 0;
    GradientPixel(up, mid, down, x, x < simd_end, &o, &len);
    out.at[x] = map.base[x] + o * map.o_stride;
    out.left[x] = map.wx1[x] * len;
    out.right[x] = map.wx0[x] * len;
  }
}

#if TAKEBACK_FHOG_X86
__attribute__((target("avx2,fma"))) inline __m256i Load8(const std::uint8_t* p) {
  std::int64_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(v));
}

__attribute__((target("avx2,fma"))) void GradientRowAvx2(const std::uint8_t* const up[3],
                                                         const std::uint8_t* const mid[3],
                                                         const std::uint8_t* const down[3], int simd_end, int end,
                                                         const VoteMap& map, const RowVotes& out) {
  int x = 1;
  for (; x < simd_end; x += 8) {
    __m256i gx[3];
    __m256i gy[3];
    __m256i len[3];
    for (int ch = 0; ch < 3; ++ch) {
      gx[ch] = _mm256_sub_epi32(Load8(mid[ch] + x + 1), Load8(mid[ch] + x - 1));
      gy[ch] = _mm256_sub_epi32(Load8(down[ch] + x), Load8(up[ch] + x));
      len[ch] = _mm256_add_epi32(_mm256_mullo_epi32(gx[ch], gx[ch]), _mm256_mullo_epi32(gy[ch], gy[ch]));
    }
    // dlib: cmp = rlen > glen; t = cmp ? red : green; cmp = tlen > blen; t = cmp ? t : blue.
    __m256i cmp = _mm256_cmpgt_epi32(len[0], len[1]);
    __m256i tx = _mm256_blendv_epi8(gx[1], gx[0], cmp);
    __m256i ty = _mm256_blendv_epi8(gy[1], gy[0], cmp);
    __m256i tl = _mm256_blendv_epi8(len[1], len[0], cmp);
    cmp = _mm256_cmpgt_epi32(tl, len[2]);
    tx = _mm256_blendv_epi8(gx[2], tx, cmp);
    ty = _mm256_blendv_epi8(gy[2], ty, cmp);
    tl = _mm256_blendv_epi8(len[2], tl, cmp);
    const __m256 fx = _mm256_cvtepi32_ps(tx);
    const __m256 fy = _mm256_cvtepi32_ps(ty);
    const __m256i best_oi = OrientationAvx2(fx, fy);
    const __m256 length = _mm256_sqrt_ps(_mm256_cvtepi32_ps(tl));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.at + x),
                        _mm256_add_epi32(_mm256_mullo_epi32(best_oi, _mm256_set1_epi32(map.o_stride)),
                                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(map.base + x))));
    _mm256_storeu_ps(out.left + x, _mm256_mul_ps(_mm256_loadu_ps(map.wx1 + x), length));
    _mm256_storeu_ps(out.right + x, _mm256_mul_ps(_mm256_loadu_ps(map.wx0 + x), length));
  }
  for (; x < end; ++x) {
    int o = 0;
    float len = 0;
    GradientPixel(up, mid, down, x, false, &o, &len);
    out.at[x] = map.base[x] + o * map.o_stride;
    out.left[x] = map.wx1[x] * len;
    out.right[x] = map.wx0[x] * len;
  }
}
#endif

// A row's votes go to kVoteCopies copies of two histogram rows (pixel x to
// copy x % kVoteCopies), so that nearby pixels voting into the same bin do
// not wait on each other's stores.
inline constexpr int kVoteCopies = 2;

// The votes of pixels [begin, end) of one row, weighted along x, into the
// copies.
void ScatterVotes(const RowVotes& row, int begin, int end, float* __restrict votes) {
  const int* __restrict at = row.at;
  const float* __restrict left = row.left;
  const float* __restrict right = row.right;
  for (int x = begin; x < end; ++x) {
    float* v = votes + at[x];
    v[0] += left[x];
    v[1] += right[x];
  }
}

// The copies' sum, weighted along y, added to two histogram rows; the copies
// are left zeroed for the next row.
void AddVotesPortable(float* votes, std::size_t copy, std::size_t begin, float vy1, float vy0, float* row0,
                      float* row1) {
  float* c0 = votes;
  float* c1 = votes + copy;

  for (std::size_t i = begin; i < copy; ++i) {
    const float sum = c0[i] + c1[i];
    c0[i] = 0;
    c1[i] = 0;

    row0[i] += vy1 * sum;
    row1[i] += vy0 * sum;
  }
}

#if TAKEBACK_FHOG_X86
// The same arithmetic, 8 at a time (no FMA: the same roundings).
__attribute__((target("avx2,fma"))) void AddVotesAvx2(float* votes, std::size_t copy, float vy1, float vy0, float* row0,
                                                      float* row1) {
  const __m256 w1 = _mm256_set1_ps(vy1);
  const __m256 w0 = _mm256_set1_ps(vy0);
  float* c0 = votes;
  float* c1 = votes + copy;

  std::size_t i = 0;
  for (; i + 8 <= copy; i += 8) {
    const __m256 sum = _mm256_add_ps(_mm256_loadu_ps(c0 + i), _mm256_loadu_ps(c1 + i));
    _mm256_storeu_ps(c0 + i, _mm256_setzero_ps());
    _mm256_storeu_ps(c1 + i, _mm256_setzero_ps());

    _mm256_storeu_ps(row0 + i, _mm256_add_ps(_mm256_loadu_ps(row0 + i), _mm256_mul_ps(w1, sum)));
    _mm256_storeu_ps(row1 + i, _mm256_add_ps(_mm256_loadu_ps(row1 + i), _mm256_mul_ps(w0, sum)));
  }
  AddVotesPortable(votes, copy, i, vy1, vy0, row0, row1);
}
#endif

void AddVotes(float* votes, std::size_t copy, float vy1, float vy0, float* row0, float* row1, bool avx2) {
#if TAKEBACK_FHOG_X86
  if (avx2) {
    AddVotesAvx2(votes, copy, vy1, vy0, row0, row1);
    return;
  }
#else
  (void)avx2;
#endif
  AddVotesPortable(votes, copy, 0, vy1, vy0, row0, row1);
}

// ---------------------------------------------------------------------------
// Features: dlib's extract_fhog_features (cell size 8) into 31 planes of
// (hog_rows + pad) x (hog_cols + pad) floats, zero outside the features,
// row stride `stride`.

// The loops below write rows that the compiler cannot prove apart from the
// rows they read; they are (separate buffers), so they may be vectorised.
#if defined(__clang__)
#define TAKEBACK_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define TAKEBACK_IVDEP _Pragma("GCC ivdep")
#else
#define TAKEBACK_IVDEP
#endif

// The energy of each cell of a histogram row, summed over the 9 unsigned
// orientations: h points at the row's first cell of orientation 0, the
// orientations o_stride apart. The same sums, in the same order, for each
// cell as dlib's.
__attribute__((always_inline)) inline void CellEnergiesBody(const float* h, std::size_t o_stride, int n, float* norm) {
  for (int o = 0; o < 9; ++o) {
    const float* a = h + static_cast<std::size_t>(o) * o_stride;
    const float* b = h + static_cast<std::size_t>(o + 9) * o_stride;
    TAKEBACK_IVDEP
    for (int c = 0; c < n; ++c) {
      const float v = a[c] + b[c];
      norm[c] += v * v;
    }
  }
}

// One row of features: h points at the row's first cell of orientation 0
// (orientations o_stride apart), lanes holds the cells' 4 truncations then
// their 4 scales (n floats each), dst is the first cell's feature in plane
// 0 (planes plane_size apart). The arithmetic of dlib's SSE2 code per cell:
// each lane min(value, nn) * n, the lanes summed as (0 + 2) + (1 + 3).
__attribute__((always_inline)) inline void FeatureRowBody(const float* h, std::size_t o_stride, float* lanes, int n,
                                                          float* dst, std::size_t plane_size) {
  const float* nn0 = lanes;
  const float* nn1 = lanes + n;
  const float* nn2 = lanes + 2 * static_cast<std::size_t>(n);
  const float* nn3 = lanes + 3 * static_cast<std::size_t>(n);
  const float* s0 = lanes + 4 * static_cast<std::size_t>(n);
  const float* s1 = lanes + 5 * static_cast<std::size_t>(n);
  const float* s2 = lanes + 6 * static_cast<std::size_t>(n);
  const float* s3 = lanes + 7 * static_cast<std::size_t>(n);
  // t: the texture sums per lane, in the last 4 of `lanes`' 12 rows.
  float* t0 = lanes + 8 * static_cast<std::size_t>(n);
  float* t1 = t0 + n;
  float* t2 = t1 + n;
  float* t3 = t2 + n;
  TAKEBACK_IVDEP
  for (int c = 0; c < n; ++c) {
    t0[c] = 0;
    t1[c] = 0;
    t2[c] = 0;
    t3[c] = 0;
  }
  for (int o = 0; o < kOrientations; o += 3) {
    const float* h0 = h + static_cast<std::size_t>(o) * o_stride;
    const float* h1 = h0 + o_stride;
    const float* h2 = h1 + o_stride;
    float* d0 = dst + static_cast<std::size_t>(o) * plane_size;
    float* d1 = d0 + plane_size;
    float* d2 = d1 + plane_size;
    TAKEBACK_IVDEP
    for (int c = 0; c < n; ++c) {
      const float a0 = std::min(h0[c], nn0[c]) * s0[c];
      const float a1 = std::min(h0[c], nn1[c]) * s1[c];
      const float a2 = std::min(h0[c], nn2[c]) * s2[c];
      const float a3 = std::min(h0[c], nn3[c]) * s3[c];
      const float b0 = std::min(h1[c], nn0[c]) * s0[c];
      const float b1 = std::min(h1[c], nn1[c]) * s1[c];
      const float b2 = std::min(h1[c], nn2[c]) * s2[c];
      const float b3 = std::min(h1[c], nn3[c]) * s3[c];
      const float e0 = std::min(h2[c], nn0[c]) * s0[c];
      const float e1 = std::min(h2[c], nn1[c]) * s1[c];
      const float e2 = std::min(h2[c], nn2[c]) * s2[c];
      const float e3 = std::min(h2[c], nn3[c]) * s3[c];
      d0[c] = (a0 + a2) + (a1 + a3);
      d1[c] = (b0 + b2) + (b1 + b3);
      d2[c] = (e0 + e2) + (e1 + e3);
      t0[c] += a0 + b0 + e0;
      t1[c] += a1 + b1 + e1;
      t2[c] += a2 + b2 + e2;
      t3[c] += a3 + b3 + e3;
    }
  }
  for (int o = 0; o < 9; ++o) {
    const float* ha = h + static_cast<std::size_t>(o) * o_stride;
    const float* hb = h + static_cast<std::size_t>(o + 9) * o_stride;
    float* d = dst + static_cast<std::size_t>(18 + o) * plane_size;
    TAKEBACK_IVDEP
    for (int c = 0; c < n; ++c) {
      const float v = ha[c] + hb[c];
      d[c] = (std::min(v, nn0[c]) * s0[c] + std::min(v, nn2[c]) * s2[c]) +
             (std::min(v, nn1[c]) * s1[c] + std::min(v, nn3[c]) * s3[c]);
    }
  }
  const float scale = static_cast<float>(2 * 0.2357);
  float* d27 = dst + 27 * plane_size;
  TAKEBACK_IVDEP
  for (int c = 0; c < n; ++c) {
    d27[c] = t0[c] * scale;
    d27[plane_size + static_cast<std::size_t>(c)] = t1[c] * scale;
    d27[2 * plane_size + static_cast<std::size_t>(c)] = t2[c] * scale;
    d27[3 * plane_size + static_cast<std::size_t>(c)] = t3[c] * scale;
  }
}

void CellEnergiesPortable(const float* h, std::size_t o_stride, int n, float* norm) {
  CellEnergiesBody(h, o_stride, n, norm);
}
void FeatureRowPortable(const float* h, std::size_t o_stride, float* lanes, int n, float* dst, std::size_t plane_size) {
  FeatureRowBody(h, o_stride, lanes, n, dst, plane_size);
}
#if TAKEBACK_FHOG_X86
// The same code compiled for AVX2 (8 cells at a time; no contraction into
// FMA in this file, so the same roundings).
__attribute__((target("avx2,fma"))) void CellEnergiesAvx2(const float* h, std::size_t o_stride, int n, float* norm) {
  CellEnergiesBody(h, o_stride, n, norm);
}
__attribute__((target("avx2,fma"))) void FeatureRowAvx2(const float* h, std::size_t o_stride, float* lanes, int n,
                                                        float* dst, std::size_t plane_size) {
  FeatureRowBody(h, o_stride, lanes, n, dst, plane_size);
}
#endif

void CellEnergies(const float* h, std::size_t o_stride, int n, float* norm, bool avx2) {
#if TAKEBACK_FHOG_X86
  if (avx2) {
    CellEnergiesAvx2(h, o_stride, n, norm);
    return;
  }
#else
  (void)avx2;
#endif
  CellEnergiesPortable(h, o_stride, n, norm);
}

void FeatureRow(const float* h, std::size_t o_stride, float* lanes, int n, float* dst, std::size_t plane_size,
                bool avx2) {
#if TAKEBACK_FHOG_X86
  if (avx2) {
    FeatureRowAvx2(h, o_stride, lanes, n, dst, plane_size);
    return;
  }
#else
  (void)avx2;
#endif
  FeatureRowPortable(h, o_stride, lanes, n, dst, plane_size);
}

struct FeatureMap {
  int rows = 0;       // hog_rows + filter_rows - 1
  int cols = 0;       // hog_cols + filter_cols - 1
  int stride = 0;     // cols rounded up, plus room for 8-wide loads past the end
  int first_row = 0;  // rows [first_row, end_row) hold features, the others are zero padding
  int end_row = 0;
  std::vector<float> data;  // kPlanes * rows * stride
  // Scratch space of ExtractFeatures, kept for the next level.
  std::vector<float> hist;
  std::vector<float> norm;
  std::vector<float> votes;
  std::vector<float> lanes;
  float* plane(int p) { return data.data() + static_cast<std::size_t>(p) * rows * stride; }
  const float* plane(int p) const { return data.data() + static_cast<std::size_t>(p) * rows * stride; }
};

bool ExtractFeatures(const PlanarImage& img, int cell, int filter_rows, int filter_cols, bool avx2, FeatureMap& out) {
  const int cells_nr =
      static_cast<int>(static_cast<double>(static_cast<float>(img.height) / static_cast<float>(cell)) + 0.5);
  const int cells_nc =
      static_cast<int>(static_cast<double>(static_cast<float>(img.width) / static_cast<float>(cell)) + 0.5);
  if (cells_nr <= 2 || cells_nc <= 2) return false;
  const int hog_nr = cells_nr - 2;
  const int hog_nc = cells_nc - 2;
  const int hist_nc = cells_nc + 2;
  std::vector<float>& hist = out.hist;
  // Orientation-major rows: hist[(r * 18 + o) * hist_nc + c].
  hist.assign(static_cast<std::size_t>(cells_nr + 2) * hist_nc * kOrientations, 0.0F);
  const std::size_t hist_row = static_cast<std::size_t>(hist_nc) * kOrientations;
  const auto hrow = [&](int r) { return hist.data() + static_cast<std::size_t>(r) * hist_row; };

  const int visible_nr = std::min(cells_nr * cell, img.height) - 1;
  const int visible_nc = std::min(cells_nc * cell, img.width) - 1;
  // dlib's 8-wide loop covers x = 1, 9, 17, ... while x < visible_nc - 7.
  int simd_end = 1;
  while (simd_end < visible_nc - 7) simd_end += 8;
  // Per column: the histogram column of the left vote and the two weights.
  std::vector<int> hcol(static_cast<std::size_t>(std::max(visible_nc, 1)));
  std::vector<float> wx1(hcol.size());
  std::vector<float> wx0(hcol.size());
  for (int x = 1; x < visible_nc; ++x) {
    if (x < simd_end) {
      const float xp = (static_cast<float>(x) + 0.5F) / static_cast<float>(cell) + 0.5F;
      const int ixp = static_cast<int>(xp);
      hcol[static_cast<std::size_t>(x)] = ixp;
      wx0[static_cast<std::size_t>(x)] = xp - static_cast<float>(ixp);
    } else {
      const float xp = static_cast<float>((static_cast<double>(x) + 0.5) / static_cast<double>(cell) - 0.5);
      const int ixp = static_cast<int>(std::floor(xp));
      hcol[static_cast<std::size_t>(x)] = ixp + 1;
      wx0[static_cast<std::size_t>(x)] = xp - static_cast<float>(ixp);
    }
    wx1[static_cast<std::size_t>(x)] = 1.0F - wx0[static_cast<std::size_t>(x)];
  }

  const std::size_t votes_copy = static_cast<std::size_t>(hist_nc) * kOrientations;
  std::vector<float>& votes = out.votes;
  votes.assign(kVoteCopies * votes_copy, 0.0F);
  std::vector<int> base(hcol.size() + 8);
  for (std::size_t x = 1; x < hcol.size(); ++x) {
    base[x] = static_cast<int>((x % kVoteCopies) * votes_copy) + hcol[x];
  }
  wx1.resize(hcol.size() + 8);
  wx0.resize(hcol.size() + 8);
  const VoteMap map{base.data(), wx1.data(), wx0.data(), hist_nc};
  std::vector<int> vote_at(static_cast<std::size_t>(img.width) + 8);
  std::vector<float> left(vote_at.size());
  std::vector<float> right(vote_at.size());
  const RowVotes row{vote_at.data(), left.data(), right.data()};
  for (int y = 1; y < visible_nr; ++y) {
    const float yp = static_cast<float>((static_cast<double>(y) + 0.5) / static_cast<double>(cell) - 0.5);
    const int iyp = static_cast<int>(std::floor(yp));
    const float vy0 = yp - static_cast<float>(iyp);
    const float vy1 = static_cast<float>(1.0 - static_cast<double>(vy0));
    const std::uint8_t* up[3];
    const std::uint8_t* mid[3];
    const std::uint8_t* down[3];
    for (int ch = 0; ch < 3; ++ch) {
      const std::uint8_t* p = img.plane(ch);
      up[ch] = p + static_cast<std::size_t>(y - 1) * img.width;
      mid[ch] = p + static_cast<std::size_t>(y) * img.width;
      down[ch] = p + static_cast<std::size_t>(y + 1) * img.width;
    }
#if TAKEBACK_FHOG_X86
    if (avx2) {
      GradientRowAvx2(up, mid, down, simd_end, visible_nc, map, row);
    } else {
      GradientRowPortable(up, mid, down, simd_end, visible_nc, map, row);
    }
#else
    (void)avx2;
    GradientRowPortable(up, mid, down, simd_end, visible_nc, map, row);
#endif
    // The row's votes, weighted along x, go to the copies; their sum,
    // weighted along y, then goes to the histogram rows iyp + 1 and iyp + 2.
    // (dlib adds each vote straight into the histogram: the same sums in
    // another order.)
    ScatterVotes(row, 1, visible_nc, votes.data());
    AddVotes(votes.data(), votes_copy, vy1, vy0, hrow(iyp + 1), hrow(iyp + 2), avx2);
  }

  // Energy of each cell, summed over the 9 unsigned orientations.
  std::vector<float>& norm = out.norm;
  norm.assign(static_cast<std::size_t>(cells_nr) * cells_nc, 0.0F);
  for (int r = 0; r < cells_nr; ++r) {
    CellEnergies(hrow(r + 1) + 1, static_cast<std::size_t>(hist_nc), cells_nc,
                 norm.data() + static_cast<std::size_t>(r) * cells_nc, avx2);
  }

  out.rows = hog_nr + filter_rows - 1;
  out.cols = hog_nc + filter_cols - 1;
  out.stride = (out.cols + 7) / 8 * 8 + 16;
  const int row_off = (filter_rows - 1) / 2;
  const int col_off = (filter_cols - 1) / 2;
  out.first_row = row_off;
  out.end_row = row_off + hog_nr;
  // Every feature is written below; only the padding around them is zeroed
  // (the buffer is reused from level to level, and only grows: growing a
  // vector zeroes the new part).
  const std::size_t data_size = static_cast<std::size_t>(kPlanes) * out.rows * out.stride;
  if (out.data.size() < data_size) out.data.resize(data_size);
  for (int p = 0; p < kPlanes; ++p) {
    float* plane = out.plane(p);
    const std::size_t stride = static_cast<std::size_t>(out.stride);
    std::fill(plane, plane + static_cast<std::size_t>(row_off) * stride, 0.0F);
    std::fill(plane + static_cast<std::size_t>(row_off + hog_nr) * stride,
              plane + static_cast<std::size_t>(out.rows) * stride, 0.0F);
    for (int y = row_off; y < row_off + hog_nr; ++y) {
      float* line = plane + static_cast<std::size_t>(y) * stride;
      std::fill(line, line + col_off, 0.0F);
      std::fill(line + col_off + hog_nc, line + stride, 0.0F);
    }
  }
  // Per feature row: the 4 block normalisations of each cell (nn = the
  // truncation, n = the scale), then the features, a row at a time.
  std::vector<float>& lanes = out.lanes;
  lanes.resize(12 * static_cast<std::size_t>(hog_nc));
  const std::size_t plane_size = static_cast<std::size_t>(out.rows) * out.stride;
  const float eps = 0.0001F;
  for (int y = 0; y < hog_nr; ++y) {
    const float* n0 = norm.data() + static_cast<std::size_t>(y) * cells_nc;
    const float* n1 = n0 + cells_nc;
    const float* n2 = n1 + cells_nc;
    for (int x = 0; x < hog_nc; ++x) {
      // The four 2x2 blocks around the cell, in dlib's lane order.
      const float z[4] = {
          n1[x + 1] + n1[x + 2] + n2[x + 1] + n2[x + 2],
          n0[x + 1] + n0[x + 2] + n1[x + 1] + n1[x + 2],
          n1[x] + n1[x + 1] + n2[x] + n2[x + 1],
          n0[x] + n0[x + 1] + n1[x] + n1[x + 1],
      };
      for (int i = 0; i < 4; ++i) {
        const float nn = 0.2F * std::sqrt(z[i] + eps);
        lanes[static_cast<std::size_t>(i) * hog_nc + x] = nn;
        lanes[static_cast<std::size_t>(4 + i) * hog_nc + x] = 0.1F / nn;
      }
    }
    float* dst = out.data.data() + static_cast<std::size_t>(y + row_off) * out.stride + col_off;
    FeatureRow(hrow(y + 2) + 2, static_cast<std::size_t>(hist_nc), lanes.data(), hog_nc, dst, plane_size, avx2);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Filters: response_k[r][c] = sum over planes p and the separable parts j of
// detector k's filter for p of col_j . (row_j * plane_p), for r in
// [0, rows - filter_rows], c in [0, cols - filter_cols] (dlib's saliency at
// (r + filter_rows/2, c + filter_cols/2)).
//
// One plane at a time, one input row at a time: the row filters of every
// detector for that plane run over the row together (each input vector is
// loaded once for all of them) into a ring of the last filter_rows + 1
// filtered rows per part; as soon as an output row's input rows are in the
// ring, each part's column filter adds it to its detector's response (the
// AVX2 kernels two output rows at a time). The working set stays in the L2
// cache whatever the image size.

// The separable parts of every detector that filter one plane.
struct PlaneBank {
  std::vector<int> detector;
  std::vector<float> row;        // parts x row_taps
  std::vector<float> col;        // parts x col_taps
  std::vector<int> group_begin;  // groups + 1 entries: each detector's first part, then parts()
  int parts() const { return static_cast<int>(detector.size()); }
  int groups() const { return static_cast<int>(group_begin.size()) - 1; }
};

std::vector<PlaneBank> MakeBanks(const Model& model) {
  std::vector<PlaneBank> banks(kPlanes);
  for (std::size_t k = 0; k < model.filters.size(); ++k) {
    const Filter& f = model.filters[k];
    for (std::size_t p = 0; p < f.planes.size() && p < banks.size(); ++p) {
      for (const SeparableFilter& part : f.planes[p]) {
        if (static_cast<int>(part.row.size()) != model.filter_cols ||
            static_cast<int>(part.col.size()) != model.filter_rows) {
          continue;  // a malformed model; Detect checks the sizes up front
        }
        banks[p].detector.push_back(static_cast<int>(k));
        banks[p].row.insert(banks[p].row.end(), part.row.begin(), part.row.end());
        banks[p].col.insert(banks[p].col.end(), part.col.begin(), part.col.end());
      }
    }
  }
  for (PlaneBank& bank : banks) {
    for (int j = 0; j < bank.parts(); ++j) {
      if (j == 0 || bank.detector[static_cast<std::size_t>(j)] != bank.detector[static_cast<std::size_t>(j) - 1]) {
        bank.group_begin.push_back(j);
      }
    }
    bank.group_begin.push_back(bank.parts());
  }
  return banks;
}

// All parts' row filters over one input row; part j's output goes to
// out + j * part_stride.
void RowFiltersPortable(const float* in, int out_cols, const PlaneBank& bank, int taps, float* out,
                        std::size_t part_stride) {
  for (int j = 0; j < bank.parts(); ++j) {
    const float* t = bank.row.data() + static_cast<std::size_t>(j) * taps;
    float* dst = out + static_cast<std::size_t>(j) * part_stride;
    for (int c = 0; c < out_cols; ++c) {
      float acc = 0;
      for (int n = 0; n < taps; ++n) acc += in[c + n] * t[n];
      dst[c] = acc;
    }
  }
}

// One output row of one part's column filter, added to `out`; rows[m] is
// the m-th filtered input row.
void ColFilterAddPortable(const float* const* rows, int out_cols, const float* taps, int ntaps, float* out) {
  for (int c = 0; c < out_cols; ++c) {
    float acc = 0;
    for (int m = 0; m < ntaps; ++m) acc += rows[m][c] * taps[m];
    out[c] += acc;
  }
}

#if TAKEBACK_FHOG_X86
// Writes 8-wide groups: up to 7 floats past out_cols (inside the padding).
template <int Taps>
__attribute__((target("avx2,fma"))) void RowFiltersAvx2(const float* in, int out_cols, const PlaneBank& bank,
                                                        float* out, std::size_t part_stride) {
  const int parts = bank.parts();
  const float* taps = bank.row.data();
  for (int c = 0; c < out_cols; c += 8) {
    __m256 x[Taps];
    for (int n = 0; n < Taps; ++n) x[n] = _mm256_loadu_ps(in + c + n);
    for (int j = 0; j < parts; ++j) {
      const float* t = taps + static_cast<std::size_t>(j) * Taps;
      __m256 acc0 = _mm256_mul_ps(x[0], _mm256_broadcast_ss(t));
      __m256 acc1 = _mm256_mul_ps(x[1], _mm256_broadcast_ss(t + 1));
      for (int n = 2; n + 1 < Taps; n += 2) {
        acc0 = _mm256_fmadd_ps(x[n], _mm256_broadcast_ss(t + n), acc0);
        acc1 = _mm256_fmadd_ps(x[n + 1], _mm256_broadcast_ss(t + n + 1), acc1);
      }
      if (Taps % 2 == 1) acc0 = _mm256_fmadd_ps(x[Taps - 1], _mm256_broadcast_ss(t + Taps - 1), acc0);
      _mm256_storeu_ps(out + static_cast<std::size_t>(j) * part_stride + c, _mm256_add_ps(acc0, acc1));
    }
  }
}

// All parts of one detector for this plane: their column filters added to
// one output row of the detector's response, with one load and store of it
// per 8 outputs, from column `begin` on. ring + j * kPartStride is part j's
// ring (Slots rows of kRingRow floats); the output row's m-th input row
// sits in slot (First + m) % Slots, a constant offset in this
// instantiation (one per first slot), so the loads need no row pointers.
inline constexpr int kRingRow = 64;  // floats per ring row: the column tile

template <int Taps, int Slots, int First>
__attribute__((target("avx2,fma"))) inline void ColFiltersAddAvx2(const float* ring, const float* taps, int parts,
                                                                  int begin, int out_cols, float* out) {
  constexpr std::ptrdiff_t kPartStride = static_cast<std::ptrdiff_t>(Slots) * kRingRow;
  for (int c = begin; c < out_cols; c += 8) {
    __m256 acc0 = _mm256_loadu_ps(out + c);
    __m256 acc1 = _mm256_setzero_ps();
    for (int j = 0; j < parts; ++j) {
      const float* r = ring + j * kPartStride + c;
      const float* t = taps + static_cast<std::ptrdiff_t>(j) * Taps;
      for (int m = 0; m + 1 < Taps; m += 2) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + ((First + m) % Slots) * kRingRow), _mm256_broadcast_ss(t + m), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(r + ((First + m + 1) % Slots) * kRingRow),
                               _mm256_broadcast_ss(t + m + 1), acc1);
      }
      if (Taps % 2 == 1) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + ((First + Taps - 1) % Slots) * kRingRow),
                               _mm256_broadcast_ss(t + Taps - 1), acc0);
      }
    }
    _mm256_storeu_ps(out + c, _mm256_add_ps(acc0, acc1));
  }
}

// The same for two consecutive output rows at once (out0, then out1 one
// row below): their Taps + 1 input rows are loaded once for both, which
// takes this loop from bound by loads to bound by multiply-adds. Each
// output's sums are made in the same order as in ColFiltersAddAvx2 (even
// taps into one accumulator starting from the output, odd taps into
// another, parts in order), so the same roundings.
template <int Taps, int Slots, int First>
__attribute__((target("avx2,fma"))) inline void ColFiltersAddPairAvx2(const float* ring, const float* taps, int parts,
                                                                      int out_cols, float* out0, float* out1) {
  static_assert(Slots > Taps);
  constexpr std::ptrdiff_t kPartStride = static_cast<std::ptrdiff_t>(Slots) * kRingRow;
  int c = 0;
  for (; c + 16 <= out_cols; c += 16) {
    __m256 a0[2];  // row 0, even taps (from the output)
    __m256 a1[2];  // row 0, odd taps
    __m256 b0[2];  // row 1, even taps (from the output)
    __m256 b1[2];  // row 1, odd taps
    for (std::ptrdiff_t g = 0; g < 2; ++g) {
      a0[g] = _mm256_loadu_ps(out0 + c + 8 * g);
      b0[g] = _mm256_loadu_ps(out1 + c + 8 * g);
      a1[g] = _mm256_setzero_ps();
      b1[g] = _mm256_setzero_ps();
    }
    for (int j = 0; j < parts; ++j) {
      const float* r = ring + j * kPartStride + c;
      const float* t = taps + static_cast<std::ptrdiff_t>(j) * Taps;
      // Input row m is row 0's tap m and row 1's tap m - 1.
      for (int m = 0; m <= Taps; ++m) {
        const float* rm = r + static_cast<std::ptrdiff_t>((First + m) % Slots) * kRingRow;
        const __m256 v[2] = {_mm256_loadu_ps(rm), _mm256_loadu_ps(rm + 8)};
        if (m < Taps) {
          const __m256 tap = _mm256_broadcast_ss(t + m);
          __m256* acc = m % 2 == 0 || (Taps % 2 == 1 && m == Taps - 1) ? a0 : a1;
          for (int g = 0; g < 2; ++g) acc[g] = _mm256_fmadd_ps(v[g], tap, acc[g]);
        }
        if (m >= 1) {
          const __m256 tap = _mm256_broadcast_ss(t + m - 1);
          __m256* acc = (m - 1) % 2 == 0 || (Taps % 2 == 1 && m - 1 == Taps - 1) ? b0 : b1;
          for (int g = 0; g < 2; ++g) acc[g] = _mm256_fmadd_ps(v[g], tap, acc[g]);
        }
      }
    }
    for (std::ptrdiff_t g = 0; g < 2; ++g) {
      _mm256_storeu_ps(out0 + c + 8 * g, _mm256_add_ps(a0[g], a1[g]));
      _mm256_storeu_ps(out1 + c + 8 * g, _mm256_add_ps(b0[g], b1[g]));
    }
  }
  if (c < out_cols) {
    ColFiltersAddAvx2<Taps, Slots, First>(ring, taps, parts, c, out_cols, out0);
    ColFiltersAddAvx2<Taps, Slots, (First + 1) % Slots>(ring, taps, parts, c, out_cols, out1);
  }
}

// Every detector's parts for this plane (group g: parts group_begin[g] to
// group_begin[g + 1], all of one detector, added to outs[g], and with
// Pair to outs[g] + row_stride too, the next output row); the parts' rings
// follow each other in `ring`.
template <int Taps, int Slots, bool Pair, int First>
__attribute__((target("avx2,fma"))) void ColFiltersAllAvx2(const float* ring, const float* taps, const int* group_begin,
                                                           int groups, float* const* outs, std::size_t row_stride,
                                                           int out_cols) {
  for (int g = 0; g < groups; ++g) {
    const int j0 = group_begin[g];
    const float* part_ring = ring + static_cast<std::ptrdiff_t>(j0) * Slots * kRingRow;
    const float* part_taps = taps + static_cast<std::ptrdiff_t>(j0) * Taps;
    if constexpr (Pair) {
      ColFiltersAddPairAvx2<Taps, Slots, First>(part_ring, part_taps, group_begin[g + 1] - j0, out_cols, outs[g],
                                                outs[g] + row_stride);
    } else {
      ColFiltersAddAvx2<Taps, Slots, First>(part_ring, part_taps, group_begin[g + 1] - j0, 0, out_cols, outs[g]);
    }
  }
}

using ColFiltersFn = void (*)(const float*, const float*, const int*, int, float* const*, std::size_t, int);

// The ring holds the 10 input rows of an output row and one more, so that
// two output rows can be made at once.
inline constexpr int kSlots10 = 11;

template <bool Pair, int... First>
constexpr std::array<ColFiltersFn, sizeof...(First)> ColFilterTable(std::integer_sequence<int, First...> /*unused*/) {
  return {&ColFiltersAllAvx2<10, kSlots10, Pair, First>...};
}
inline constexpr std::array<ColFiltersFn, kSlots10> kColFilters10 =
    ColFilterTable<false>(std::make_integer_sequence<int, kSlots10>{});
inline constexpr std::array<ColFiltersFn, kSlots10> kColFilterPairs10 =
    ColFilterTable<true>(std::make_integer_sequence<int, kSlots10>{});
#endif

// Fills `responses` (one out_rows x stride image per detector).
void ApplyFilters(const FeatureMap& feats, const std::vector<PlaneBank>& banks, int detectors, int fr, int fc,
                  bool avx2, std::vector<float>& ring, std::vector<float>& responses) {
  const int out_rows = feats.rows - fr + 1;
  const int out_cols = feats.cols - fc + 1;
  const std::size_t stride = static_cast<std::size_t>(feats.stride);
  const std::size_t response_size = static_cast<std::size_t>(out_rows) * stride;
  responses.assign(static_cast<std::size_t>(detectors) * response_size, 0.0F);
  // Column tiles of kTile outputs keep each plane's rings (parts x slots
  // rows x kTile floats, about 28 KB) in the L1 cache. A ring holds an
  // output row's fr input rows and one more, so that the AVX2 column filters
  // can make two output rows at once.
  constexpr int kTile = 64;
  static_assert(kTile == kRingRow);
  const int slots = fr + 1;
  const std::size_t part_stride = static_cast<std::size_t>(slots) * kTile;  // one ring per part
  std::size_t max_groups = 0;
  for (const PlaneBank& bank : banks) max_groups = std::max(max_groups, static_cast<std::size_t>(bank.groups()));
  std::vector<float*> outs(max_groups);
  std::vector<const float*> rows(static_cast<std::size_t>(fr));
#if TAKEBACK_FHOG_X86
  const bool pairs = avx2 && fr == 10 && slots == kSlots10;
#else
  (void)avx2;
  const bool pairs = false;
#endif
  for (int p = 0; p < kPlanes; ++p) {
    const PlaneBank& bank = banks[static_cast<std::size_t>(p)];
    if (bank.parts() == 0) continue;
    const std::size_t need = static_cast<std::size_t>(bank.parts()) * part_stride;
    if (ring.size() < need) ring.resize(need);
    const float* plane = feats.plane(p);
    const int groups = bank.groups();
    // Parts are grouped by detector (MakeBanks adds them detector by
    // detector): each group adds all of its parts to its detector's row.
    const auto point_outs = [&](int o, int c0) {
      for (int g = 0; g < groups; ++g) {
        const int k = bank.detector[static_cast<std::size_t>(bank.group_begin[static_cast<std::size_t>(g)])];
        outs[static_cast<std::size_t>(g)] = responses.data() + static_cast<std::size_t>(k) * response_size +
                                            static_cast<std::size_t>(o) * stride + static_cast<std::size_t>(c0);
      }
    };
    for (int c0 = 0; c0 < out_cols; c0 += kTile) {
      const int tile_cols = std::min(kTile, out_cols - c0);
      for (int r = 0; r < feats.rows; ++r) {
        const std::size_t slot = static_cast<std::size_t>(r % slots) * kTile;
        const float* in = plane + static_cast<std::size_t>(r) * stride + c0;
        const bool padding = r < feats.first_row || r >= feats.end_row;
        if (padding) {
          // Every part's filtered row is zero.
          for (int j = 0; j < bank.parts(); ++j) {
            float* dst = ring.data() + slot + static_cast<std::size_t>(j) * part_stride;
            std::fill(dst, dst + kTile, 0.0F);
          }
        }
#if TAKEBACK_FHOG_X86
        if (!padding && avx2 && fc == 10) {
          RowFiltersAvx2<10>(in, tile_cols, bank, ring.data() + slot, part_stride);
        } else if (!padding) {
          RowFiltersPortable(in, tile_cols, bank, fc, ring.data() + slot, part_stride);
        }
#else
        if (!padding) RowFiltersPortable(in, tile_cols, bank, fc, ring.data() + slot, part_stride);
#endif
        const int o = r - fr + 1;  // the output row this input row completes
        if (o < 0) continue;
#if TAKEBACK_FHOG_X86
        if (pairs) {
          // Rows o - 1 and o together when o is odd; the last row alone when
          // the count is odd.
          if (o % 2 == 1) {
            point_outs(o - 1, c0);
            kColFilterPairs10[static_cast<std::size_t>((o - 1) % slots)](
                ring.data(), bank.col.data(), bank.group_begin.data(), groups, outs.data(), stride, tile_cols);
          } else if (o == out_rows - 1) {
            point_outs(o, c0);
            kColFilters10[static_cast<std::size_t>(o % slots)](ring.data(), bank.col.data(), bank.group_begin.data(),
                                                               groups, outs.data(), stride, tile_cols);
          }
          continue;
        }
#endif
        point_outs(o, c0);
        const int first_slot = o % slots;  // ring slot of the output row's first input row
        for (int g = 0; g < groups; ++g) {
          for (int j = bank.group_begin[static_cast<std::size_t>(g)];
               j < bank.group_begin[static_cast<std::size_t>(g) + 1]; ++j) {
            const float* base = ring.data() + static_cast<std::size_t>(j) * part_stride;
            for (int m = 0; m < fr; ++m) {
              rows[static_cast<std::size_t>(m)] = base + static_cast<std::size_t>((first_slot + m) % slots) * kTile;
            }
            ColFilterAddPortable(rows.data(), tile_cols, bank.col.data() + static_cast<std::size_t>(j) * fr, fr,
                                 outs[static_cast<std::size_t>(g)]);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Geometry, as dlib computes it.

long RoundHalfUp(double v) { return static_cast<long>(std::floor(v + 0.5)); }

long Area(const Rect& r) {
  if (r.right < r.left || r.bottom < r.top) return 0;
  return (r.right - r.left + 1) * (r.bottom - r.top + 1);
}

// dlib's test_box_overlap: intersection over the bounding box of both, or
// either box mostly covered.
bool Overlaps(const Rect& a, const Rect& b, double iou, double covered) {
  const Rect inter{std::max(a.left, b.left), std::max(a.top, b.top), std::min(a.right, b.right),
                   std::min(a.bottom, b.bottom)};
  const double inner = static_cast<double>(Area(inter));
  if (inner == 0) return false;
  const Rect outer{std::min(a.left, b.left), std::min(a.top, b.top), std::max(a.right, b.right),
                   std::max(a.bottom, b.bottom)};
  return inner / static_cast<double>(Area(outer)) > iou || inner / static_cast<double>(Area(a)) > covered ||
         inner / static_cast<double>(Area(b)) > covered;
}

// fhog_to_image for one coordinate: cell to pixel, then to the cell's centre.
long FhogToImage(long p, int cell, int filter) {
  const long v = (p + 1 - (filter - 1) / 2) * cell + 1;
  return v + (v >= 0 ? cell / 2 : -(cell / 2));
}

// pyramid_down<6>::point_up, `levels` times.
double PointUp(double v, int levels) {
  const double ratio = 6 / 5.0;
  for (int i = 0; i < levels; ++i) v = v * ratio + 0.3;
  return v;
}

// How many levels create_fhog_pyramid builds for a width x height image.
int PyramidLevels(const Model& model, int width, int height, int max_levels) {
  double l = 0;
  double t = 0;
  double r = width - 1;
  double b = height - 1;
  int levels = 0;
  const double ratio = 5 / 6.0;
  while (true) {
    l = static_cast<double>(RoundHalfUp((l - 0.3) * ratio));
    t = static_cast<double>(RoundHalfUp((t - 0.3) * ratio));
    r = static_cast<double>(RoundHalfUp((r - 0.3) * ratio));
    b = static_cast<double>(RoundHalfUp((b - 0.3) * ratio));
    ++levels;
    if (!(r - l + 1 >= model.min_level_width && b - t + 1 >= model.min_level_height && levels < max_levels)) break;
  }
  return levels;
}

#if TAKEBACK_FHOG_X86
// Interleaved RGB to three planes, 16 pixels (48 bytes) at a time; returns
// how many pixels it did (the rest are left to the caller).
__attribute__((target("avx2,fma"))) std::size_t DeinterleaveAvx2(const std::uint8_t* in, std::size_t n, std::uint8_t* r,
                                                                 std::uint8_t* g, std::uint8_t* b) {
  // For channel ch, the bytes of each 16-byte block that hold it, moved to
  // their pixel's place; -1 (0x80) elsewhere.
  const auto mask = [](int ch, int block) {
    alignas(16) std::int8_t m[16];
    for (int i = 0; i < 16; ++i) {
      const int src = 3 * i + ch - 16 * block;
      m[i] = src >= 0 && src < 16 ? static_cast<std::int8_t>(src) : static_cast<std::int8_t>(-1);
    }
    return _mm_load_si128(reinterpret_cast<const __m128i*>(m));
  };
  __m128i masks[3][3];
  for (int ch = 0; ch < 3; ++ch) {
    for (int block = 0; block < 3; ++block) masks[ch][block] = mask(ch, block);
  }
  std::uint8_t* out[3] = {r, g, b};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 3 * i));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 3 * i + 16));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 3 * i + 32));
    for (int ch = 0; ch < 3; ++ch) {
      const __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, masks[ch][0]), _mm_shuffle_epi8(c, masks[ch][1])),
                                     _mm_shuffle_epi8(d, masks[ch][2]));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out[ch] + i), v);
    }
  }
  return i;
}
#endif

#if TAKEBACK_FHOG_X86
// OrientationBins' AVX2 part: whole groups of 8; returns how many it did.
__attribute__((target("avx2,fma"))) std::size_t OrientationBinsAvx2(const int* gx, const int* gy, std::size_t n,
                                                                    int* bins) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 fx = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gx + i)));
    const __m256 fy = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gy + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bins + i), OrientationAvx2(fx, fy));
  }
  return i;
}
#endif

std::atomic<bool>& Avx2Flag() {
  static std::atomic<bool> flag{DetectAvx2()};
  return flag;
}

}  // namespace

bool UsingAvx2() { return Avx2Flag().load(std::memory_order_relaxed); }

void OrientationBins(const int* gx, const int* gy, std::size_t n, int* bins) {
  std::size_t i = 0;
#if TAKEBACK_FHOG_X86
  if (UsingAvx2()) i = OrientationBinsAvx2(gx, gy, n, bins);
#endif
  for (; i < n; ++i) bins[i] = Orientation(static_cast<float>(gx[i]), static_cast<float>(gy[i]));
}

bool SetAvx2Enabled(bool enabled) {
  static const bool available = DetectAvx2();
  return Avx2Flag().exchange(enabled && available);
}

PlanarImage ToPlanar(const std::uint8_t* pixels, int width, int height, int channels) {
  PlanarImage out;
  out.Allocate(width, height);
  const std::size_t n = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  std::uint8_t* r = out.plane(0);
  std::uint8_t* g = out.plane(1);
  std::uint8_t* b = out.plane(2);
  if (channels == 3) {
    std::size_t i = 0;
#if TAKEBACK_FHOG_X86
    // SSSE3 (part of AVX2) byte shuffles, 16 pixels at a time.
    if (UsingAvx2()) i = DeinterleaveAvx2(pixels, n, r, g, b);
#endif
    for (; i < n; ++i) {
      r[i] = pixels[3 * i];
      g[i] = pixels[3 * i + 1];
      b[i] = pixels[3 * i + 2];
    }
  } else {
    std::memcpy(r, pixels, n);
    std::memcpy(g, pixels, n);
    std::memcpy(b, pixels, n);
  }
  return out;
}

PlanarImage Resize(const PlanarImage& in, int out_width, int out_height) {
  PlanarImage out;
  ResizeInto(in, out_width, out_height, out);
  return out;
}

namespace {

void ResizeInto(const PlanarImage& in, int out_width, int out_height, PlanarImage& out) {
  // At least Allocate's size, reusing out's memory; every pixel is written
  // below or zeroed. The pyramids' images (kept between calls) only grow:
  // growing a vector zeroes the new bytes, and images of every size pass
  // through them, so shrinking them would cost a memset of the difference on
  // the next larger image. Bytes past the planes are never read as pixels.
  out.width = std::max(out_width, 0);
  out.height = std::max(out_height, 0);
  const std::size_t out_size =
      3 * static_cast<std::size_t>(out.width) * static_cast<std::size_t>(out.height) + PlanarImage::kSlack;
  if (out.pixels.size() < out_size) out.pixels.resize(out_size);
  const std::size_t in_size = 3 * static_cast<std::size_t>(in.width) * static_cast<std::size_t>(in.height);
  if (out.width == 0 || out.height == 0 || in.width <= 0 || in.height <= 0 || in.pixels.size() < in_size) {
    std::fill(out.pixels.begin(), out.pixels.end(), std::uint8_t{0});
    return;
  }
  const bool avx2 = UsingAvx2() && in.pixels.size() >= in_size + PlanarImage::kSlack;
  const std::uint8_t* const planes_in[3] = {in.plane(0), in.plane(1), in.plane(2)};
  std::uint8_t* const planes_out[3] = {out.plane(0), out.plane(1), out.plane(2)};
  ResizePlanes(planes_in, in.width, in.height, planes_out, out.width, out.height, avx2);
}

}  // namespace

namespace {

// One pyramid level's work: features, filters, and the windows at or above
// each detector's threshold (per detector, in scan order).
struct LevelJob {
  int pass = 0;
  int level = 0;
  const PlanarImage* image = nullptr;
  std::int64_t cost = 0;                      // pixels, for the order of the work
  std::vector<std::vector<Detection>> found;  // per detector
  Stats stats;
};

// Per-thread buffers, reused across the levels a thread runs.
struct Worker {
  FeatureMap feats;
  std::vector<float> ring;
  std::vector<float> responses;
};

// The first c in [begin, end) with row[c] not below t (end if none). The
// AVX2 loop reads up to 7 floats past end (inside the row's stride).
int FirstAtOrAbovePortable(const float* row, int begin, int end, float t) {
  int c = begin;
  while (c < end && row[c] < t) ++c;
  return c;
}

#if TAKEBACK_FHOG_X86
__attribute__((target("avx2,fma"))) int FirstAtOrAboveAvx2(const float* row, int begin, int end, float t) {
  const __m256 vt = _mm256_set1_ps(t);
  for (int c = begin; c < end; c += 8) {
    // Not less than (unordered: true for NaN, like !(row[c] < t)).
    const unsigned bits =
        static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(row + c), vt, _CMP_NLT_UQ)));
    if (bits != 0) return std::min(c + std::countr_zero(bits), end);
  }
  return end;
}
#endif

int FirstAtOrAbove(const float* row, int begin, int end, float t, bool avx2) {
#if TAKEBACK_FHOG_X86
  if (avx2) return FirstAtOrAboveAvx2(row, begin, end, t);
#else
  (void)avx2;
#endif
  return FirstAtOrAbovePortable(row, begin, end, t);
}

struct DetectBuffers {
  std::vector<PlanarImage> upscaled;              // per pass
  std::vector<std::vector<PlanarImage>> resized;  // per pass: levels 1, 2, ...
  Worker workers[2];
};

// Buffers for DetectPasses calls, kept between calls: at most a few per
// hardware thread (a scan runs one detection per core), the rest freed.
class BufferPool {
 public:
  std::unique_ptr<DetectBuffers> Take() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        std::unique_ptr<DetectBuffers> b = std::move(free_.back());
        free_.pop_back();
        return b;
      }
    }
    return std::make_unique<DetectBuffers>();
  }
  void Give(std::unique_ptr<DetectBuffers> b) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (free_.size() < 2 * static_cast<std::size_t>(std::max(1U, std::thread::hardware_concurrency()))) {
      free_.push_back(std::move(b));
    }
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<DetectBuffers>> free_;
};

BufferPool& Pool() {
  static BufferPool pool;
  return pool;
}

// One call's buffers, back to the pool when the call ends (or throws).
struct PooledBuffers {
  PooledBuffers() : buffers(Pool().Take()) {}
  ~PooledBuffers() { Pool().Give(std::move(buffers)); }
  PooledBuffers(const PooledBuffers&) = delete;
  PooledBuffers& operator=(const PooledBuffers&) = delete;
  std::unique_ptr<DetectBuffers> buffers;
};

void RunLevel(const Model& model, const std::vector<PlaneBank>& banks, double adjust_threshold, bool avx2, Worker& w,
              LevelJob& job) {
  const int fr = model.filter_rows;
  const int fc = model.filter_cols;
  const PlanarImage& img = *job.image;
  job.found.assign(model.filters.size(), {});
  job.stats.levels = 1;
  job.stats.pixels = static_cast<std::int64_t>(img.width) * img.height;
  FeatureMap& feats = w.feats;
  if (!ExtractFeatures(img, model.cell_size, fr, fc, avx2, feats)) return;
  const int out_rows = feats.rows - fr + 1;
  const int out_cols = feats.cols - fc + 1;
  if (out_rows <= 0 || out_cols <= 0) return;
  job.stats.cells = static_cast<std::int64_t>(out_rows) * out_cols;
  ApplyFilters(feats, banks, static_cast<int>(model.filters.size()), fr, fc, avx2, w.ring, w.responses);
  const std::size_t response_size = static_cast<std::size_t>(out_rows) * feats.stride;
  for (std::size_t k = 0; k < model.filters.size(); ++k) {
    const Filter& filter = model.filters[k];
    const float* response = w.responses.data() + k * response_size;
    const double thresh = filter.bias + adjust_threshold;
    // dlib compares the float response with the double threshold; the
    // smallest float at or above it gives the same answers in float.
    float fthresh = static_cast<float>(thresh);
    if (static_cast<double>(fthresh) < thresh)
      fthresh = std::nextafter(fthresh, std::numeric_limits<float>::infinity());
    for (int r = 0; r < out_rows; ++r) {
      const float* row = response + static_cast<std::size_t>(r) * feats.stride;
      for (int c = FirstAtOrAbove(row, 0, out_cols, fthresh, avx2); c < out_cols;
           c = FirstAtOrAbove(row, c + 1, out_cols, fthresh, avx2)) {
        // dlib: centered_rect(point(c, r), fc, fr) in feature coordinates
        // (its saliency image is offset by half a filter), fhog_to_image,
        // then rect_up to level 0, rounded.
        const long sc = c + fc / 2;
        const long sr = r + fr / 2;
        const long left = sc - fc / 2;
        const long top = sr - fr / 2;
        const long right = left + fc - 1;
        const long bottom = top + fr - 1;
        const int level = job.level;
        Detection d;
        d.rect.left = RoundHalfUp(PointUp(static_cast<double>(FhogToImage(left, model.cell_size, fc)), level));
        d.rect.top = RoundHalfUp(PointUp(static_cast<double>(FhogToImage(top, model.cell_size, fr)), level));
        d.rect.right = RoundHalfUp(PointUp(static_cast<double>(FhogToImage(right, model.cell_size, fc)), level));
        d.rect.bottom = RoundHalfUp(PointUp(static_cast<double>(FhogToImage(bottom, model.cell_size, fr)), level));
        d.score = static_cast<double>(row[c]) - filter.bias;
        d.filter = static_cast<int>(k);
        job.found[k].push_back(d);
      }
    }
  }
}

// The pyramid levels' sizes, known before any of them is built: level 0 is
// the pass's image (or its 2x upscale), level i + 1 is (5/6) of level i.
std::vector<std::pair<int, int>> PyramidSizes(const Model& model, const Pass& pass) {
  std::vector<std::pair<int, int>> sizes;
  if (pass.image == nullptr || pass.image->width <= 0 || pass.image->height <= 0 || pass.max_levels <= 0) return sizes;
  int w = pass.upscale_2x ? pass.image->width * 2 : pass.image->width;
  int h = pass.upscale_2x ? pass.image->height * 2 : pass.image->height;
  const int n = PyramidLevels(model, w, h, pass.max_levels);
  for (int level = 0; level < n; ++level) {
    sizes.emplace_back(w, h);
    w = (5 * w) / 6;
    h = (5 * h) / 6;
  }
  return sizes;
}

// Hands out the level jobs, the largest ready one first, while the pyramids
// are still being built: a thread never waits for a level when a smaller
// one is ready, and the two threads finish together.
class Schedule {
 public:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  // `order`: the jobs, largest first; `ready[i]`: job i's image exists.
  Schedule(std::vector<std::size_t> order, std::vector<char> ready)
      : order_(std::move(order)), ready_(std::move(ready)), taken_(ready_.size(), 0), left_(order_.size()) {}

  void MarkReady(std::size_t job) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      ready_[job] = 1;
    }
    changed_.notify_all();
  }

  // No more jobs for anyone (a pyramid could not be built).
  void Cancel() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      left_ = 0;
    }
    changed_.notify_all();
  }

  // The next job to run, waiting for one to be ready; kNone when all are
  // taken (or cancelled).
  std::size_t Take() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      if (left_ == 0) return kNone;
      for (const std::size_t i : order_) {
        if (taken_[i] == 0 && ready_[i] != 0) {
          taken_[i] = 1;
          --left_;
          return i;
        }
      }
      changed_.wait(lock);
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::size_t> order_;
  std::vector<char> ready_;
  std::vector<char> taken_;
  std::size_t left_;
};

}  // namespace

std::vector<std::vector<Detection>> DetectPasses(const Model& model, const std::vector<Pass>& passes,
                                                 double adjust_threshold, int threads, Stats* stats) {
  std::vector<std::vector<Detection>> result(passes.size());
  if (model.filters.empty() || model.cell_size <= 0 || model.filter_rows <= 0 || model.filter_cols <= 0) {
    return result;
  }
  const bool avx2 = UsingAvx2();
  const bool two = threads > 1;
  const std::size_t np = passes.size();
  // The pyramid images and the workers' buffers are kept in a pool for the
  // next call: fresh multi-megabyte buffers cost page faults and zeroing on
  // every call.
  const PooledBuffers pooled;
  DetectBuffers& buffers = *pooled.buffers;
  if (buffers.upscaled.size() < np) buffers.upscaled.resize(np);
  if (buffers.resized.size() < np) buffers.resized.resize(np);
  std::vector<PlanarImage>& upscaled = buffers.upscaled;
  std::vector<std::vector<PlanarImage>>& resized = buffers.resized;
  // Every level of every pass is a job; its image pointer is known before
  // the image is built.
  std::vector<LevelJob> jobs;
  std::vector<std::vector<std::size_t>> pass_jobs(np);
  std::vector<char> ready;
  for (std::size_t i = 0; i < np; ++i) {
    const std::vector<std::pair<int, int>> sizes = PyramidSizes(model, passes[i]);
    if (!sizes.empty() && resized[i].size() < sizes.size() - 1) resized[i].resize(sizes.size() - 1);
    for (std::size_t l = 0; l < sizes.size(); ++l) {
      LevelJob job;
      job.pass = static_cast<int>(i);
      job.level = static_cast<int>(l);
      if (l > 0) {
        job.image = &resized[i][l - 1];
      } else {
        job.image = passes[i].upscale_2x ? &upscaled[i] : passes[i].image;
      }
      job.cost = static_cast<std::int64_t>(sizes[l].first) * sizes[l].second;
      pass_jobs[i].push_back(jobs.size());
      ready.push_back(l == 0 && !passes[i].upscale_2x ? 1 : 0);
      jobs.push_back(std::move(job));
    }
  }
  std::vector<std::size_t> order(jobs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return jobs[a].cost > jobs[b].cost; });
  Schedule schedule(std::move(order), std::move(ready));
  // Builds pass i's pyramid, each level handed to the schedule as soon as
  // it exists.
  const auto build = [&](std::size_t i) {
    try {
      const Pass& p = passes[i];
      const std::vector<std::size_t>& ids = pass_jobs[i];
      for (std::size_t l = 0; l < ids.size(); ++l) {
        if (l == 0 && !p.upscale_2x) continue;  // the pass's own image
        const PlanarImage& prev = l == 0 ? *p.image : *jobs[ids[l - 1]].image;
        const int w = l == 0 ? 2 * prev.width : (5 * prev.width) / 6;
        const int h = l == 0 ? 2 * prev.height : (5 * prev.height) / 6;
        ResizeInto(prev, w, h, l == 0 ? upscaled[i] : resized[i][l - 1]);
        schedule.MarkReady(ids[l]);
      }
    } catch (...) {
      schedule.Cancel();
      throw;
    }
  };
  const std::vector<PlaneBank> banks = MakeBanks(model);
  const auto work = [&](Worker& w) {
    for (std::size_t i = schedule.Take(); i != Schedule::kNone; i = schedule.Take()) {
      RunLevel(model, banks, adjust_threshold, avx2, w, jobs[i]);
    }
  };
  // With two threads, the helper builds the later passes' pyramids (the
  // upscaled pass's is the most work) or, with one pass, its pyramid; this
  // thread builds the first pass's, if any, and starts on the levels as they
  // become ready. Then both take jobs until none is left.
  std::thread helper;
  std::exception_ptr helper_error;
  if (two && jobs.size() > 1) {
    try {
      helper = std::thread([&] {
        try {
          for (std::size_t i = np >= 2 ? 1 : 0; i < np; ++i) build(i);
          work(buffers.workers[1]);
        } catch (...) {
          helper_error = std::current_exception();
        }
      });
    } catch (const std::system_error&) {
      // No thread to be had: all of the work runs here, below.
    }
  }
  std::exception_ptr own_error;
  try {
    if (helper.joinable()) {
      if (np >= 2) build(0);
    } else {
      for (std::size_t i = 0; i < np; ++i) build(i);
    }
    work(buffers.workers[0]);
  } catch (...) {
    own_error = std::current_exception();
    schedule.Cancel();  // the helper may be waiting for a level this thread never built
  }
  if (helper.joinable()) helper.join();
  if (own_error) std::rethrow_exception(own_error);
  if (helper_error) std::rethrow_exception(helper_error);

  // Per pass: every detector's windows, level by level (dlib's order), the
  // highest score first, then dlib's greedy non-max suppression.
  for (std::size_t i = 0; i < np; ++i) {
    std::vector<Detection> all;
    for (std::size_t k = 0; k < model.filters.size(); ++k) {
      for (const LevelJob& job : jobs) {
        if (job.pass == static_cast<int>(i) && k < job.found.size()) {
          all.insert(all.end(), job.found[k].begin(), job.found[k].end());
        }
      }
    }
    std::stable_sort(all.begin(), all.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
    std::vector<Detection>& found = result[i];
    for (const Detection& d : all) {
      const bool suppressed = std::any_of(found.begin(), found.end(), [&](const Detection& k) {
        return Overlaps(k.rect, d.rect, model.iou_thresh, model.percent_covered_thresh);
      });
      if (!suppressed) found.push_back(d);
    }
  }
  if (stats != nullptr) {
    for (const LevelJob& job : jobs) {
      stats->levels += job.stats.levels;
      stats->pixels += job.stats.pixels;
      stats->cells += job.stats.cells;
    }
  }
  return result;
}

std::vector<Detection> Detect(const Model& model, const PlanarImage& image, int max_levels, double adjust_threshold,
                              Stats* stats) {
  if (image.width <= 0 || image.height <= 0 || max_levels <= 0) return {};
  std::vector<std::vector<Detection>> found = DetectPasses(
      model, {Pass{.image = &image, .upscale_2x = false, .max_levels = max_levels}}, adjust_threshold, 1, stats);
  return std::move(found.front());
}

}  // namespace takeback::face::fhog
