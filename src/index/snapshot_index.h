// The machinery every BinaryIndex implementation shares: an immutable bulk
// "base" (hashes and ids sorted by id, plus the implementation's tables), a
// small copy-on-write "recent" part (adds since the base was built, and the
// base positions removed since), and an atomically published snapshot of
// both. Internal to src/index.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "hash/pdq.h"
#include "index/binary_index.h"

namespace takeback::index::internal {

// Memory that a Base's arrays live in: heap (built) or a mapped file (loaded).
class Region {
 public:
  virtual ~Region() = default;
};

// Heap array of `bytes`, 2 MiB-aligned with transparent huge pages advised
// (random probes into hundreds of MiB otherwise miss the TLB every time).
// Returns nullptr when the allocation fails.
std::shared_ptr<Region> AllocateRegion(std::size_t bytes, void** data);

// One multi-index hashing table: for each value of bits [start_bit,
// start_bit + bits) of a hash, the base positions having that value are
// positions[offsets[v] .. offsets[v + 1]), ascending.
struct ChunkTable {
  int start_bit = 0;
  int bits = 0;
  const std::uint32_t* offsets = nullptr;    // 2^bits + 1 entries
  const std::uint32_t* positions = nullptr;  // Base::n entries
};

// The chunk layout of m chunks over 256 bits: the first 256 % m chunks are one
// bit longer. Precondition: 11 <= m <= 64 (so 4 <= bits <= 24).
std::vector<ChunkTable> ChunkLayout(int chunks);
inline constexpr int kMinChunks = 11;
inline constexpr int kMaxChunks = 64;

// Bits [start, start + bits) of h as an integer (bits <= 24).
inline std::uint32_t ExtractChunk(const hash::PdqHash& h, int start, int bits) {
  const int word = start >> 6;
  const int offset = start & 63;
  std::uint64_t v = h.words[static_cast<std::size_t>(word)] >> offset;
  if (offset + bits > 64) v |= h.words[static_cast<std::size_t>(word) + 1] << (64 - offset);
  return static_cast<std::uint32_t>(v & ((std::uint64_t{1} << bits) - 1));
}

struct Base {
  std::size_t n = 0;
  const hash::PdqHash* hashes = nullptr;  // n, in id order
  const std::uint64_t* ids = nullptr;     // n, strictly ascending
  std::vector<ChunkTable> tables;         // empty for Flat
  // Per radius 0..kMaxRadius: the per-chunk probe radius (-1: chunk not
  // probed), or an empty vector when a scan is cheaper than probing.
  std::vector<std::vector<int>> probe_radii;
  std::vector<std::shared_ptr<const Region>> regions;  // keep the arrays alive
};

// Builds the probe plan of `base` (its tables and n must be set).
void PlanProbes(Base* base);

// Builds `chunks` tables over base->hashes with up to `threads` threads.
// kInternal when memory runs out.
Status BuildTables(Base* base, int chunks, int threads);

struct Snapshot {
  std::shared_ptr<const Base> base;
  std::vector<std::uint32_t> removed;        // base positions, ascending
  std::vector<std::uint64_t> recent_ids;     // adds since the base, ascending
  std::vector<hash::PdqHash> recent_hashes;  // parallel to recent_ids
  std::size_t live = 0;
};

enum class Kind { kFlat, kMih };

struct Options {
  Kind kind = Kind::kMih;
  int chunks = 0;  // 0: chosen from the size at each build (MIH only)
  // Compact when recent adds plus removes exceed this many.
  std::size_t max_recent = 16384;
};

class SnapshotIndex final : public BinaryIndex {
 public:
  explicit SnapshotIndex(Options options);
  // Adopts a loaded base (LoadBinaryIndex).
  SnapshotIndex(Options options, std::shared_ptr<const Base> base);

  Status Add(std::span<const std::uint64_t> ids, std::span<const hash::PdqHash> hashes) override;
  Result<std::size_t> Remove(std::span<const std::uint64_t> ids) override;
  Status RangeSearch(const hash::PdqHash& query, int radius, std::vector<Neighbor>* out) const override;
  Result<RangeSearchResult> RangeSearchBatch(std::span<const hash::PdqHash> queries, int radius) const override;
  Status Knn(const hash::PdqHash& query, int k, std::vector<Neighbor>* out) const override;
  std::size_t size() const override;
  Status Compact() override;
  Status Save(const std::string& path) override;
  std::string Describe() const override;

 private:
  std::shared_ptr<const Snapshot> Load() const {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    return snapshot_;
  }
  // Makes `next` the snapshot new searches see; the old one is released
  // outside the lock (freeing a base can take a while).
  void Publish(std::shared_ptr<const Snapshot> next) {
    {
      std::lock_guard<std::mutex> lock(snapshot_mu_);
      snapshot_.swap(next);
    }
  }
  // Appends matches of one query on `snap` (unsorted). radius may exceed kMaxRadius.
  void Search(const Snapshot& snap, const hash::PdqHash& query, int radius, std::vector<Neighbor>* out) const;
  void ScanBase(const Snapshot& snap, const hash::PdqHash& query, int radius, std::vector<Neighbor>* out) const;
  void ProbeBase(const Snapshot& snap, const hash::PdqHash& query, int radius, const std::vector<int>& probe_radii,
                 std::vector<Neighbor>* out) const;
  void KnnScan(const Snapshot& snap, const hash::PdqHash& query, int k, std::vector<Neighbor>* out) const;
  // Requires write_mu_. Builds a new base from `snap` and publishes it.
  Status CompactLocked(const Snapshot& snap);
  int ChunksFor(std::size_t n) const;

  const Options options_;
  std::mutex write_mu_;  // serialises writers; readers never take it
  // Guards only the pointer copy/swap (nanoseconds), never a write's work,
  // so a search cannot wait for an Add, Remove or compaction. (Not
  // std::atomic<std::shared_ptr>: libstdc++ 12's load() unlocks with relaxed
  // order, which ThreadSanitizer rightly reports as a race with store().)
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by snapshot_mu_
};

// Writes base to path (docs/formats/index.md).
Status WriteIndexFile(const Base& base, Kind kind, int chunks_option, const std::string& path);

}  // namespace takeback::index::internal
