// Exact nearest-neighbour search over float vectors, such as the 128-d face
// descriptors of src/face (issue 5), by Euclidean distance.
//
// One interface, two implementations, in the manner of faiss's Index (and of
// index::BinaryIndex for PDQ hashes):
//   "Flat"       Takeback's own exhaustive scan: every vector is also kept
//                quantised to int8 with the norm of its quantisation error;
//                an integer AVX2 pre-filter (runtime dispatch, portable
//                fallback) rules out, by the triangle inequality, the
//                vectors that cannot be within the radius (or the current
//                k-th distance), and the rest are re-checked in float
//                (blocks of 16, dimension-major, AVX2/FMA). Only the float
//                distances are reported, so results stay exact.
//   "FaissFlat"  FAISS's IndexFlatL2 (Debian libfaiss-dev) behind the same
//                interface, for comparison (bench/vector_bench).
// Build one with MakeVectorIndex(description, dimension).
//
// Thread-safety: any number of threads may call the const methods at once.
//   Flat: searches run on an immutable snapshot taken when they start; they
//   never wait for a writer and see each Add/Remove completely or not at all.
//   FaissFlat: a reader-writer lock; searches wait while a write runs.
// Writers (Add, Remove, Compact) serialise among themselves. A write is
// visible to every search that starts after it returns.
//
// Results are exact (exhaustive, no approximation): a range search returns
// every live vector whose distance to the query is <= radius, sorted by
// (distance, id). Distances are computed in float; two implementations (or a
// brute force in double) may disagree by about 1e-6 on a vector lying right
// on the radius.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace takeback::index {

struct VectorNeighbor {
  std::uint64_t id = 0;  // the caller's id given to Add
  float distance = 0;    // Euclidean distance to the query

  friend bool operator==(const VectorNeighbor&, const VectorNeighbor&) = default;
};

// Results of a batch of searches, faiss-style: the neighbours of query q are
// neighbors[lims[q] .. lims[q + 1]).
struct VectorSearchResult {
  std::vector<std::size_t> lims;  // queries + 1 entries
  std::vector<VectorNeighbor> neighbors;
  // "Flat": how many (query, stored vector) pairs the int8 pre-filter could
  // not rule out and handed to the float re-check (padding and removed
  // vectors included); 0 for FaissFlat, which has no pre-filter.
  std::size_t prefilter_passed = 0;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  // Floats per vector (fixed at creation).
  virtual int dimension() const = 0;

  // Stores vectors[i * dimension() .. (i + 1) * dimension()) under ids[i].
  // Ids are unique: an id already stored, or given twice, fails the whole
  // call with kInvalidArgument and stores nothing. kInvalidArgument also
  // when vectors.size() != ids.size() * dimension() or a value is not
  // finite.
  virtual Status Add(std::span<const std::uint64_t> ids, std::span<const float> vectors) = 0;

  // Removes the vectors stored under `ids`; ids not stored are ignored.
  // Returns how many were removed.
  virtual Result<std::size_t> Remove(std::span<const std::uint64_t> ids) = 0;

  // Every stored vector within `radius` (>= 0, finite) of `query`
  // (dimension() floats), sorted by (distance, id). `out` is replaced.
  // kInvalidArgument for a bad radius or query size.
  virtual Status RangeSearch(std::span<const float> query, float radius, std::vector<VectorNeighbor>* out) const = 0;

  // RangeSearch for each of queries.size() / dimension() queries, all on one
  // snapshot, split over up to `threads` threads (>= 1).
  virtual Result<VectorSearchResult> RangeSearchBatch(std::span<const float> queries, float radius,
                                                      int threads = 1) const = 0;

  // The k (>= 0) stored vectors nearest to `query`, sorted by (distance,
  // id); fewer when fewer are stored.
  virtual Status Knn(std::span<const float> query, int k, std::vector<VectorNeighbor>* out) const = 0;

  // Knn for each query, all on one snapshot, over up to `threads` threads.
  virtual Result<VectorSearchResult> KnnBatch(std::span<const float> queries, int k, int threads = 1) const = 0;

  // Stored vectors (adds minus removes).
  virtual std::size_t size() const = 0;

  // Reclaims the space of removed vectors. Never needed for correctness
  // (Remove calls it when removed vectors pass a quarter of the store).
  virtual Status Compact() = 0;

  // The description MakeVectorIndex accepts for this kind, e.g. "Flat".
  virtual std::string Describe() const = 0;
};

// Builds an empty index of `dimension` (1..4096) floats per vector:
//   "Flat"       Takeback's exhaustive SIMD scan
//   "FaissFlat"  FAISS IndexFlatL2 (kUnsupported when built without FAISS)
// kInvalidArgument for anything else.
Result<std::unique_ptr<VectorIndex>> MakeVectorIndex(std::string_view description, int dimension);

// The kernel set "Flat" uses on this machine: "avx2-fma" or "portable".
std::string_view VectorKernelName();

// Whether this build has the "FaissFlat" implementation.
bool HaveFaiss();

}  // namespace takeback::index
