// Distance kernels of the "Flat" vector index, compiled per instruction set
// and picked at run time. Internal to src/index/vector.
#pragma once

#include <cstddef>
#include <string_view>

namespace takeback::index::internal {

// Vectors are stored in blocks of kBlockLanes, dimension-major: the value of
// dimension d of lane l of a block is block[d * kBlockLanes + l].
inline constexpr int kBlockLanes = 16;
// Queries handled together by one kernel call (each block is loaded once
// for all of them).
inline constexpr int kMaxKernelQueries = 4;

// Squared Euclidean distances from `nq` (1..kMaxKernelQueries) queries of
// `dim` floats to the kBlockLanes vectors of `block`:
// out[q * kBlockLanes + l]. Returns false as soon as every partial sum of
// every query exceeds that query's bounds[q] (a squared distance); `out` is
// then unspecified. Returns true otherwise, with `out` complete. Partial sums
// of squares never decrease in floating point, so a vector skipped this way
// could not have ended within its bound: the early exit is exact.
using BlockKernel = bool (*)(const float* block, int dim, const float* const* queries, int nq, const float* bounds,
                             float* out);

struct VectorKernels {
  std::string_view name;
  BlockKernel block;
};

// The best kernel set this CPU runs ("avx2-fma" or "portable").
const VectorKernels& BestVectorKernels();
// The portable kernels, for tests comparing the two.
const VectorKernels& PortableVectorKernels();

}  // namespace takeback::index::internal
