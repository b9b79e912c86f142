#include "index/vector/vector_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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
                   int nblocks, const QuantQuery* queries, int nq, std::uint32_t* masks, int* /*joint_checks*/) {
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

// The pre-filter with AVX2: vpmaddubsw of the stored X + 64 (1..127) by the
// query's Q (-63..63) for two groups of 4 dimensions, their int16 pairs
// added (no overflow, vector_kernels.h), then vpmaddwd by 1 widens them to
// int32 sums of 8 dimensions. The query operand comes straight from
// memory, already broadcast.
// Stage 1: the first two checks' dimensions (64) for all nq queries and
// the 16 lanes at once, each loaded block register shared by the queries.
// Stage 2: each query with a lane left goes on alone over the 16 lanes,
// check by check (every 32 dimensions), and stops when all its lanes are
// ruled out: with several queries a block is rarely far from all of them
// at once, but often from one of them.
TAKEBACK_AVX2 inline __attribute__((always_inline)) __m256i QuantPairAvx2(const std::uint8_t* x, const std::int8_t* q,
                                                                          __m256i ones) {
  const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 64));
  const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + kQuantQueryGroupBytes));
  return _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x0, q0), _mm256_maddubs_epi16(x1, q1)), ones);
}

// The lanes of a half-block with D <= limit, as bits 0-7.
TAKEBACK_AVX2 inline __attribute__((always_inline)) std::uint32_t QuantAliveAvx2(__m256i acc, std::int32_t c,
                                                                                 const std::int32_t* xx,
                                                                                 __m256i limit) {
  const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xx));
  const __m256i d = _mm256_sub_epi32(_mm256_add_epi32(_mm256_set1_epi32(c), sums), _mm256_slli_epi32(acc, 1));
  return ~static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(d, limit)))) & 0xFFU;
}

// Adds groups [from, to) of a block for the NQ queries and both halves to
// acc. The accumulators are copied into locals for the loop so that the
// compiler keeps them in registers (through the reference it stored them
// back on every iteration). groups is even (qdim is a multiple of 8), and
// so is every check's end.
template <int NQ>
TAKEBACK_AVX2 inline __attribute__((always_inline)) void QuantJointAvx2(const std::uint8_t* qb,
                                                                        const QuantQuery* queries, int from, int to,
                                                                        __m256i ones, __m256i (&acc)[NQ][2]) {
  __m256i a[NQ][2];
  for (int i = 0; i < NQ; ++i) {
    a[i][0] = acc[i][0];
    a[i][1] = acc[i][1];
  }
  for (int g = from; g < to; g += 2) {
    const std::uint8_t* x = qb + g * 64;
    for (int i = 0; i < NQ; ++i) {
      const std::int8_t* q = queries[i].q + static_cast<std::ptrdiff_t>(g) * kQuantQueryGroupBytes;
      a[i][0] = _mm256_add_epi32(a[i][0], QuantPairAvx2(x, q, ones));
      a[i][1] = _mm256_add_epi32(a[i][1], QuantPairAvx2(x + 32, q, ones));
    }
  }
  for (int i = 0; i < NQ; ++i) {
    acc[i][0] = a[i][0];
    acc[i][1] = a[i][1];
  }
}

// How the joint stage's depth adapts (in checks, 2 or 3; *joint_checks
// carries it from call to call): 3 when more than kDeepenAbove of the
// (query, block) pairs of the last kAdaptBlocks blocks still had a lane
// after 64 dimensions (then going on together is cheaper than one by
// one), 2 again when fewer did.
constexpr int kAdaptBlocks = 8;
constexpr float kDeepenAbove = 0.7F;

