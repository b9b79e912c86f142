#include "index/vector/vector_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TAKEBACK_VECTOR_X86 1
#else
#define TAKEBACK_VECTOR_X86 0
#endif

namespace takeback::index::internal {
namespace {

// How many dimensions are summed between two early-exit checks.
constexpr int kCheckEvery = 32;

template <int NQ>
bool BlockPortable(const float* block, int dim, const float* const* queries, const float* bounds, float* out) {
  float acc[NQ][kBlockLanes] = {};
  for (int d = 0; d < dim;) {
    const int end = std::min(dim, d + kCheckEvery);
    for (; d < end; ++d) {
      const float* x = block + static_cast<std::ptrdiff_t>(d) * kBlockLanes;
      for (int q = 0; q < NQ; ++q) {
        const float v = queries[q][d];
        for (int l = 0; l < kBlockLanes; ++l) {
          const float t = x[l] - v;
          acc[q][l] += t * t;
        }
      }
    }
    bool any = false;
    for (int q = 0; q < NQ; ++q) {
      for (int l = 0; l < kBlockLanes; ++l) any |= acc[q][l] <= bounds[q];
    }
    if (!any) return false;
  }
  for (int q = 0; q < NQ; ++q) std::copy_n(acc[q], kBlockLanes, out + q * kBlockLanes);
  return true;
}

bool BlockPortableAny(const float* block, int dim, const float* const* queries, int nq, const float* bounds,
                      float* out) {
  switch (nq) {
    case 1:
      return BlockPortable<1>(block, dim, queries, bounds, out);
    case 2:
      return BlockPortable<2>(block, dim, queries, bounds, out);
    case 3:
      return BlockPortable<3>(block, dim, queries, bounds, out);
    default:
      return BlockPortable<4>(block, dim, queries, bounds, out);
  }
}

// The largest D a lane may have and still pass: a lane with the integer
// D > T is pruned, where T = floor(min(t^2, 1e9)), t = max(0, (threshold +
// e) * slack / scale). For an integer D, D > floor(y) iff D > y, and y is
// within a few float roundings (relative 1e-6, far inside slack) of the
// exact bound; D never reaches 1e9 (at most 4096 * 126^2), so the cap only
// stands for "prune nothing". Both kernel sets call this same function.
inline std::int32_t LaneLimit(float threshold, float ex, float slack, float inv_scale) {
  const float t = std::max((threshold + ex) * slack * inv_scale, 0.0F);
  return static_cast<std::int32_t>(std::min(t * t, 1e9F));
}

void QuantPortable(const std::uint8_t* qblocks, const std::int32_t* xx, const float* ex, int qdim, float scale,
                   int nblocks, const QuantQuery* queries, int nq, std::uint32_t* masks, bool /*prefetch*/) {
  const float inv_scale = 1.0F / scale;
  const int checks = QuantChecks(qdim);
  const int groups = qdim / 4;
  for (int b = 0; b < nblocks; ++b) {
    const std::uint8_t* qb = qblocks + static_cast<std::ptrdiff_t>(b) * kBlockLanes * qdim;
    const std::int32_t* bxx = xx + static_cast<std::ptrdiff_t>(b) * checks * kBlockLanes;
    const float e = ex[b];
    for (int i = 0; i < nq; ++i) {
      const std::int32_t limit = LaneLimit(queries[i].threshold, e, queries[i].slack, inv_scale);
      std::uint32_t mask = 0;
      for (int l = 0; l < kBlockLanes; ++l) {
        std::int32_t acc = 0;
        for (int g = 0; g < groups; ++g) {
          for (int j = 0; j < 4; ++j) {
            acc += static_cast<std::int32_t>(qb[g * 64 + l * 4 + j]) * queries[i].q[g * kQuantQueryGroupBytes + j];
          }
        }
        const std::int32_t d = queries[i].c[checks - 1] + bxx[(checks - 1) * kBlockLanes + l] - 2 * acc;
        if (d <= limit) mask |= 1U << l;
      }
      masks[i * nblocks + b] = mask;
    }
  }
}

#if TAKEBACK_VECTOR_X86
#define TAKEBACK_AVX2 __attribute__((target("avx2,fma")))

// Adds the squared differences of dimension d to acc[q][half][p].
template <int NQ, int P>
TAKEBACK_AVX2 inline __attribute__((always_inline)) void StepAvx2(const float* block, int d, int p,
                                                                  const float* const* queries,
                                                                  __m256 (&acc)[NQ][2][P]) {
  const float* x = block + static_cast<std::ptrdiff_t>(d) * kBlockLanes;
  const __m256 x0 = _mm256_loadu_ps(x);
  const __m256 x1 = _mm256_loadu_ps(x + 8);
  for (int q = 0; q < NQ; ++q) {
    const __m256 v = _mm256_broadcast_ss(queries[q] + d);
    const __m256 t0 = _mm256_sub_ps(x0, v);
    const __m256 t1 = _mm256_sub_ps(x1, v);
    acc[q][0][p] = _mm256_fmadd_ps(t0, t0, acc[q][0][p]);
    acc[q][1][p] = _mm256_fmadd_ps(t1, t1, acc[q][1][p]);
  }
}

template <int NQ, int P>
TAKEBACK_AVX2 inline __attribute__((always_inline)) __m256 TotalAvx2(const __m256 (&acc)[NQ][2][P], int q, int h) {
  if constexpr (P == 2) {
    return _mm256_add_ps(acc[q][h][0], acc[q][h][1]);
  } else {
    return acc[q][h][0];
  }
}

// NQ queries x 2 half-blocks of 8 lanes x P interleaved dimension streams:
// with fewer than 3 queries, two streams (even and odd dimensions) keep
// enough independent FMA chains in flight to hide the FMA latency. The two
// streams are added only for the checks and the result; float addition is
// monotone, so the early exit stays exact.
template <int NQ>
TAKEBACK_AVX2 bool BlockAvx2(const float* block, int dim, const float* const* queries, const float* bounds,
                             float* out) {
  constexpr int P = NQ <= 2 ? 2 : 1;
  __m256 acc[NQ][2][P];
  __m256 bound[NQ];
  for (int q = 0; q < NQ; ++q) {
    bound[q] = _mm256_set1_ps(bounds[q]);
    for (int h = 0; h < 2; ++h) {
      for (int p = 0; p < P; ++p) acc[q][h][p] = _mm256_setzero_ps();
    }
  }
  for (int d = 0; d < dim;) {
    const int end = std::min(dim, d + kCheckEvery);
    for (; d + P <= end; d += P) {
      StepAvx2<NQ, P>(block, d, 0, queries, acc);
      if constexpr (P == 2) StepAvx2<NQ, P>(block, d + 1, 1, queries, acc);
    }
    for (; d < end; ++d) StepAvx2<NQ, P>(block, d, 0, queries, acc);
    int any = 0;
    for (int q = 0; q < NQ; ++q) {
      // Locals, not the calls themselves, go into _mm256_cmp_ps: clang
      // defines it as a macro, and the comma of TotalAvx2<NQ, P> would split
      // its arguments.
      const __m256 low = TotalAvx2<NQ, P>(acc, q, 0);
      const __m256 high = TotalAvx2<NQ, P>(acc, q, 1);
      any |= _mm256_movemask_ps(_mm256_cmp_ps(low, bound[q], _CMP_LE_OQ));
      any |= _mm256_movemask_ps(_mm256_cmp_ps(high, bound[q], _CMP_LE_OQ));
    }
    if (any == 0) return false;
  }
  for (int q = 0; q < NQ; ++q) {
    _mm256_storeu_ps(out + q * kBlockLanes, TotalAvx2<NQ, P>(acc, q, 0));
    _mm256_storeu_ps(out + q * kBlockLanes + 8, TotalAvx2<NQ, P>(acc, q, 1));
  }
  return true;
}

// The pre-filter with AVX2, GEMM-style (issue 5, the 1M round): the block
// (16 lanes) is the tile loaded once for the NQ queries of a call, and all
// of them go on together, check by check (every 32 dimensions from the
// 64th), until every lane of every query is ruled out or the dimensions
// end. Per pair of groups of 4 dimensions: vpmaddubsw of the stored X + 64
// (1..127) by the query's Q (-63..63) for each group, the two int16 pair
// sums added (no overflow, vector_kernels.h), then vpmaddwd by 1 widens
// them to int32 sums of 8 dimensions. The query bytes are broadcast from
// their compact 4-byte groups (a load each).
//
// What was measured before settling on this (in one process on the same
// data, alternating 0.4-s rounds, chunks of 6 blocks for both, 2026-11-26 on
// this 2-core AMD EPYC): the earlier two-stage kernel (64 dimensions
// together, then each query alone) lost to it on every workload (range 0.5 at 1M, 1 thread, q/CPU-s:
// dlib-scale 496 -> 609, random 456 -> 634, clustered 666 -> 848). Counting
// where blocks end: on the dlib-scale workload 0.6% of the (block, 4
// queries) tiles are done after 64 dimensions, 66% after 96, the rest run to
// 128 (random: 2% / 97% / 1%, clustered: 99% after 64) -- a tile of 64
// (query, vector) pairs is rarely ruled out early, so the one-query-at-a-time
// stage mostly repeated block loads. 3 or 2 queries per call instead of 4
// measured 6-15% slower; the 4 queries spill a little (GCC), 3 would not.

// The lane limits of up to 4 queries for a block with error norm `ex`: the
// same float operations, in the same order, as LaneLimit (so the masks equal
// the portable kernel's), four queries at once. thr and slack hold the
// queries' thresholds and slacks (unused entries: 0 and 1).
TAKEBACK_AVX2 inline __attribute__((always_inline)) __m128i LaneLimitsAvx2(__m128 thr, __m128 slack, float ex,
                                                                           __m128 inv_scale) {
  const __m128 t =
      _mm_max_ps(_mm_mul_ps(_mm_mul_ps(_mm_add_ps(thr, _mm_set1_ps(ex)), slack), inv_scale), _mm_setzero_ps());
  return _mm_cvttps_epi32(_mm_min_ps(_mm_mul_ps(t, t), _mm_set1_ps(1e9F)));
}

// Adds groups [g, end) (end - g even) of a block for the NQ queries to lo[i]
// (lanes 0-7) and hi[i] (lanes 8-15): each block register serves the NQ
// queries, each broadcast query register both halves. The sums are copied
// into locals for the loop: through the references the compiler kept them
// in memory, a store and a load on every step. (Fully unrolling a check's
// 4 steps made GCC hoist every broadcast and spill: slower.)
template <int NQ>
TAKEBACK_AVX2 inline __attribute__((always_inline)) void QuantPairsAvx2(const std::uint8_t* qb,
                                                                        const QuantQuery* queries, int g, int end,
                                                                        __m256i ones, __m256i (&lo)[NQ],
                                                                        __m256i (&hi)[NQ]) {
  __m256i a[NQ];
  __m256i c[NQ];
  for (int i = 0; i < NQ; ++i) {
    a[i] = lo[i];
    c[i] = hi[i];
  }
  for (; g < end; g += 2) {
    const std::uint8_t* x = qb + g * 64;
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));
    const __m256i x2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 64));
    const __m256i x3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 96));
    for (int i = 0; i < NQ; ++i) {
      std::int32_t b0;
      std::int32_t b1;
      std::memcpy(&b0, queries[i].q + static_cast<std::ptrdiff_t>(g) * kQuantQueryGroupBytes, 4);
      std::memcpy(&b1, queries[i].q + static_cast<std::ptrdiff_t>(g + 1) * kQuantQueryGroupBytes, 4);
      const __m256i q0 = _mm256_set1_epi32(b0);
      const __m256i q1 = _mm256_set1_epi32(b1);
      a[i] = _mm256_add_epi32(
          a[i], _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x0, q0), _mm256_maddubs_epi16(x2, q1)), ones));
      c[i] = _mm256_add_epi32(
          c[i], _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x1, q0), _mm256_maddubs_epi16(x3, q1)), ones));
    }
  }
  for (int i = 0; i < NQ; ++i) {
    lo[i] = a[i];
    hi[i] = c[i];
  }
}

