// The machinery every BinaryIndex implementation shares: an immutable bulk
// "base" (hashes and ids sorted by id, plus the implementation's tables), a
// small copy-on-write "delta" (adds since the base was built, and the base
// positions removed since), and an atomically published snapshot of both.
//
// Compaction (folding the delta into a new base) runs without blocking
// writers: it builds the new base from a snapshot S0 with no lock held, while
// writers keep publishing snapshots over the old base and also append their
// writes to a log; it then replays the log onto the new base (the bulk of it
// unlocked, only the last few writes under the writers' lock) and publishes
// the result. Internal to src/index.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
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

// One multi-index hashing table over bits [start_bit, start_bit + bits) of
// the hashes. Each chunk value v is a bucket: the base positions (indexes
// into Base::hashes) whose chunk equals v. Buckets are grouped 2^group_bits
// at a time (the low bits of v) into 64-byte lines, so that a probe usually
// reads one cache line:
//   word 0-1: header, 16 four-bit fields (field k in bits 4k..4k+3 of the
//             64-bit value word0 | word1 << 32); field k < G = 2^group_bits
//             is e_k, the number of the line's positions in buckets 0..k;
//   word 2-15: those positions (at most kLineCapacity), bucket by bucket.
// A group with more than kLineCapacity positions has e_{G-1} = 15 and word 2
// is the index in `overflow` of its record: G words e_0..e_{G-1}, then the
// e_{G-1} positions. Positions within a bucket are ascending.
inline constexpr int kLineWords = 16;
inline constexpr int kLineHeaderWords = 2;
inline constexpr std::uint32_t kLineCapacity = kLineWords - kLineHeaderWords;
inline constexpr std::uint32_t kOverflowMark = 15;
inline constexpr int kMaxGroupBits = 4;

struct ChunkTable {
  int start_bit = 0;
  int bits = 0;
  int group_bits = 0;
  const std::uint32_t* lines = nullptr;     // 2^(bits - group_bits) lines of kLineWords
  const std::uint32_t* overflow = nullptr;  // overflow_words
  std::size_t overflow_words = 0;
};

// The group bits for a table of `bits`-bit chunks over n hashes: the most
// (up to kMaxGroupBits) that keep the expected positions per line <= 10.
int GroupBitsFor(int bits, std::size_t n);

// The positions of bucket `key` of `table`: [*first, *first + count).
inline std::uint32_t BucketPositions(const ChunkTable& table, std::uint32_t key, const std::uint32_t** first) {
  const std::uint32_t* line = table.lines + static_cast<std::size_t>(key >> table.group_bits) * kLineWords;
  const std::uint32_t j = key & ((1U << table.group_bits) - 1);
  const std::uint64_t header = line[0] | (std::uint64_t{line[1]} << 32);
  const std::uint32_t last = static_cast<std::uint32_t>(header >> (4 * ((1 << table.group_bits) - 1))) & 15;
  if (last != kOverflowMark) {
    const std::uint32_t start = j == 0 ? 0 : static_cast<std::uint32_t>(header >> (4 * (j - 1))) & 15;
    const std::uint32_t end = static_cast<std::uint32_t>(header >> (4 * j)) & 15;
    *first = line + kLineHeaderWords + start;
    return end - start;
  }
  const std::uint32_t* record = table.overflow + line[kLineHeaderWords];
  const std::uint32_t start = j == 0 ? 0 : record[j - 1];
  *first = record + (1U << table.group_bits) + start;
  return record[j] - start;
}

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

// Ring tables, the layout from 65,536 to ~12.6M hashes (kRingMaxN): 16
// chunks of 16 bits (chunk c = the hash's 16-bit word c) and, per chunk, its
// hashes' entries sorted by the chunk's value (a bucket per value). Each
// entry is the 16-bit word c+1 (mod 16) of its hash, the "next key", in a
// uint16 array; the positions (indexes into Base::hashes) sit in a parallel
// array.
//
// The probe filters on the next key with the cycle lemma ("pigeonring",
// Qin et al., VLDB 2019): with per-chunk probe radii t_c (PlanProbes:
// w_c = t_c + 1 >= 0, sum of w_c >= r + 1; t_c = -1 for a chunk not probed)
// and a hash at distance sum_c d_c <= r, the excesses e_c = d_c - w_c sum to
// < 0, so some cyclic start i has every prefix sum of e negative: d_i <= t_i
// and d_i + d_{i+1} <= t_i + t_{i+1} + 1 (RingFinds). So a probe of chunk i
// keeps, in a bucket at distance w from the query's chunk value, only the
// entries whose next key is within t_i + t_{i+1} + 1 - w of the query's
// (RingBound); only those survivors' positions and hashes are read. At
// radius 31 (every t = 1), a random hash survives with probability ~1.1%
// (w = 0: <= 3 of 16 bits) or ~0.2% (w = 1: <= 2). A hash is reported from
// the first chunk i with RingFinds(i), which is exactly the first chunk
// whose probe keeps it.
//
// So that a probe reads one cache line per bucket, each bucket has a block
// of S = 16 or 32 uint16 slots (32 or 64 bytes, aligned; RingBlockSlots):
// slots [0, S - 4) hold its first next keys, slots S-4..S-3 the index of its
// first entry (u32) and S-2..S-1 its entry count (u32); the keys past the
// first S - 4 are read from the dense array. Memory at 1M hashes: 16 x (64
// MiB / 16 blocks + 2 key + 4 position bytes per hash) = 160 MiB.
inline constexpr int kRingChunks = 16;
inline constexpr int kRingBits = 16;
inline constexpr std::size_t kRingBuckets = std::size_t{1} << kRingBits;
inline constexpr std::size_t kRingHeaderSlots = 4;

