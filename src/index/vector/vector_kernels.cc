#include "index/vector/vector_kernels.h"

#include <algorithm>

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
      any |= _mm256_movemask_ps(_mm256_cmp_ps(TotalAvx2<NQ, P>(acc, q, 0), bound[q], _CMP_LE_OQ));
      any |= _mm256_movemask_ps(_mm256_cmp_ps(TotalAvx2<NQ, P>(acc, q, 1), bound[q], _CMP_LE_OQ));
    }
    if (any == 0) return false;
  }
  for (int q = 0; q < NQ; ++q) {
    _mm256_storeu_ps(out + q * kBlockLanes, TotalAvx2<NQ, P>(acc, q, 0));
    _mm256_storeu_ps(out + q * kBlockLanes + 8, TotalAvx2<NQ, P>(acc, q, 1));
  }
  return true;
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

const VectorKernels kPortable{"portable", &BlockPortableAny};

}  // namespace

const VectorKernels& PortableVectorKernels() { return kPortable; }

const VectorKernels& BestVectorKernels() {
#if TAKEBACK_VECTOR_X86
  static const VectorKernels kAvx2{"avx2-fma", &BlockAvx2Any};
  static const bool have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (have_avx2) return kAvx2;
#endif
  return kPortable;
}

}  // namespace takeback::index::internal