template <int NQ>
TAKEBACK_AVX2 void QuantAvx2(const std::uint8_t* qblocks, const std::int32_t* xx, const float* ex, int qdim,
                             float scale, int nblocks, const QuantQuery* queries, std::uint32_t* masks,
                             int* joint_checks) {
  const float inv_scale = 1.0F / scale;
  const int checks = QuantChecks(qdim);
  const int groups = qdim / 4;
  const __m256i ones = _mm256_set1_epi16(1);
  // The first check evaluated, after 64 dimensions (or all of qdim).
  const int first_check = std::min(checks, 2) - 1;
  const int first_groups = std::min(groups, (first_check + 1) * kQuantCheckEvery / 4);
  int joint = std::clamp(*joint_checks, first_check + 1, std::max(first_check + 1, std::min(checks, 3)));
  int seen = 0;
  int went_on = 0;
  for (int b = 0; b < nblocks; ++b) {
    const std::uint8_t* qb = qblocks + static_cast<std::ptrdiff_t>(b) * kBlockLanes * qdim;
    const std::int32_t* bxx = xx + static_cast<std::ptrdiff_t>(b) * checks * kBlockLanes;
    __m256i limit[NQ];
    for (int i = 0; i < NQ; ++i) {
      limit[i] = _mm256_set1_epi32(LaneLimit(queries[i].threshold, ex[b], queries[i].slack, inv_scale));
    }
    __m256i acc[NQ][2];
    for (int i = 0; i < NQ; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    QuantJointAvx2<NQ>(qb, queries, 0, first_groups, ones, acc);
    // Which queries still have a lane after the first check (for the
    // depth's adaptation; the masks do not depend on it).
    for (int i = 0; i < NQ; ++i) {
      const std::int32_t* cx = bxx + first_check * kBlockLanes;
      went_on += (QuantAliveAvx2(acc[i][0], queries[i].c[first_check], cx, limit[i]) |
                  QuantAliveAvx2(acc[i][1], queries[i].c[first_check], cx + 8, limit[i])) != 0
                     ? 1
                     : 0;
    }
    seen += NQ;
    const int joint_check = joint - 1;
    const int stage1_groups = std::min(groups, (joint_check + 1) * kQuantCheckEvery / 4);
    QuantJointAvx2<NQ>(qb, queries, first_groups, stage1_groups, ones, acc);
    for (int i = 0; i < NQ; ++i) {
      __m256i a0 = acc[i][0];
      __m256i a1 = acc[i][1];
      int check = joint_check;
      const std::int32_t* cx = bxx + check * kBlockLanes;
      std::uint32_t alive = QuantAliveAvx2(a0, queries[i].c[check], cx, limit[i]) |
                            (QuantAliveAvx2(a1, queries[i].c[check], cx + 8, limit[i]) << 8);
      for (int g = stage1_groups; alive != 0 && check + 1 < checks;) {
        ++check;
        const int end = std::min(groups, (check + 1) * kQuantCheckEvery / 4);
        for (; g < end; g += 2) {
          const std::int8_t* q = queries[i].q + static_cast<std::ptrdiff_t>(g) * kQuantQueryGroupBytes;
          a0 = _mm256_add_epi32(a0, QuantPairAvx2(qb + g * 64, q, ones));
          a1 = _mm256_add_epi32(a1, QuantPairAvx2(qb + g * 64 + 32, q, ones));
        }
        cx = bxx + check * kBlockLanes;
        alive &= QuantAliveAvx2(a0, queries[i].c[check], cx, limit[i]) |
                 (QuantAliveAvx2(a1, queries[i].c[check], cx + 8, limit[i]) << 8);
      }
      masks[i * nblocks + b] = alive;
    }
    if (seen >= kAdaptBlocks * NQ) {
      const bool deep = static_cast<float>(went_on) > kDeepenAbove * static_cast<float>(seen);
      joint = std::max(first_check + 1, std::min(checks, deep ? 3 : 2));
      seen = 0;
      went_on = 0;
    }
  }
  *joint_checks = joint;
}

void QuantAvx2Any(const std::uint8_t* qblocks, const std::int32_t* xx, const float* ex, int qdim, float scale,
                  int nblocks, const QuantQuery* queries, int nq, std::uint32_t* masks, int* joint_checks) {
  switch (nq) {
    case 1:
      return QuantAvx2<1>(qblocks, xx, ex, qdim, scale, nblocks, queries, masks, joint_checks);
    case 2:
      return QuantAvx2<2>(qblocks, xx, ex, qdim, scale, nblocks, queries, masks, joint_checks);
    case 3:
      return QuantAvx2<3>(qblocks, xx, ex, qdim, scale, nblocks, queries, masks, joint_checks);
    default:
      return QuantAvx2<4>(qblocks, xx, ex, qdim, scale, nblocks, queries, masks, joint_checks);
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
  static const bool have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (have_avx2) return kAvx2;
#endif
  return kPortable;
}

}  // namespace takeback::index::internal