// The sizes for which "MIH" (automatic) builds ring tables; outside, it
// builds bucket lines (ChunkTable). Measured (docs/BENCHMARKS.md, Hash
// index): at 1M a query costs ~0.5x the CPU of the sketch tables before
// them and ~0.25x that of bucket lines, at 10M ~0.33x that of bucket lines
// (11 chunks) for ~1.2x the memory (136 bytes per hash + 64 MiB against
// ~120). Above ~12.6M, not measured, bucket lines stay (less memory).
inline constexpr std::size_t kRingMinN = std::size_t{1} << 16;
inline constexpr std::size_t kRingMaxN = std::size_t{3} << 22;

// The block slots for n hashes: 32 (28 keys inline) from 2^19 hashes (8 per
// bucket on average), else 16 (12 inline).
inline constexpr std::size_t RingBlockSlots(std::size_t n) { return n >= (std::size_t{1} << 19) ? 32 : 16; }

struct RingTable {
  const std::uint16_t* blocks = nullptr;     // kRingBuckets x block slots
  const std::uint16_t* keys = nullptr;       // n, by bucket: the entry's hash's word c+1 mod 16
  const std::uint32_t* positions = nullptr;  // n, parallel; ascending within a bucket
};

// A block's first entry and entry count (slots: its size).
inline std::uint32_t BlockFirst(const std::uint16_t* block, std::size_t slots) {
  return block[slots - 4] | (std::uint32_t{block[slots - 3]} << 16);
}
inline std::uint32_t BlockCount(const std::uint16_t* block, std::size_t slots) {
  return block[slots - 2] | (std::uint32_t{block[slots - 1]} << 16);
}

// The 16-bit word k (0..15) of h.
inline std::uint32_t Word16(const hash::PdqHash& h, int k) {
  return static_cast<std::uint32_t>(h.words[static_cast<std::size_t>(k >> 2)] >> (16 * (k & 3))) & 0xffff;
}

// The chunk after c on the ring.
inline constexpr int NextChunk(int c) { return (c + 1) % kRingChunks; }

// The most the next key of an entry of chunk c may differ from the query's
// when the entry's bucket lies at distance w <= t_c from the query's chunk
// value (probe radii t, kRingChunks of them). Never negative.
inline int RingBound(const std::vector<int>& t, int c, int w) {
  return t[static_cast<std::size_t>(c)] + t[static_cast<std::size_t>(NextChunk(c))] + 1 - w;
}

// Whether the probe of chunk c keeps a hash whose chunk c and chunk c+1 lie
// at distances d and d_next from the query's.
inline bool RingFinds(const std::vector<int>& t, int c, int d, int d_next) {
  return t[static_cast<std::size_t>(c)] >= 0 && d <= t[static_cast<std::size_t>(c)] && d_next <= RingBound(t, c, d);
}

struct Base {
  std::size_t n = 0;
  const hash::PdqHash* hashes = nullptr;  // n, in id order
  const std::uint64_t* ids = nullptr;     // n, strictly ascending
  std::vector<ChunkTable> tables;         // empty for Flat; with ring tables: ChunkLayout(16), no lines
  std::vector<RingTable> rings;           // kRingChunks tables, or empty (bucket lines or Flat)
  std::size_t ring_block_slots = 0;       // RingBlockSlots(n) with ring tables
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

// Builds the kRingChunks ring tables over base->hashes (and sets
// base->tables to their chunk layout) with blocks of `slots` (16 or 32)
// and up to `threads` threads. kInternal when memory runs out.
Status BuildRingTables(Base* base, std::size_t slots, int threads);

// Fills the blocks of a ring table (kRingBuckets x slots, all written) from
// its bucket offsets (kRingBuckets + 1, ascending from 0) and dense keys.
void FillRingBlocks(const std::uint32_t* offsets, const std::uint16_t* keys, std::size_t slots, std::uint16_t* blocks);

struct Snapshot {
  std::shared_ptr<const Base> base;
  std::vector<std::uint32_t> removed;        // base positions, ascending
  std::vector<std::uint64_t> recent_ids;     // adds since the base, ascending
  std::vector<hash::PdqHash> recent_hashes;  // parallel to recent_ids
  std::size_t live = 0;

