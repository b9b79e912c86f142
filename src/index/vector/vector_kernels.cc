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
// D_S > T is pruned, where T = floor(min(t^2, 1e9)), t = max(0, (threshold +
// e_x) * slack / scale). For an integer D, D > floor(y) iff D > y, and y is
// within a few float roundings (relative 1e-6, far inside slack) of the
// exact bound; D never reaches 1e9 (at most 4096 * 253^2), so the cap only
// stands for "prune nothing". The AVX2 kernel does the same float
// operations in the same order.
inline std::int32_t LaneLimit(float threshold, float ex, float slack, float inv_scale) {
  const float t = std::max((threshold + ex) * slack * inv_scale, 0.0F);
  return static_cast<std::int32_t>(std::min(t * t, 1e9F));
}

void QuantPortable(const std::uint8_t* qblock, const std::int32_t* xx, const float* ex, int qdim, float scale,
                   const QuantQuery* queries, int nq, std::uint32_t* masks) {
  std::int32_t acc[kMaxKernelQueries][kBlockLanes] = {};
  std::int32_t limit[kMaxKernelQueries][kBlockLanes];
  const float inv_scale = 1.0F / scale;
  for (int i = 0; i < nq; ++i) {
    masks[i] = (1U << kBlockLanes) - 1;
    for (int l = 0; l < kBlockLanes; ++l) {
      limit[i][l] = LaneLimit(queries[i].threshold, ex[l], queries[i].slack, inv_scale);
    }
  }
  const int groups = qdim / 4;
  int check = 0;
  for (int g = 0; g < groups;) {
    const int end = std::min(groups, g + kQuantCheckEvery / 4);
    for (; g < end; ++g) {
      const std::uint8_t* x = qblock + static_cast<std::ptrdiff_t>(g) * 64;
      for (int i = 0; i < nq; ++i) {
        const std::int8_t* q = queries[i].q + static_cast<std::ptrdiff_t>(g) * 4;
        for (int l = 0; l < kBlockLanes; ++l) {
          std::int32_t sum = 0;
          for (int j = 0; j < 4; ++j) sum += static_cast<std::int32_t>(static_cast<std::int8_t>(x[l * 4 + j])) * q[j];
          acc[i][l] += sum;
        }
      }
    }
    std::uint32_t any = 0;
    for (int i = 0; i < nq; ++i) {
      for (int l = 0; l < kBlockLanes; ++l) {
        const std::int32_t d = queries[i].c[check] + xx[check * kBlockLanes + l] - 4 * acc[i][l];
        if (d > limit[i][l]) masks[i] &= ~(1U << l);
      }
      any |= masks[i];
    }
    if (any == 0) return;
    ++check;
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

// The pre-filter with AVX2. vpmaddubsw multiplies unsigned by signed bytes
// and adds pairs into int16: the query bytes Q + 64 (1..127) by the stored
// X (-127..127), pairs at most 2 * 127 * 127 = 32258 in magnitude (no
// saturation); vpmaddwd by 1 widens them to int32 sums of 4 dimensions. So
// acc = sum (Q_d + 64) X_d exactly, and with xx_S = sum X_d^2 + 256 sum X_d,
// D_S = c_S + xx_S - 4 acc = ||2Q_S - X_S||^2. No per-query sign or offset
// work is left in the loop. A half-block of 8 lanes whose lanes are all
// pruned for every query is not computed further.
template <int NQ>
TAKEBACK_AVX2 inline __attribute__((always_inline)) void QuantStepAvx2(const std::uint8_t* qblock,
                                                                       const QuantQuery* queries, int g, int h,
                                                                       __m256i (&acc)[NQ][2]) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i xv =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qblock + static_cast<std::ptrdiff_t>(g) * 64 + h * 32));
  for (int i = 0; i < NQ; ++i) {
    std::int32_t packed;
    std::memcpy(&packed, queries[i].q + static_cast<std::ptrdiff_t>(g) * 4, sizeof(packed));
    acc[i][h] =
        _mm256_add_epi32(acc[i][h], _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi32(packed), xv), ones));
  }
}

template <int NQ>
TAKEBACK_AVX2 void QuantAvx2(const std::uint8_t* qblock, const std::int32_t* xx, const float* ex, int qdim, float scale,
                             const QuantQuery* queries, std::uint32_t* masks_out) {
  std::uint32_t masks[NQ];
  __m256i acc[NQ][2];
  __m256i limit[NQ][2];
  const __m256 inv_scale = _mm256_set1_ps(1.0F / scale);
  const __m256 cap = _mm256_set1_ps(1e9F);
  for (int i = 0; i < NQ; ++i) {
    const __m256 threshold = _mm256_set1_ps(queries[i].threshold);
    const __m256 slack = _mm256_set1_ps(queries[i].slack);
    for (int h = 0; h < 2; ++h) {
      acc[i][h] = _mm256_setzero_si256();
      const __m256 t = _mm256_max_ps(
          _mm256_mul_ps(_mm256_mul_ps(_mm256_add_ps(threshold, _mm256_loadu_ps(ex + h * 8)), slack), inv_scale),
          _mm256_setzero_ps());
      limit[i][h] = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_mul_ps(t, t), cap));
    }
    masks[i] = (1U << kBlockLanes) - 1;
  }
  const int groups = qdim / 4;
  int check = 0;
  bool live[2] = {true, true};
  for (int g = 0; g < groups;) {
    const int end = std::min(groups, g + kQuantCheckEvery / 4);
    if (live[0] && live[1]) {
      for (; g < end; ++g) {
        QuantStepAvx2<NQ>(qblock, queries, g, 0, acc);
        QuantStepAvx2<NQ>(qblock, queries, g, 1, acc);
      }
    } else {
      const int h = live[0] ? 0 : 1;
      for (; g < end; ++g) QuantStepAvx2<NQ>(qblock, queries, g, h, acc);
    }
    std::uint32_t any = 0;
    for (int i = 0; i < NQ; ++i) {
      const __m256i c = _mm256_set1_epi32(queries[i].c[check]);
      for (int h = 0; h < 2; ++h) {
        if (!live[h]) continue;
        const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xx + check * kBlockLanes + h * 8));
        const __m256i d = _mm256_sub_epi32(_mm256_add_epi32(c, sums), _mm256_slli_epi32(acc[i][h], 2));
        const auto pruned =
            static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(d, limit[i][h]))));
        masks[i] &= ~(pruned << (8 * h));
      }
      any |= masks[i];
    }
    if (any == 0) break;
    live[0] = (any & 0xFFU) != 0;
    live[1] = (any & 0xFF00U) != 0;
    ++check;
  }
  for (int i = 0; i < NQ; ++i) masks_out[i] = masks[i];
}

void QuantAvx2Any(const std::uint8_t* qblock, const std::int32_t* xx, const float* ex, int qdim, float scale,
                  const QuantQuery* queries, int nq, std::uint32_t* masks) {
  switch (nq) {
    case 1:
      return QuantAvx2<1>(qblock, xx, ex, qdim, scale, queries, masks);
    case 2:
      return QuantAvx2<2>(qblock, xx, ex, qdim, scale, queries, masks);
    case 3:
      return QuantAvx2<3>(qblock, xx, ex, qdim, scale, queries, masks);
    default:
      return QuantAvx2<4>(qblock, xx, ex, qdim, scale, queries, masks);
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
