// Exact Hamming search over registered PDQ hashes (issue 3).
//
// One interface, several implementations, in the manner of faiss's
// IndexBinary: a flat SIMD scan ("Flat") and multi-index hashing ("MIH",
// sub-linear, exact). Build one with MakeBinaryIndex("MIH"), or open a saved
// one with LoadBinaryIndex(path).
//
// Thread-safety (every implementation): any number of threads may call the
// const methods (searches, size, Describe) at once, and concurrently with one
// or more writers (Add, Remove, Compact, Save; writers serialise among
// themselves). A search runs on an immutable snapshot taken when it starts:
// it never waits for a writer and sees each Add/Remove completely or not at
// all. A write is visible to every search that starts after it returns.
//
// Results are exact: a range search returns every live hash within the radius
// and nothing else, sorted by (distance, id).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "hash/pdq.h"

namespace takeback::index {

inline constexpr int kDefaultRadius = 31;  // DESIGN.md: PDQ match rule
inline constexpr int kMaxRadius = 63;

struct Neighbor {
  std::uint64_t id = 0;  // the caller's id given to Add
  int distance = 0;      // Hamming distance to the query, 0..256

  friend bool operator==(const Neighbor&, const Neighbor&) = default;
};

// Results of a batch of range searches, faiss-style: the neighbours of query
// q are neighbors[lims[q] .. lims[q + 1]).
struct RangeSearchResult {
  std::vector<std::size_t> lims;  // queries + 1 entries
  std::vector<Neighbor> neighbors;
};

// The best match of one stored id over the eight dihedral variants of a query.
struct DihedralNeighbor {
  std::uint64_t id = 0;
  int distance = 0;
  int variant = 0;  // index into the query array (hash::Dihedral order), the smallest on ties
};

class BinaryIndex {
 public:
  virtual ~BinaryIndex() = default;

  // Stores hashes[i] under ids[i]. Ids are unique: an id already stored, or
  // given twice, fails the whole call with kInvalidArgument and stores
  // nothing. kInvalidArgument also when the spans differ in length;
  // kTooLarge past 2^32 - 1 stored hashes.
  virtual Status Add(std::span<const std::uint64_t> ids, std::span<const hash::PdqHash> hashes) = 0;

  // Removes the hashes stored under `ids`; ids not stored are ignored.
  // Returns how many were removed.
  virtual Result<std::size_t> Remove(std::span<const std::uint64_t> ids) = 0;

  // Every stored hash within `radius` (0..kMaxRadius, else kInvalidArgument)
  // of `query`, sorted by (distance, id). `out` is replaced.
  virtual Status RangeSearch(const hash::PdqHash& query, int radius, std::vector<Neighbor>* out) const = 0;

  // RangeSearch for each query, all against one snapshot.
  virtual Result<RangeSearchResult> RangeSearchBatch(std::span<const hash::PdqHash> queries, int radius) const = 0;

  // The k (>= 0) stored hashes nearest to `query`, sorted by (distance, id);
  // fewer when fewer are stored. Ties at the k-th distance go to smaller ids.
  virtual Status Knn(const hash::PdqHash& query, int k, std::vector<Neighbor>* out) const = 0;

  // Searches the eight dihedral variants of one image (exactly 8 hashes,
  // else kInvalidArgument) and returns, per stored id within `radius` of
  // any of them, its smallest distance; sorted by (distance, id).
  Status RangeSearchDihedral(std::span<const hash::PdqHash> variants, int radius,
                             std::vector<DihedralNeighbor>* out) const;

  // Stored hashes (adds minus removes).
  virtual std::size_t size() const = 0;

  // Folds recent adds and removes into the bulk-built structure and returns
  // when that is done (waiting first for a background compaction already
  // running). Never needed for correctness: when the recent part grows past a
  // limit, Add/Remove start a compaction on a background thread and return.
  // Neither kind of compaction blocks searches or other writers: they keep
  // running on snapshots over the old structure, and the writes made
  // meanwhile are replayed onto the new one before it is published.
  virtual Status Compact() = 0;

  // Writes the index to `path` (docs/formats/index.md), replacing the file
  // atomically (write to a temporary, then rename). Compacts first.
  // kIoError when the file cannot be written.
  virtual Status Save(const std::string& path) = 0;

  // The description string that MakeBinaryIndex accepts for this kind, plus
  // its current parameters, e.g. "MIH(chunks=12)".
  virtual std::string Describe() const = 0;
};

// Builds an empty index from a description:
//   "Flat"      exhaustive SIMD scan (runtime dispatch AVX-512 / AVX2 / portable)
//   "MIH"       multi-index hashing; the layout follows the size at each
//               compaction: ring tables (16 chunks, 96 bytes per hash)
//               from 65,536 to 12,582,912 hashes, else bucket lines with a
//               chunk count chosen from the size
//   "MIH<m>"    multi-index hashing, bucket lines with m chunks (11..64), e.g. "MIH16"
//   "MIHS"      multi-index hashing, ring tables at every size
// kInvalidArgument for anything else.
Result<std::unique_ptr<BinaryIndex>> MakeBinaryIndex(std::string_view description);

// Opens an index saved by BinaryIndex::Save, memory-mapping its arrays (they
// stay mapped until the index, or its next compaction, drops them). Verifies
// magic, version, sizes and checksums first: kCorrupt naming what failed,
// kNotFound / kIoError when the file cannot be opened or mapped.
Result<std::unique_ptr<BinaryIndex>> LoadBinaryIndex(const std::string& path);

// The name of the SIMD kernel set in use ("avx2", "avx512-vpopcntdq", ...).
std::string_view KernelName();

}  // namespace takeback::index