  std::size_t delta() const { return removed.size() + recent_ids.size(); }
};

// One write: adds (ids ascending, hashes parallel) or removes (ids).
struct WriteOp {
  bool add = false;
  std::vector<std::uint64_t> ids;
  std::vector<hash::PdqHash> hashes;  // adds only
};

// The snapshot that results from applying `ops`, in order, to `snap`: every
// id an op touches ends as its last op left it (added with that hash, or
// absent); every other id is as in `snap`. `ops` must be valid in order (an
// add never names a live id). *was_live, when given, receives how many of the
// distinct ids touched were live in `snap`. Never blocks; O(delta + ids log n).
std::shared_ptr<const Snapshot> ApplyOps(const Snapshot& snap, std::span<const std::shared_ptr<const WriteOp>> ops,
                                         std::size_t* was_live = nullptr);

enum class Kind { kFlat, kMih };

struct Options {
  Kind kind = Kind::kMih;
  int chunks = 0;  // 0: chosen from the size at each build (MIH only)
  // MIH only: always ring tables ("MIHS"), whatever the size. Otherwise,
  // with chunks == 0, ring tables when the size is in [kRingMinN, kRingMaxN].
  bool ring = false;
  // Ring tables' block slots: 0 chooses RingBlockSlots(n); tests set 16 or 32.
  std::size_t ring_block_slots = 0;
  // Start a background compaction when the delta exceeds this many entries.
  std::size_t max_recent = 16384;
  // Tests only: called on the compacting thread after the new base is built
  // and before the writes made meanwhile are replayed onto it.
  std::function<void()> after_build_hook;
};

class SnapshotIndex final : public BinaryIndex {
 public:
  explicit SnapshotIndex(Options options);
  // Adopts a loaded base (LoadBinaryIndex).
  SnapshotIndex(Options options, std::shared_ptr<const Base> base);
  // Waits for a running background compaction to finish.
  ~SnapshotIndex() override;
  SnapshotIndex(const SnapshotIndex&) = delete;
  SnapshotIndex& operator=(const SnapshotIndex&) = delete;

  Status Add(std::span<const std::uint64_t> ids, std::span<const hash::PdqHash> hashes) override;
  Result<std::size_t> Remove(std::span<const std::uint64_t> ids) override;
  Status RangeSearch(const hash::PdqHash& query, int radius, std::vector<Neighbor>* out) const override;
  Result<RangeSearchResult> RangeSearchBatch(std::span<const hash::PdqHash> queries, int radius) const override;
  Status Knn(const hash::PdqHash& query, int k, std::vector<Neighbor>* out) const override;
  std::size_t size() const override;
  Status Compact() override;
  Status Save(const std::string& path) override;
  std::string Describe() const override;

  // Whether a compaction is running (tests), and how many compactions have
  // completed since construction.
  bool Compacting() const;
  std::size_t CompactionsDone() const;
  // The status of the last background compaction (Ok when none failed).
  Status LastBackgroundStatus() const;

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
  // Builds a base holding exactly the live hashes of `snap`.
  Result<std::shared_ptr<const Base>> BuildBase(const Snapshot& snap) const;
  // Requires write_mu_ (held by `lock`). Applies `op` to the current snapshot,
  // publishes the result, logs the op when a compaction is running, and starts
  // a background compaction when the delta has grown past the limit.
  void CommitLocked(std::shared_ptr<const WriteOp> op);
  // Compacts `from` (taken under write_mu_ when compacting_ was set) and
  // publishes the result with every write logged since replayed onto it.
  // `background`: on the compactor thread (records its status).
  Status RunCompaction(std::shared_ptr<const Snapshot> from, bool background);
  int ChunksFor(std::size_t n) const;
  // Whether a base of n hashes gets ring tables.
  bool UseRings(std::size_t n) const;

  const Options options_;
  // Serialises writers and guards the fields below it. Readers never take it;
  // a compaction holds it only to read the log and, at the end, to replay the
  // last few writes and publish.
  mutable std::mutex write_mu_;
  std::condition_variable compaction_done_;
  bool compacting_ = false;
  std::vector<std::shared_ptr<const WriteOp>> log_;  // writes since the compaction's snapshot
  std::thread compactor_;                            // the last background compaction
  std::size_t compactions_done_ = 0;
  std::size_t failed_delta_ = 0;  // delta size when a background compaction last failed
  Status background_status_;
  // Guards only the pointer copy/swap (nanoseconds), never a write's work,
  // so a search cannot wait for an Add, Remove or compaction. (Not
  // std::atomic<std::shared_ptr>: libstdc++ 12's load() unlocks with relaxed
  // order, which ThreadSanitizer rightly reports as a race with store().)
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by snapshot_mu_
};

// Writes base to path (docs/formats/index.md).
Status WriteIndexFile(const Base& base, const Options& options, const std::string& path);

}  // namespace takeback::index::internal