// All-ones in the lanes of a half-block with D > limit (ruled out), where
// D = c + xx - 2 acc.
TAKEBACK_AVX2 inline __attribute__((always_inline)) __m256i QuantOutAvx2(__m256i acc, __m256i c, const std::int32_t* xx,
                                                                         __m256i limit) {
  const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xx));
  return _mm256_cmpgt_epi32(_mm256_sub_epi32(_mm256_add_epi32(c, sums), _mm256_slli_epi32(acc, 1)), limit);
}

// How far ahead (in blocks) the kernel prefetches when asked to. A single
// query streams every block from memory and waits for it: at 100k
// descriptors, one query per call, 1 thread, prefetching 1, 2 or 4 blocks
// ahead measured 1.7-2.1k searches per CPU-second against 0.9-1.0k without
// (the earlier two-stage kernel: 1.0-1.45k).
constexpr int kPrefetchBlocks = 2;

template <int NQ>
TAKEBACK_AVX2 void QuantAvx2(const std::uint8_t* qblocks, const std::int32_t* xx, const float* ex, int qdim,
                             float scale, int nblocks, const QuantQuery* queries, std::uint32_t* masks, bool prefetch) {
  const int checks = QuantChecks(qdim);
  const int groups = qdim / 4;
  const __m256i ones = _mm256_set1_epi16(1);
  alignas(16) float thr_v[4] = {0, 0, 0, 0};
  alignas(16) float slack_v[4] = {1, 1, 1, 1};
  for (int i = 0; i < NQ; ++i) {
    thr_v[i] = queries[i].threshold;
    slack_v[i] = queries[i].slack;
  }
  const __m128 thr = _mm_load_ps(thr_v);
  const __m128 slack = _mm_load_ps(slack_v);
  const __m128 inv_scale = _mm_set1_ps(1.0F / scale);
  // The first check evaluated: after 64 dimensions (or all of qdim).
  const int first_check = std::min(checks, 2) - 1;
  for (int b = 0; b < nblocks; ++b) {
    const std::uint8_t* qb = qblocks + static_cast<std::ptrdiff_t>(b) * kBlockLanes * qdim;
    const std::int32_t* bxx = xx + static_cast<std::ptrdiff_t>(b) * checks * kBlockLanes;
    if (prefetch && b + kPrefetchBlocks < nblocks) {
      const std::uint8_t* ahead = qb + static_cast<std::ptrdiff_t>(kPrefetchBlocks) * kBlockLanes * qdim;
      for (int o = 0; o < kBlockLanes * qdim; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(ahead + o), _MM_HINT_T0);
    }
    alignas(16) std::int32_t limit_v[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(limit_v), LaneLimitsAvx2(thr, slack, ex[b], inv_scale));
    __m256i lo[NQ];
    __m256i hi[NQ];
    for (int i = 0; i < NQ; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
    int g = 0;
    int check = first_check;
    for (;; ++check) {
      const int end = std::min(groups, (check + 1) * kQuantCheckEvery / 4);
      QuantPairsAvx2<NQ>(qb, queries, g, end, ones, lo, hi);
      g = end;
      if (check + 1 == checks) break;
      // Before the end only "is any lane of any query left" matters: a lane
      // ruled out here is ruled out by the full D too.
      const std::int32_t* cx = bxx + check * kBlockLanes;
      __m256i out = _mm256_set1_epi32(-1);
      for (int i = 0; i < NQ; ++i) {
        const __m256i c = _mm256_set1_epi32(queries[i].c[check]);
        const __m256i limit = _mm256_set1_epi32(limit_v[i]);
        out = _mm256_and_si256(out, QuantOutAvx2(lo[i], c, cx, limit));
        out = _mm256_and_si256(out, QuantOutAvx2(hi[i], c, cx + 8, limit));
      }
      if (_mm256_movemask_epi8(out) == -1) break;
    }
    if (check + 1 < checks) {  // every lane ruled out early
      for (int i = 0; i < NQ; ++i) masks[i * nblocks + b] = 0;
      continue;
    }
    // The full D decides the masks.
    const std::int32_t* cx = bxx + check * kBlockLanes;
    for (int i = 0; i < NQ; ++i) {
      const __m256i c = _mm256_set1_epi32(queries[i].c[check]);
      const __m256i limit = _mm256_set1_epi32(limit_v[i]);
      const auto out_lo =
          static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(QuantOutAvx2(lo[i], c, cx, limit))));
      const auto out_hi =
          static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(QuantOutAvx2(hi[i], c, cx + 8, limit))));
      masks[i * nblocks + b] = ~(out_lo | (out_hi << 8)) & 0xFFFFU;
    }
  }
}

