// Distance kernels of the "Flat" vector index, compiled per instruction set
// and picked at run time. Internal to src/index/vector.
#pragma once

#include <cstddef>
#include <cstdint>
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

// The int8 pre-filter. A stored vector x is kept quantised as X = round(x /
// s) clamped to [-127, 127] (s: the index's scale), with e_x = ||x - sX||
// (rounded up); a query q as Q = round(q / 2s) clamped to [-63, 63] with e_q
// likewise. By the triangle inequality, for any set S of dimensions,
//   ||q - x|| >= ||q_S - x_S|| >= s * sqrt(D_S) - e_q - e_x,
//   D_S = ||2Q_S - X_S||^2 (an exact integer),
// so a vector with s * sqrt(D_S) > (r + e_q) + e_x (with margins for float
// rounding, see QuantQuery) is farther than r from q and can be skipped.
//
// Layout of a quantised block (kBlockLanes = 16 vectors, qdim = dimension
// rounded up to a multiple of 4, padding zero): for each group g of 4
// dimensions 64 bytes, lanes 0-7 then 8-15, 4 bytes per lane:
// qblock[g * 64 + l * 4 + j] = X[l][4g + j] (a signed byte). D_S is
// checked after every kQuantCheckEvery dimensions and at qdim; xx holds, per
// check c, the 16 lanes' sums of X_d^2 + 256 X_d over d < the c-th check's
// end.
inline constexpr int kQuantCheckEvery = 64;
inline constexpr int QuantChecks(int qdim) { return (qdim + kQuantCheckEvery - 1) / kQuantCheckEvery; }

struct QuantQuery {
  const std::int8_t* q = nullptr;   // qdim values Q + 64, in [1, 127]
  const std::int32_t* c = nullptr;  // per check: 4 * sum Q_d^2 over the check's prefix
  // A lane is pruned when s * sqrt(D_S) > (threshold + e_x) * slack, tested
  // as an integer D_S > limit (vector_kernels.cc LaneLimit); threshold >=
  // r + e_q and slack > 1 cover the float rounding.
  float threshold = 0;
  float slack = 1;
};

// Sets masks[i] (bit l: lane l) to the lanes of the block that query i
// (of nq, 1..kMaxKernelQueries) cannot rule out. Lanes pruned at one check
// stay pruned; returns as soon as every mask is empty.
using QuantKernel = void (*)(const std::uint8_t* qblock, const std::int32_t* xx, const float* ex, int qdim, float scale,
                             const QuantQuery* queries, int nq, std::uint32_t* masks);

struct VectorKernels {
  std::string_view name;
  BlockKernel block;
  QuantKernel quant;
};

// The best kernel set this CPU runs ("avx2-fma" or "portable").
const VectorKernels& BestVectorKernels();
// The portable kernels, for tests comparing the two.
const VectorKernels& PortableVectorKernels();

}  // namespace takeback::index::internal
