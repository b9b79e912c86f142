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
// s) clamped to [-kQuantMax, kQuantMax] (s: the index's scale), with e_x =
// ||x - sX|| (rounded up); a query q likewise as Q with e_q. By the
// triangle inequality,
//   ||q - x|| >= s * sqrt(D) - e_q - e_x,   D = ||Q - X||^2 (an exact integer),
// so a vector with s * sqrt(D) > (r + e_q) + e_x (with margins for float
// rounding, see QuantQuery) is farther than r from q and can be skipped.
// The kernels take e = the largest e_x of a block's 16 lanes (one float
// per block) for all of them: a weaker bound for the others, so still
// sound; e_x varies little between vectors, except for one with values
// clamped to the scale, which then weakens only its own block.
//
// Why 63 levels and not 127: vpmaddubsw multiplies unsigned by signed bytes
// and adds pairs into int16. With X + 64 (1..127) by Q (-63..63) a pair is
// at most 2 * 127 * 63 = 16002, so the pairs of two groups of 4 dimensions
// add up in int16 (<= 32004) before one vpmaddwd widens them: 3 multiplies
// per 8 dimensions instead of 4, and the multiplier is what bounds the
// kernel (measured: 0.86 vs 1.22 ns per query, 16 lanes and 4 dimensions).
// The coarser step costs about a third more quantisation error.
//
// Layout of a quantised block (kBlockLanes = 16 vectors, qdim = dimension
// rounded up to a multiple of kQuantDimMultiple, padding X = 0): for each
// group g of 4 dimensions 64 bytes, lanes 0-7 then 8-15, 4 bytes per lane,
// stored as the unsigned byte X + kQuantOffset:
// qblock[g * 64 + l * 4 + j] = X[l][4g + j] + kQuantOffset. The kernels
// compute A = sum_d (X_d + kQuantOffset) Q_d exactly, and
//   D = sum Q_d^2 + 2 kQuantOffset sum Q_d + sum X_d^2 - 2 A.
// Partial sums over the first 32, 64, ... dimensions (the "checks") are
// lower bounds of D too (every term of D is a square), so a kernel may stop
// computing lanes that are already ruled out after a check; xx holds, per
// check c, the 16 lanes' sums of X_d^2 over d < the c-th check's end, and
// QuantQuery::c the query's sum Q_d^2 + 2 kQuantOffset sum Q_d over the same
// prefix. Whether a lane passes depends only on its full D: a lane ruled out
// at a check is ruled out by the full D too (D only grows).
inline constexpr float kQuantMax = 63.0F;
inline constexpr int kQuantOffset = 64;
inline constexpr int kQuantDimMultiple = 8;
inline constexpr int kQuantCheckEvery = 32;
inline constexpr int QuantChecks(int qdim) { return (qdim + kQuantCheckEvery - 1) / kQuantCheckEvery; }
// Bytes of a query's quantised form per group of 4 dimensions: the 4 bytes
// Q_4g..Q_4g+3 (signed). The AVX2 kernel broadcasts each group over a
// register as it loads it (it was kept broadcast in memory, 32 bytes a
// group: 8 times the bytes for the same work).
inline constexpr int kQuantQueryGroupBytes = 4;

struct QuantQuery {
  const std::int8_t* q = nullptr;   // qdim / 4 groups of kQuantQueryGroupBytes bytes, Q in [-63, 63]
  const std::int32_t* c = nullptr;  // per check: sum Q_d^2 + 2 kQuantOffset sum Q_d over the check's prefix
  // A lane is pruned when s * sqrt(D) > (threshold + e) * slack, tested
  // as an integer D > limit (vector_kernels.cc LaneLimit); threshold >=
  // r + e_q and slack > 1 cover the float rounding.
  float threshold = 0;
  float slack = 1;
};

// For each of `nblocks` consecutive quantised blocks (qdim a multiple of
// kQuantDimMultiple; qblocks: nblocks * kBlockLanes * qdim bytes; xx:
// nblocks * QuantChecks(qdim) * kBlockLanes; ex: nblocks, each block's
// largest e_x) and each query i (of nq, 1..kMaxKernelQueries), sets
// masks[i * nblocks + b] (bit l: lane l) to the lanes of block b that the
// query cannot rule out. `prefetch`: the blocks are probably not in the
// cache yet (the first call over them); the AVX2 kernel then asks for each
// block two blocks ahead of the one it works on.
using QuantKernel = void (*)(const std::uint8_t* qblocks, const std::int32_t* xx, const float* ex, int qdim,
                             float scale, int nblocks, const QuantQuery* queries, int nq, std::uint32_t* masks,
                             bool prefetch);

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