void QuantAvx2Any(const std::uint8_t* qblocks, const std::int32_t* xx, const float* ex, int qdim, float scale,
                  int nblocks, const QuantQuery* queries, int nq, std::uint32_t* masks, bool prefetch) {
  switch (nq) {
    case 1:
      return QuantAvx2<1>(qblocks, xx, ex, qdim, scale, nblocks, queries, masks, prefetch);
    case 2:
      return QuantAvx2<2>(qblocks, xx, ex, qdim, scale, nblocks, queries, masks, prefetch);
    case 3:
      return QuantAvx2<3>(qblocks, xx, ex, qdim, scale, nblocks, queries, masks, prefetch);
    default:
      return QuantAvx2<4>(qblocks, xx, ex, qdim, scale, nblocks, queries, masks, prefetch);
  }
}

bool BlockAvx2Any(const float* block, int dim, const float* const* queries, int nq, const float* bounds, float* out) {
  switch (nq) {
    case 1:
      return BlockAvx2<1>(block, dim, queries, bounds, out);
    case 2:
      return BlockAvx2<2>(block, dim, queries, bounds, out);
    case 3:
      return BlockAvx2<3>(block, dim, queries, bounds, out);
    default:
      return BlockAvx2<4>(block, dim, queries, bounds, out);
  }
}
#endif

const VectorKernels kPortable{"portable", &BlockPortableAny, &QuantPortable};

}  // namespace

const VectorKernels& PortableVectorKernels() { return kPortable; }

const VectorKernels& BestVectorKernels() {
#if TAKEBACK_VECTOR_X86
  static const VectorKernels kAvx2{"avx2-fma", &BlockAvx2Any, &QuantAvx2Any};
  if (cpu::HasAvx2() && cpu::HasFma()) return kAvx2;
#endif
  return kPortable;
}

}  // namespace takeback::index::internal
