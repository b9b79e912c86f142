#include "index/snapshot_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <queue>
#include <span>
#include <system_error>
#include <thread>
#include <utility>

#include <immintrin.h>

#include "index/hamming.h"

namespace takeback::index::internal {
namespace {

using hash::PdqHash;

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kHugePageMinBytes = std::size_t{4} << 20;
// Positions are 32-bit.
constexpr std::size_t kMaxStored = 0xffffffffU;
// Scan block: positions and distances of one block fit in L1.
constexpr std::size_t kScanBlock = 2048;

class HeapRegion final : public Region {
 public:
  HeapRegion(void* data) : data_(data) {}
  ~HeapRegion() override { std::free(data_); }
  HeapRegion(const HeapRegion&) = delete;
  HeapRegion& operator=(const HeapRegion&) = delete;

 private:
  void* data_;
};

// A private anonymous mapping of its own: fresh pages, first touched after
// the huge-page advice. (Memory from malloc may be pages of an earlier,
// already-touched allocation: 4 KiB pages that the advice no longer changes.
// In a server that had freed the start-up vectors, 80% of the tables ended up
// on 4 KiB pages, and each random probe then also missed the TLB.)
class AnonymousRegion final : public Region {
 public:
  AnonymousRegion(void* addr, std::size_t bytes) : addr_(addr), bytes_(bytes) {}
  ~AnonymousRegion() override { ::munmap(addr_, bytes_); }
  AnonymousRegion(const AnonymousRegion&) = delete;
  AnonymousRegion& operator=(const AnonymousRegion&) = delete;

 private:
  void* addr_;
  std::size_t bytes_;
};

template <typename T>
T* Allocate(std::size_t count, Base* base) {
  void* data = nullptr;
  std::shared_ptr<Region> region = AllocateRegion(std::max<std::size_t>(count, 1) * sizeof(T), &data);
  if (region == nullptr) return nullptr;
  base->regions.push_back(std::move(region));
  return static_cast<T*>(data);
}

bool ById(const Neighbor& a, const Neighbor& b) {
  return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
}

// Number of bit patterns within distance t of a b-bit value.
double Ball(int bits, int t) {
  double total = 0;
  double term = 1;
  for (int j = 0; j <= t && j <= bits; ++j) {
    total += term;
    term = term * (bits - j) / (j + 1);
  }
  return total;
}

// Calls f(v) for every b-bit value within distance t of v, each once.
template <typename F>
void ForEachNeighbour(std::uint32_t v, int first_bit, int bits, int t, F& f) {
  f(v);
  if (t == 0) return;
  for (int i = first_bit; i < bits; ++i) ForEachNeighbour(v ^ (std::uint32_t{1} << i), i + 1, bits, t - 1, f);
}

// Probes never enumerate more than this many masks per chunk (PlanProbes
// scans instead).
constexpr double kMaxBallMasks = 1 << 22;
constexpr int kMaxMaskBits = 24;

// The XOR masks of `bits` bits with weight <= t, by increasing weight;
// computed once per (bits, t) and kept. Precondition: bits <= 24 and
// Ball(bits, t) <= kMaxBallMasks.
std::span<const std::uint32_t> BallMasks(int bits, int t) {
  t = std::min(t, bits);
  struct Slot {
    std::once_flag once;
    std::vector<std::uint32_t> masks;
  };
  static std::array<std::array<Slot, kMaxMaskBits + 1>, kMaxMaskBits + 1> slots;
  Slot& slot = slots[static_cast<std::size_t>(bits)][static_cast<std::size_t>(t)];
  std::call_once(slot.once, [&slot, bits, t] {
    auto visit = [&slot](std::uint32_t v) { slot.masks.push_back(v); };
    ForEachNeighbour(0, 0, bits, t, visit);
    std::stable_sort(slot.masks.begin(), slot.masks.end(),
                     [](std::uint32_t a, std::uint32_t b) { return std::popcount(a) < std::popcount(b); });
  });
  return slot.masks;
}

bool IsRemoved(const Snapshot& snap, std::uint32_t pos) {
  return !snap.removed.empty() && std::binary_search(snap.removed.begin(), snap.removed.end(), pos);
}

void ScanRecent(const Snapshot& snap, const PdqHash& query, int radius, std::vector<Neighbor>* out) {
  const std::size_t n = snap.recent_hashes.size();
  if (n == 0) return;
  thread_local std::vector<std::uint32_t> pos;
  thread_local std::vector<std::uint16_t> dist;
  pos.resize(kScanBlock);
  dist.resize(kScanBlock);
  const Kernels& kernels = BestKernels();
  for (std::size_t start = 0; start < n; start += kScanBlock) {
    const std::size_t len = std::min(kScanBlock, n - start);
    const std::size_t hits = kernels.scan(snap.recent_hashes.data() + start, len, query, radius,
                                          static_cast<std::uint32_t>(start), pos.data(), dist.data());
    for (std::size_t i = 0; i < hits; ++i) out->push_back({snap.recent_ids[pos[i]], dist[i]});
  }
}

}  // namespace

std::shared_ptr<Region> AllocateRegion(std::size_t bytes, void** data) {
  // Small arrays stay on ordinary pages: a huge page is zeroed whole on first touch.
  if (bytes < kHugePageMinBytes) {
    const std::size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (p == nullptr) return nullptr;
    *data = p;
    return std::make_shared<HeapRegion>(p);
  }
  // Map one huge page more than needed and unmap the unaligned head and tail.
  const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* raw = ::mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::size_t tail = start + rounded + kHugePage - (aligned + rounded);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + rounded), tail);
  void* p = reinterpret_cast<void*>(aligned);
  ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only; failure is harmless
  *data = p;
  return std::make_shared<AnonymousRegion>(p, rounded);
}

std::vector<ChunkTable> ChunkLayout(int chunks) {
  std::vector<ChunkTable> tables(static_cast<std::size_t>(chunks));
  const int base_bits = 256 / chunks;
  const int longer = 256 % chunks;
  int start = 0;
  for (int c = 0; c < chunks; ++c) {
    tables[static_cast<std::size_t>(c)].start_bit = start;
    tables[static_cast<std::size_t>(c)].bits = base_bits + (c < longer ? 1 : 0);
    start += tables[static_cast<std::size_t>(c)].bits;
  }
  return tables;
}

void PlanProbes(Base* base) {
  base->probe_radii.assign(kMaxRadius + 1, {});
  if (base->tables.empty()) return;
  const std::size_t m = base->tables.size();
  const double n = static_cast<double>(base->n);
  // Relative costs: a bucket line read and a candidate verification (random
  // cache lines, about 20 ns each here), and a scanned hash (sequential, 32
  // bytes at ~13 GB/s). The probes of one chunk touch Ball(bits - group_bits, t)
  // distinct lines: those whose group differs from the query's in <= t bits.
  constexpr double kLineCost = 8.0;
  constexpr double kCandidateCost = 8.0;
  constexpr double kScanCost = 1.0;
  // Ring tables: a probe is a bucket (its offsets and key line, about two
  // random lines), a candidate a 2-byte key compared 16 at a time, and a
  // survivor of the ring filter two random lines (its position and hash).
  // The share that survives is taken with the next chunk probed at the same
  // radius (the plans come out near-uniform: the chunks are alike).
  constexpr double kBucketCost = 16.0;
  constexpr double kKeyCost = 0.25;
  constexpr double kSurvivorCost = 16.0;
  const bool ring = !base->rings.empty();
  auto cost = [&](std::size_t c, int t) {
    if (t < 0) return 0.0;
    const ChunkTable& table = base->tables[c];
    if (ring) {
      const double buckets = std::ldexp(1.0, table.bits);
      const double entries = n / buckets;
      double total = 0;
      for (int w = 0; w <= t && w <= table.bits; ++w) {
        const double at_w = Ball(table.bits, w) - (w == 0 ? 0.0 : Ball(table.bits, w - 1));
        const double survive = Ball(table.bits, 2 * t + 1 - w) / buckets;
        total += at_w * (kBucketCost + entries * (kKeyCost + kSurvivorCost * survive));
      }
      return total;
    }
    if (Ball(table.bits - table.group_bits, t) > kMaxBallMasks) return std::numeric_limits<double>::infinity();
    return kLineCost * Ball(table.bits - table.group_bits, t) +
           kCandidateCost * Ball(table.bits, t) * n / std::ldexp(1.0, table.bits);
  };
  for (int r = 0; r <= kMaxRadius; ++r) {
    // Generalised pigeonhole: if sum_c (t_c + 1) >= r + 1, a hash within r
    // has some chunk c within t_c. Raise the cheapest chunk each step.
    std::vector<int> t(m, -1);
    double total = 0;
    for (int step = 0; step < r + 1; ++step) {
      std::size_t best = 0;
      double best_delta = 0;
      for (std::size_t c = 0; c < m; ++c) {
        if (t[c] >= base->tables[c].bits) continue;
        const double delta = cost(c, t[c] + 1) - cost(c, t[c]);
        if (c == 0 || delta < best_delta || t[best] >= base->tables[best].bits) {
          best = c;
          best_delta = delta;
        }
      }
      ++t[best];
      total += best_delta;
    }
    if (total < kScanCost * n) base->probe_radii[static_cast<std::size_t>(r)] = std::move(t);
  }
}

int GroupBitsFor(int bits, std::size_t n) {
  int g = 0;
  while (g < kMaxGroupBits && g < bits &&
         static_cast<double>(n) * std::ldexp(1.0, g + 1) <= 10.0 * std::ldexp(1.0, bits)) {
    ++g;
  }
  return g;
}

namespace {

// Allocate() is not thread-safe (it appends to base->regions): table
// builders call it under this lock.
std::mutex& AllocateMutex() {
  static std::mutex mu;
  return mu;
}

// Runs build_one(c) for c in [0, m) on up to `threads` threads; the first error.
Status ForEachTable(std::size_t m, int threads, const std::function<Status(std::size_t)>& build_one) {
  const std::size_t workers = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), 1, m);
  std::vector<std::thread> pool;
  std::atomic<std::size_t> next{0};
  std::vector<Status> results(m, Status::Ok());
  auto work = [&] {
    for (std::size_t c = next.fetch_add(1); c < m; c = next.fetch_add(1)) results[c] = build_one(c);
  };
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  for (const Status& s : results) TAKEBACK_RETURN_IF_ERROR(s);
  return Status::Ok();
}

}  // namespace

void FillRingBlocks(const std::uint32_t* offsets, const std::uint16_t* keys, std::size_t slots, std::uint16_t* blocks) {
  const std::size_t inline_keys = slots - kRingHeaderSlots;
  for (std::size_t b = 0; b < kRingBuckets; ++b) {
    std::uint16_t* block = blocks + b * slots;
    const std::uint32_t first = offsets[b];
    const std::uint32_t count = offsets[b + 1] - first;
    const std::size_t copied = std::min<std::size_t>(count, inline_keys);
    std::memcpy(block, keys + first, copied * sizeof(std::uint16_t));
    std::fill(block + copied, block + inline_keys, std::uint16_t{0});
    block[slots - 4] = static_cast<std::uint16_t>(first);
    block[slots - 3] = static_cast<std::uint16_t>(first >> 16);
    block[slots - 2] = static_cast<std::uint16_t>(count);
    block[slots - 1] = static_cast<std::uint16_t>(count >> 16);
  }
}

Status BuildRingTables(Base* base, std::size_t slots, int threads) {
  base->tables = ChunkLayout(kRingChunks);
  base->rings.assign(kRingChunks, RingTable{});
  const std::size_t n = base->n;
  base->ring_block_slots = slots;
  // The blocks of all tables in one array (32 or 64 MiB, on huge pages).
  auto* all_blocks = Allocate<std::uint16_t>(kRingChunks * kRingBuckets * slots, base);
  if (all_blocks == nullptr) return Internal("out of memory building the index ring tables");
  // Chunk c: a counting sort of the positions by the chunk's value (within a
  // bucket they come out ascending), each stored with its next key; then
  // the blocks.
  auto build_one = [base, n, slots, all_blocks](std::size_t c) -> Status {
    const int chunk = static_cast<int>(c);
    std::uint16_t* keys = nullptr;
    std::uint32_t* positions = nullptr;
    {
      std::lock_guard<std::mutex> lock(AllocateMutex());
      keys = Allocate<std::uint16_t>(n, base);
      positions = Allocate<std::uint32_t>(n, base);
    }
    if (keys == nullptr || positions == nullptr) return Internal("out of memory building the index ring tables");
    std::vector<std::uint32_t> offsets(kRingBuckets + 1, 0);
    for (std::size_t i = 0; i < n; ++i) ++offsets[Word16(base->hashes[i], chunk) + 1];
    for (std::size_t b = 0; b < kRingBuckets; ++b) offsets[b + 1] += offsets[b];
    std::vector<std::uint32_t> cursor(offsets.begin(), offsets.end() - 1);
    const int next = NextChunk(chunk);
    for (std::size_t i = 0; i < n; ++i) {
      const PdqHash& h = base->hashes[i];
      const std::uint32_t at = cursor[Word16(h, chunk)]++;
      keys[at] = static_cast<std::uint16_t>(Word16(h, next));
      positions[at] = static_cast<std::uint32_t>(i);
    }
    std::uint16_t* blocks = all_blocks + c * kRingBuckets * slots;
    FillRingBlocks(offsets.data(), keys, slots, blocks);
    base->rings[c].blocks = blocks;
    base->rings[c].keys = keys;
    base->rings[c].positions = positions;
    return Status::Ok();
  };
  TAKEBACK_RETURN_IF_ERROR(ForEachTable(kRingChunks, threads, build_one));
  PlanProbes(base);
  return Status::Ok();
}

Status BuildTables(Base* base, int chunks, int threads) {
  base->tables = ChunkLayout(chunks);
  const std::size_t n = base->n;
  // Builds chunk c: a counting sort of the positions by chunk value (within a
  // bucket they come out ascending), then packed into lines.
  auto build_one = [base, n](std::size_t c) -> Status {
    ChunkTable& table = base->tables[c];
    table.group_bits = GroupBitsFor(table.bits, n);
    const std::size_t buckets = std::size_t{1} << table.bits;
    const std::size_t group = std::size_t{1} << table.group_bits;
    const std::size_t groups = buckets >> table.group_bits;
    std::vector<std::uint32_t> offsets(buckets + 1, 0);
    std::vector<std::uint32_t> keys(n);
    for (std::size_t i = 0; i < n; ++i) {
      keys[i] = ExtractChunk(base->hashes[i], table.start_bit, table.bits);
      ++offsets[keys[i] + 1];
    }
    for (std::size_t b = 0; b < buckets; ++b) offsets[b + 1] += offsets[b];
    std::vector<std::uint32_t> sorted(n);
    {
      std::vector<std::uint32_t> cursor(offsets.begin(), offsets.end() - 1);
      for (std::size_t i = 0; i < n; ++i) sorted[cursor[keys[i]]++] = static_cast<std::uint32_t>(i);
    }
    std::vector<std::uint32_t>().swap(keys);
    std::uint64_t overflow_words = 0;
    for (std::size_t g = 0; g < groups; ++g) {
      const std::uint32_t total = offsets[(g + 1) * group] - offsets[g * group];
      if (total > kLineCapacity) overflow_words += group + total;
    }
    if (overflow_words > 0xffffffffULL) return TooLarge("index tables: too many hashes share chunk values");
    // Allocate() is not thread-safe (it appends to base->regions): do it under a lock.
    std::uint32_t* lines = nullptr;
    std::uint32_t* overflow = nullptr;
    {
      std::lock_guard<std::mutex> lock(AllocateMutex());
      lines = Allocate<std::uint32_t>(groups * kLineWords, base);
      overflow = Allocate<std::uint32_t>(static_cast<std::size_t>(overflow_words), base);
    }
    if (lines == nullptr || overflow == nullptr) return Internal("out of memory building the index tables");
    std::size_t next_overflow = 0;
    for (std::size_t g = 0; g < groups; ++g) {
      std::uint32_t* line = lines + g * kLineWords;
      std::memset(line, 0, kLineWords * sizeof(std::uint32_t));
      const std::uint32_t first = offsets[g * group];
      const std::uint32_t total = offsets[(g + 1) * group] - first;
      if (total <= kLineCapacity) {
        std::uint64_t header = 0;
        for (std::size_t j = 0; j < group; ++j) header |= std::uint64_t{offsets[g * group + j + 1] - first} << (4 * j);
        line[0] = static_cast<std::uint32_t>(header);
        line[1] = static_cast<std::uint32_t>(header >> 32);
        std::memcpy(line + kLineHeaderWords, sorted.data() + first, total * sizeof(std::uint32_t));
      } else {
        const std::uint64_t header = std::uint64_t{kOverflowMark} << (4 * (group - 1));
        line[0] = static_cast<std::uint32_t>(header);
        line[1] = static_cast<std::uint32_t>(header >> 32);
        line[kLineHeaderWords] = static_cast<std::uint32_t>(next_overflow);
        std::uint32_t* record = overflow + next_overflow;
        for (std::size_t j = 0; j < group; ++j) record[j] = offsets[g * group + j + 1] - first;
        std::memcpy(record + group, sorted.data() + first, total * sizeof(std::uint32_t));
        next_overflow += group + total;
      }
    }
    table.lines = lines;
    table.overflow = overflow;
    table.overflow_words = static_cast<std::size_t>(overflow_words);
    return Status::Ok();
  };
  TAKEBACK_RETURN_IF_ERROR(ForEachTable(base->tables.size(), threads, build_one));
  PlanProbes(base);
  return Status::Ok();
}

// ---- SnapshotIndex ----------------------------------------------------------

std::shared_ptr<const Snapshot> ApplyOps(const Snapshot& snap, std::span<const std::shared_ptr<const WriteOp>> ops,
                                         std::size_t* was_live) {
  // The final state of every touched id, ascending: present (with its hash)
  // when its last op added it. One op (every write) is already in that form.
  std::span<const std::uint64_t> final_ids;
  std::span<const PdqHash> final_hashes;  // parallel to final_ids where present
  std::vector<bool> final_present;        // empty: all as ops[0]->add says
  std::vector<std::uint64_t> merged_ids;
  std::vector<PdqHash> merged_hashes;
  const bool single = ops.size() == 1;
  if (single) {
    final_ids = ops[0]->ids;
    final_hashes = ops[0]->hashes;
  } else {
    struct Touch {
      std::uint64_t id;
      std::size_t order;  // among all touches, for "last op wins"
      bool present;
      PdqHash hash;
    };
    std::vector<Touch> touches;
    for (const auto& op : ops) {
      for (std::size_t i = 0; i < op->ids.size(); ++i) {
        touches.push_back({op->ids[i], touches.size(), op->add, op->add ? op->hashes[i] : PdqHash{}});
      }
    }
    std::sort(touches.begin(), touches.end(),
              [](const Touch& x, const Touch& y) { return x.id != y.id ? x.id < y.id : x.order > y.order; });
    for (std::size_t i = 0; i < touches.size(); ++i) {
      if (i > 0 && touches[i].id == touches[i - 1].id) continue;
      merged_ids.push_back(touches[i].id);
      merged_hashes.push_back(touches[i].hash);
      final_present.push_back(touches[i].present);
    }
    final_ids = merged_ids;
    final_hashes = merged_hashes;
  }
  auto present = [&](std::size_t f) { return single ? ops[0]->add : static_cast<bool>(final_present[f]); };

  const Base& base = *snap.base;
  auto next = std::make_shared<Snapshot>();
  next->base = snap.base;
  // Base positions of touched ids that are live there now become removed.
  std::vector<std::uint32_t> newly_removed;
  std::size_t live_touched = 0;
  for (const std::uint64_t id : final_ids) {
    if (base.n == 0) break;
    const std::uint64_t* it = std::lower_bound(base.ids, base.ids + base.n, id);
    if (it != base.ids + base.n && *it == id) {
      const auto pos = static_cast<std::uint32_t>(it - base.ids);
      if (!IsRemoved(snap, pos)) {
        newly_removed.push_back(pos);
        ++live_touched;
      }
    }
  }
  next->removed.resize(snap.removed.size() + newly_removed.size());
  std::merge(snap.removed.begin(), snap.removed.end(), newly_removed.begin(), newly_removed.end(),
             next->removed.begin());
  // Recent adds: the untouched ones, merged with the touched ids now present.
  const std::size_t reserve = snap.recent_ids.size() + final_ids.size();
  next->recent_ids.reserve(reserve);
  next->recent_hashes.reserve(reserve);
  std::size_t r = 0;
  std::size_t f = 0;
  while (r < snap.recent_ids.size() || f < final_ids.size()) {
    if (f == final_ids.size() || (r < snap.recent_ids.size() && snap.recent_ids[r] < final_ids[f])) {
      next->recent_ids.push_back(snap.recent_ids[r]);
      next->recent_hashes.push_back(snap.recent_hashes[r++]);
      continue;
    }
    if (r < snap.recent_ids.size() && snap.recent_ids[r] == final_ids[f]) {
      ++live_touched;  // replaced or dropped
      ++r;
    }
    if (present(f)) {
      next->recent_ids.push_back(final_ids[f]);
      next->recent_hashes.push_back(final_hashes[f]);
    }
    ++f;
  }
  next->live = base.n - next->removed.size() + next->recent_ids.size();
  if (was_live != nullptr) *was_live = live_touched;
  return next;
}

SnapshotIndex::SnapshotIndex(Options options) : options_(std::move(options)) {
  auto snap = std::make_shared<Snapshot>();
  auto base = std::make_shared<Base>();
  PlanProbes(base.get());
  snap->base = std::move(base);
  Publish(std::move(snap));
}

SnapshotIndex::SnapshotIndex(Options options, std::shared_ptr<const Base> base) : options_(std::move(options)) {
  auto snap = std::make_shared<Snapshot>();
  snap->live = base->n;
  snap->base = std::move(base);
  Publish(std::move(snap));
}

SnapshotIndex::~SnapshotIndex() {
  std::unique_lock<std::mutex> lock(write_mu_);
  compaction_done_.wait(lock, [this] { return !compacting_; });
  lock.unlock();
  if (compactor_.joinable()) compactor_.join();
}

bool SnapshotIndex::Compacting() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return compacting_;
}

std::size_t SnapshotIndex::CompactionsDone() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return compactions_done_;
}

Status SnapshotIndex::LastBackgroundStatus() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return background_status_;
}

bool SnapshotIndex::UseRings(std::size_t n) const {
  if (options_.kind == Kind::kFlat) return false;
  if (options_.ring) return true;
  // See kRingMaxN for the measurements behind the range.
  return options_.chunks == 0 && n >= kRingMinN && n <= kRingMaxN;
}

int SnapshotIndex::ChunksFor(std::size_t n) const {
  if (options_.kind == Kind::kFlat) return 0;
  if (options_.chunks != 0) return options_.chunks;
  // Chunks of at least log2(n) bits keep about one hash per bucket or fewer:
  // fewer candidates to verify (random reads) for more probes (cheap, they
  // are prefetched), and offsets cost at most ~2x the positions. Measured at
  // 10M: 11 chunks 1.7x faster than 12 (docs/BENCHMARKS.md). Below 2M the
  // hashes (32 bytes each) largely stay in the last-level cache, candidates
  // are cheaper and shorter chunks win: measured per CPU-second on 100-query
  // batches, 1M: 14 chunks 10% faster than 13 and 13 than 12 (12 was the
  // choice); 100k: 16 chunks 15% faster than 17 and 35% than 15; 2M: 12 = 13.
  const double log2n = std::log2(std::max<double>(static_cast<double>(n), 2.0));
  const int shorter = n < (std::size_t{1} << 18) ? 1 : n < (std::size_t{1} << 21) ? 2 : 0;
  const int bits = std::clamp(static_cast<int>(std::lround(log2n)) - shorter, 4, 24);
  return std::clamp(256 / bits, kMinChunks, kMaxChunks);
}

std::size_t SnapshotIndex::size() const { return Load()->live; }

std::string SnapshotIndex::Describe() const {
  if (options_.kind == Kind::kFlat) return "Flat";
  const auto snap = Load();
  std::string name = options_.ring ? "MIHS" : options_.chunks == 0 ? "MIH" : "MIH" + std::to_string(options_.chunks);
  return name + "(chunks=" + std::to_string(snap->base->tables.size()) + (snap->base->rings.empty() ? "" : ", ring") +
         ")";
}

Status SnapshotIndex::Add(std::span<const std::uint64_t> ids, std::span<const PdqHash> hashes) {
  if (ids.size() != hashes.size()) return InvalidArgument("Add: ids and hashes differ in length");
  if (ids.empty()) return Status::Ok();
  auto op = std::make_shared<WriteOp>();
  op->add = true;
  {
    std::vector<std::pair<std::uint64_t, PdqHash>> batch(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) batch[i] = {ids[i], hashes[i]};
    std::sort(batch.begin(), batch.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    op->ids.resize(batch.size());
    op->hashes.resize(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (i > 0 && batch[i - 1].first == batch[i].first) {
        return InvalidArgument("Add: id " + std::to_string(batch[i].first) + " given twice");
      }
      op->ids[i] = batch[i].first;
      op->hashes[i] = batch[i].second;
    }
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  const auto snap = Load();
  if (snap->live + ids.size() > kMaxStored) return TooLarge("Add: an index holds at most 2^32 - 1 hashes");
  const Base& base = *snap->base;
  for (const std::uint64_t id : op->ids) {
    const std::uint64_t* it = std::lower_bound(base.ids, base.ids + base.n, id);
    if ((it != base.ids + base.n && *it == id && !IsRemoved(*snap, static_cast<std::uint32_t>(it - base.ids))) ||
        std::binary_search(snap->recent_ids.begin(), snap->recent_ids.end(), id)) {
      return InvalidArgument("Add: id " + std::to_string(id) + " is already stored");
    }
  }
  CommitLocked(std::move(op));
  return Status::Ok();
}

Result<std::size_t> SnapshotIndex::Remove(std::span<const std::uint64_t> ids) {
  auto op = std::make_shared<WriteOp>();
  op->ids.assign(ids.begin(), ids.end());
  std::sort(op->ids.begin(), op->ids.end());
  op->ids.erase(std::unique(op->ids.begin(), op->ids.end()), op->ids.end());
  std::lock_guard<std::mutex> lock(write_mu_);
  const auto snap = Load();
  const Base& base = *snap->base;
  // Only ids that are stored make a write (and a log entry).
  std::vector<std::uint64_t> stored;
  for (const std::uint64_t id : op->ids) {
    const std::uint64_t* it = std::lower_bound(base.ids, base.ids + base.n, id);
    if ((it != base.ids + base.n && *it == id && !IsRemoved(*snap, static_cast<std::uint32_t>(it - base.ids))) ||
        std::binary_search(snap->recent_ids.begin(), snap->recent_ids.end(), id)) {
      stored.push_back(id);
    }
  }
  if (stored.empty()) return std::size_t{0};
  op->ids = std::move(stored);
  const std::size_t removed = op->ids.size();
  CommitLocked(std::move(op));
  return removed;
}

void SnapshotIndex::CommitLocked(std::shared_ptr<const WriteOp> op) {
  const auto snap = Load();
  std::shared_ptr<const Snapshot> next = ApplyOps(*snap, std::span(&op, 1));
  const std::size_t delta = next->delta();
  Publish(next);
  if (compacting_) {
    log_.push_back(std::move(op));
    return;
  }
  if (delta <= std::max(options_.max_recent, 2 * failed_delta_)) return;
  // Start a background compaction of the snapshot just published. The last
  // one has finished (compacting_ is false), so joining it does not wait.
  compacting_ = true;
  log_.clear();
  if (compactor_.joinable()) compactor_.join();
  try {
    compactor_ = std::thread([this, from = std::move(next)]() mutable { (void)RunCompaction(std::move(from), true); });
  } catch (const std::system_error& e) {
    // No thread to be had: the write stands; a later one tries again.
    compacting_ = false;
    background_status_ = Internal(std::string("cannot start a compaction thread: ") + e.what());
  }
}

Status SnapshotIndex::Compact() {
  std::shared_ptr<const Snapshot> from;
  {
    std::unique_lock<std::mutex> lock(write_mu_);
    compaction_done_.wait(lock, [this] { return !compacting_; });
    from = Load();
    if (from->delta() == 0) return Status::Ok();
    compacting_ = true;
    log_.clear();
  }
  return RunCompaction(std::move(from), false);
}

Status SnapshotIndex::RunCompaction(std::shared_ptr<const Snapshot> from, bool background) {
  const std::size_t from_delta = from->delta();
  // Requires write_mu_. Everything the compaction reports is set here, under
  // the lock, because a writer may join this thread as soon as compacting_
  // is false.
  auto finish = [this, background, from_delta](const std::shared_ptr<const Snapshot>& publish, const Status& status) {
    if (publish != nullptr) {
      Publish(publish);
      ++compactions_done_;
    }
    if (background) {
      background_status_ = status;
      failed_delta_ = status.ok() ? 0 : from_delta;
    }
    compacting_ = false;
    log_.clear();
    compaction_done_.notify_all();
  };
  Result<std::shared_ptr<const Base>> built = BuildBase(*from);
  from.reset();  // the old base can go as soon as no snapshot holds it
  if (!built.ok()) {
    std::lock_guard<std::mutex> lock(write_mu_);
    finish(nullptr, built.status());
    return built.status();
  }
  if (options_.after_build_hook) options_.after_build_hook();
  auto next = std::make_shared<Snapshot>();
  next->live = (*built)->n;
  next->base = std::move(built).value();
  std::shared_ptr<const Snapshot> result = next;
  // Replay the writes logged meanwhile: in rounds with no lock held while
  // many are waiting, then the last few under the lock so none is missed.
  constexpr std::size_t kReplayUnderLock = 64;
  constexpr int kMaxUnlockedRounds = 8;
  std::size_t replayed = 0;
  for (int round = 0;; ++round) {
    std::vector<std::shared_ptr<const WriteOp>> pending;
    pending.reserve(kReplayUnderLock);
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      if (log_.size() - replayed <= kReplayUnderLock || round == kMaxUnlockedRounds) {
        if (log_.size() > replayed) {
          result = ApplyOps(*result, std::span(log_).subspan(replayed));
        }
        finish(result, Status::Ok());
        return Status::Ok();
      }
      for (; replayed < log_.size(); ++replayed) pending.push_back(log_[replayed]);
    }
    result = ApplyOps(*result, pending);
  }
}

Result<std::shared_ptr<const Base>> SnapshotIndex::BuildBase(const Snapshot& snap) const {
  const Base& old = *snap.base;
  auto base = std::make_shared<Base>();
  base->n = snap.live;
  auto* hashes = Allocate<PdqHash>(base->n, base.get());
  auto* ids = Allocate<std::uint64_t>(base->n, base.get());
  if (hashes == nullptr || ids == nullptr) return Internal("out of memory compacting the index");
  // Merge the live base (ascending ids) with the recent adds (ascending ids).
  std::size_t out = 0;
  std::size_t r = 0;
  std::size_t removed_cursor = 0;
  for (std::size_t i = 0; i < old.n; ++i) {
    if (removed_cursor < snap.removed.size() && snap.removed[removed_cursor] == i) {
      ++removed_cursor;
      continue;
    }
    while (r < snap.recent_ids.size() && snap.recent_ids[r] < old.ids[i]) {
      ids[out] = snap.recent_ids[r];
      hashes[out++] = snap.recent_hashes[r++];
    }
    ids[out] = old.ids[i];
    hashes[out++] = old.hashes[i];
  }
  for (; r < snap.recent_ids.size(); ++r) {
    ids[out] = snap.recent_ids[r];
    hashes[out++] = snap.recent_hashes[r];
  }
  if (out != base->n) {
    return Internal("compaction counted " + std::to_string(out) + " live hashes, expected " + std::to_string(base->n));
  }
  base->hashes = hashes;
  base->ids = ids;
  const int chunks = ChunksFor(base->n);
  // Threads pay off only for big tables.
  constexpr std::size_t kParallelBuildMin = 1 << 16;
  const int threads =
      base->n < kParallelBuildMin ? 1 : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  if (UseRings(base->n)) {
    const std::size_t slots = options_.ring_block_slots != 0 ? options_.ring_block_slots : RingBlockSlots(base->n);
    TAKEBACK_RETURN_IF_ERROR(BuildRingTables(base.get(), slots, threads));
  } else if (chunks > 0) {
    TAKEBACK_RETURN_IF_ERROR(BuildTables(base.get(), chunks, threads));
  } else {
    PlanProbes(base.get());
  }
  return std::shared_ptr<const Base>(std::move(base));
}

Status SnapshotIndex::Save(const std::string& path) {
  TAKEBACK_RETURN_IF_ERROR(Compact());
  const auto snap = Load();
  if (snap->delta() == 0) return WriteIndexFile(*snap->base, options_, path);
  // Writes arrived after the compaction: save a base with them folded in.
  Result<std::shared_ptr<const Base>> base = BuildBase(*snap);
  if (!base.ok()) return base.status();
  return WriteIndexFile(**base, options_, path);
}

// ---- searching --------------------------------------------------------------

void SnapshotIndex::ScanBase(const Snapshot& snap, const PdqHash& query, int radius, std::vector<Neighbor>* out) const {
  const Base& base = *snap.base;
  thread_local std::vector<std::uint32_t> pos;
  thread_local std::vector<std::uint16_t> dist;
  pos.resize(kScanBlock);
  dist.resize(kScanBlock);
  const Kernels& kernels = BestKernels();
  for (std::size_t start = 0; start < base.n; start += kScanBlock) {
    const std::size_t len = std::min(kScanBlock, base.n - start);
    const std::size_t hits = kernels.scan(base.hashes + start, len, query, radius, static_cast<std::uint32_t>(start),
                                          pos.data(), dist.data());
    for (std::size_t i = 0; i < hits; ++i) {
      if (!IsRemoved(snap, pos[i])) out->push_back({base.ids[pos[i]], dist[i]});
    }
  }
}

namespace {

// Distance of two hashes with the POPCNT instruction when the caller is
// compiled for it (ProbeImpl is inlined into per-ISA wrappers).
[[gnu::always_inline]] inline int Distance(const PdqHash& a, const PdqHash& b) {
  return __builtin_popcountll(a.words[0] ^ b.words[0]) + __builtin_popcountll(a.words[1] ^ b.words[1]) +
         __builtin_popcountll(a.words[2] ^ b.words[2]) + __builtin_popcountll(a.words[3] ^ b.words[3]);
}

// How many lines ahead of its use a bucket line is prefetched, and how many
// candidates ahead of its verification a candidate hash is prefetched: each
// keeps about this many cache misses in flight.
constexpr std::size_t kLineLag = 32;
constexpr std::size_t kCandidateLag = 32;
constexpr std::size_t kRing = 64;  // > kCandidateLag, a power of two
static_assert((kRing & (kRing - 1)) == 0 && kRing > kCandidateLag);

// XOR masks of g <= kMaxGroupBits bits ordered by weight, and how many have
// weight <= w.
struct LowMasks {
  std::array<std::uint8_t, 16> masks{};
  std::array<std::uint8_t, kMaxGroupBits + 1> up_to{};
};
constexpr std::array<LowMasks, kMaxGroupBits + 1> MakeLowMasks() {
  std::array<LowMasks, kMaxGroupBits + 1> all{};
  for (int g = 0; g <= kMaxGroupBits; ++g) {
    std::size_t k = 0;
    for (int w = 0; w <= g; ++w) {
      for (int v = 0; v < (1 << g); ++v) {
        if (std::popcount(static_cast<unsigned>(v)) == w) all[g].masks[k++] = static_cast<std::uint8_t>(v);
      }
      all[g].up_to[w] = static_cast<std::uint8_t>(k);
    }
    for (int w = g + 1; w <= kMaxGroupBits; ++w) all[g].up_to[w] = static_cast<std::uint8_t>(k);
  }
  return all;
}
constexpr std::array<LowMasks, kMaxGroupBits + 1> kLowMasks = MakeLowMasks();

// One bucket line to read: chunk, the weight left for the low (in-line) bits,
// and the line index.
struct LineJob {
  std::uint32_t line;
  std::uint16_t chunk;
  std::uint16_t low_weight;
};

// The state of one query's probe.
struct Probe {
  const Snapshot& snap;
  const Base& base;
  const PdqHash& query;
  int radius;
  const std::vector<int>& probe_radii;
  std::vector<Neighbor>* out;
  std::array<std::uint32_t, kMaxChunks> query_keys{};
  std::array<std::uint64_t, kRing> ring{};  // candidates: position << 8 | chunk
  std::size_t ring_in = 0;
  std::size_t ring_out = 0;
};

[[gnu::always_inline]] inline void Verify(Probe& p, std::uint64_t candidate) {
  const auto pos = static_cast<std::uint32_t>(candidate >> 8);
  const PdqHash& h = p.base.hashes[pos];
  const int d = Distance(h, p.query);
  if (d > p.radius) return;
  // Report a hash only from the first chunk that can produce it.
  const std::size_t via = candidate & 0xff;
  for (std::size_t c = 0; c < via; ++c) {
    if (p.probe_radii[c] < 0) continue;
    const ChunkTable& table = p.base.tables[c];
    if (__builtin_popcount(ExtractChunk(h, table.start_bit, table.bits) ^ p.query_keys[c]) <= p.probe_radii[c]) return;
  }
  if (!IsRemoved(p.snap, pos)) p.out->push_back({p.base.ids[pos], d});
}

// Queues the positions [first, first + count) of chunk c for verification.
[[gnu::always_inline]] inline void Candidates(Probe& p, const std::uint32_t* first, std::uint32_t count,
                                              std::uint32_t c) {
  for (std::uint32_t k = 0; k < count; ++k) {
    __builtin_prefetch(p.base.hashes + first[k]);
    p.ring[p.ring_in++ % kRing] = (std::uint64_t{first[k]} << 8) | c;
    if (p.ring_in - p.ring_out > kCandidateLag) Verify(p, p.ring[p.ring_out++ % kRing]);
  }
}

// The buckets of one line that lie within the job's weight of the query.
// Returns false when the line's group overflowed (the caller defers it).
[[gnu::always_inline]] inline bool ReadLine(Probe& p, const LineJob& job) {
  const ChunkTable& table = p.base.tables[job.chunk];
  const std::uint32_t* line = table.lines + static_cast<std::size_t>(job.line) * kLineWords;
  const std::uint64_t header = line[0] | (std::uint64_t{line[1]} << 32);
  const int g = table.group_bits;
  const std::uint32_t group = 1U << g;
  if (((header >> (4 * (group - 1))) & 15) == kOverflowMark) {
    __builtin_prefetch(table.overflow + line[kLineHeaderWords]);
    return false;
  }
  const std::uint32_t low = p.query_keys[job.chunk] & (group - 1);
  const LowMasks& masks = kLowMasks[static_cast<std::size_t>(g)];
  const std::size_t count = masks.up_to[std::min<std::size_t>(job.low_weight, kMaxGroupBits)];
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t j = low ^ masks.masks[i];
    const auto start = j == 0 ? 0U : static_cast<std::uint32_t>(header >> (4 * (j - 1))) & 15;
    const auto end = static_cast<std::uint32_t>(header >> (4 * j)) & 15;
    Candidates(p, line + kLineHeaderWords + start, end - start, job.chunk);
  }
  return true;
}

// An overflowed group's buckets (its record was prefetched by ReadLine).
[[gnu::always_inline]] inline void ReadOverflow(Probe& p, const LineJob& job) {
  const ChunkTable& table = p.base.tables[job.chunk];
  const int g = table.group_bits;
  const std::uint32_t group = 1U << g;
  const std::uint32_t* record =
      table.overflow + table.lines[static_cast<std::size_t>(job.line) * kLineWords + kLineHeaderWords];
  const std::uint32_t low = p.query_keys[job.chunk] & (group - 1);
  const LowMasks& masks = kLowMasks[static_cast<std::size_t>(g)];
  const std::size_t count = masks.up_to[std::min<std::size_t>(job.low_weight, kMaxGroupBits)];
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t j = low ^ masks.masks[i];
    const std::uint32_t start = j == 0 ? 0 : record[j - 1];
    Candidates(p, record + group + start, record[j] - start, job.chunk);
  }
}

// The multi-index-hashing probe of one query. For each probed chunk c with
// probe radius t, the buckets within t of the query's chunk value are read
// line by line: a line whose index differs from the query's line in w bits
// holds the buckets whose in-line bits differ in <= t - w. The work is a
// software pipeline so that cache misses overlap: a line is prefetched
// kLineLag lines before it is read, a candidate's hash kCandidateLag
// candidates before it is verified, and an overflow record (a line's second
// miss) is read after all the lines.
[[gnu::always_inline]] inline void ProbeImpl(const Snapshot& snap, const PdqHash& query, int radius,
                                             const std::vector<int>& probe_radii, std::vector<Neighbor>* out) {
  Probe p{snap, *snap.base, query, radius, probe_radii, out};
  const Base& base = p.base;
  thread_local std::vector<LineJob> jobs;
  thread_local std::vector<LineJob> deferred;
  jobs.clear();
  deferred.clear();
  for (std::size_t c = 0; c < base.tables.size(); ++c) {
    const ChunkTable& table = base.tables[c];
    p.query_keys[c] = ExtractChunk(query, table.start_bit, table.bits);
    const int t = probe_radii[c];
    if (t < 0) continue;
    const std::uint32_t query_line = p.query_keys[c] >> table.group_bits;
    const std::span<const std::uint32_t> masks = BallMasks(table.bits - table.group_bits, t);
    for (const std::uint32_t mask : masks) {
      jobs.push_back(
          {query_line ^ mask, static_cast<std::uint16_t>(c), static_cast<std::uint16_t>(t - std::popcount(mask))});
    }
  }
  const std::size_t num_jobs = jobs.size();
  for (std::size_t i = 0; i < std::min(num_jobs, kLineLag); ++i) {
    __builtin_prefetch(base.tables[jobs[i].chunk].lines + static_cast<std::size_t>(jobs[i].line) * kLineWords);
  }
  for (std::size_t i = 0; i < num_jobs; ++i) {
    if (i + kLineLag < num_jobs) {
      const LineJob& ahead = jobs[i + kLineLag];
      __builtin_prefetch(base.tables[ahead.chunk].lines + static_cast<std::size_t>(ahead.line) * kLineWords);
    }
    if (!ReadLine(p, jobs[i])) deferred.push_back(jobs[i]);
  }
  for (const LineJob& job : deferred) ReadOverflow(p, job);
  while (p.ring_out < p.ring_in) Verify(p, p.ring[p.ring_out++ % kRing]);
}

__attribute__((target("popcnt"))) void ProbePopcnt(const Snapshot& snap, const PdqHash& query, int radius,
                                                   const std::vector<int>& probe_radii, std::vector<Neighbor>* out) {
  ProbeImpl(snap, query, radius, probe_radii, out);
}

void ProbePortable(const Snapshot& snap, const PdqHash& query, int radius, const std::vector<int>& probe_radii,
                   std::vector<Neighbor>* out) {
  ProbeImpl(snap, query, radius, probe_radii, out);
}

// ---- ring tables ----

// One bucket to read: its query (index in the batch), chunk, the query's
// next key and the ring bound on the entries' distance to it and, once its
// block was read, its entries [first, first + count).
struct RingJob {
  std::uint32_t bucket;
  std::uint32_t first;
  std::uint32_t count;
  std::uint16_t query;
  std::uint16_t next;
  std::uint8_t chunk;
  std::uint8_t bound;
};

// An entry that passed the ring filter: its query and chunk, and its index
// in the chunk's table (replaced by its base position once read).
struct RingSurvivor {
  std::uint32_t at;
  std::uint16_t query;
  std::uint16_t chunk;
};

// Appends to `out` every entry of jobs [0, count) whose next key lies
// within the job's bound of the job's, job by job and in entry order, and
// prefetches its position; returns the new end. `out` must have room for
// all the jobs' entries. `slots`: the tables' block size; `n`: their length.
using RingFilterFn = RingSurvivor* (*)(const RingTable* tables, std::size_t slots, const RingJob* jobs,
                                       std::size_t count, std::size_t n, RingSurvivor* out);

#define TAKEBACK_RING_FILTER_SCALAR(SUFFIX, ATTR)                                                        \
  ATTR RingSurvivor* RingFilter##SUFFIX(const RingTable* tables, std::size_t slots, const RingJob* jobs, \
                                        std::size_t count, std::size_t /*n*/, RingSurvivor* out) {       \
    for (std::size_t j = 0; j < count; ++j) {                                                            \
      const RingJob& job = jobs[j];                                                                      \
      const RingTable& table = tables[job.chunk];                                                        \
      const std::uint16_t* block = table.blocks + std::size_t{job.bucket} * slots;                       \
      const auto inline_count =                                                                          \
          static_cast<std::uint32_t>(std::min<std::size_t>(job.count, slots - kRingHeaderSlots));        \
      for (std::uint32_t s = 0; s < job.count; ++s) {                                                    \
        const std::uint16_t key = s < inline_count ? block[s] : table.keys[job.first + s];               \
        if (std::popcount(static_cast<unsigned>(key ^ job.next)) <= job.bound) {                         \
          __builtin_prefetch(table.positions + job.first + s);                                           \
          *out++ = {job.first + s, job.query, job.chunk};                                                \
        }                                                                                                \
      }                                                                                                  \
    }                                                                                                    \
    return out;                                                                                          \
  }

TAKEBACK_RING_FILTER_SCALAR(Portable, )
TAKEBACK_RING_FILTER_SCALAR(Popcnt, __attribute__((target("popcnt"))))
#undef TAKEBACK_RING_FILTER_SCALAR

#define TAKEBACK_RING_AVX2 __attribute__((target("avx2,popcnt")))

// AVX2: 16 keys at a time: XOR with the query's key, per-byte popcounts from
// a nibble table (vpshufb), pairs of bytes summed to 16-bit counts
// (vpmaddubsw), compared with the bound; bit 2i of the result is set when
// key i passes.
struct RingAvx2Constants {
  __m256i lut;
  __m256i low;
  __m256i ones;
};

TAKEBACK_RING_AVX2 inline std::uint32_t PassMask16(const std::uint16_t* keys, __m256i query, __m256i bound,
                                                   const RingAvx2Constants& k) {
  const __m256i x = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(keys)), query);
  const __m256i bytes = _mm256_add_epi8(_mm256_shuffle_epi8(k.lut, _mm256_and_si256(x, k.low)),
                                        _mm256_shuffle_epi8(k.lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), k.low)));
  const __m256i counts = _mm256_maddubs_epi16(bytes, k.ones);
  return ~static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpgt_epi16(counts, bound))) & 0x55555555U;
}

TAKEBACK_RING_AVX2 RingSurvivor* RingFilterAvx2(const RingTable* tables, std::size_t slots, const RingJob* jobs,
                                                std::size_t count, std::size_t n, RingSurvivor* out) {
  const RingAvx2Constants k{
      _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4),
      _mm256_set1_epi8(0x0f), _mm256_set1_epi8(1)};
  constexpr std::uint32_t kLanes = 16;
  const auto inline_keys = static_cast<std::uint32_t>(slots - kRingHeaderSlots);
  for (std::size_t j = 0; j < count; ++j) {
    const RingJob& job = jobs[j];
    const RingTable& table = tables[job.chunk];
    const __m256i query = _mm256_set1_epi16(static_cast<short>(job.next));
    const __m256i bound = _mm256_set1_epi16(static_cast<short>(job.bound));
    auto emit = [&](std::uint32_t pass, std::uint32_t at) {
      while (pass != 0) {
        const std::uint32_t e = at + (static_cast<std::uint32_t>(std::countr_zero(pass)) >> 1);
        pass &= pass - 1;
        __builtin_prefetch(table.positions + e);
        *out++ = {e, job.query, job.chunk};
      }
    };
    // The block's keys (its header lanes are masked off).
    const std::uint16_t* block = table.blocks + std::size_t{job.bucket} * slots;
    const std::uint32_t in_block = std::min(job.count, inline_keys);
    for (std::uint32_t s = 0; s < in_block; s += kLanes) {
      std::uint32_t pass = PassMask16(block + s, query, bound, k);
      if (in_block - s < kLanes) pass &= (1U << (2 * (in_block - s))) - 1;
      emit(pass, job.first + s);
    }
    // The rest from the dense keys.
    std::uint32_t e = job.first + in_block;
    const std::uint32_t end = job.first + job.count;
    for (; e < end && e + kLanes <= n; e += kLanes) {
      std::uint32_t pass = PassMask16(table.keys + e, query, bound, k);
      if (end - e < kLanes) pass &= (1U << (2 * (end - e))) - 1;
      emit(pass, e);
    }
    for (; e < end; ++e) {  // within the last 15 entries of the table
      if (std::popcount(static_cast<unsigned>(table.keys[e] ^ job.next)) <= job.bound) {
        __builtin_prefetch(table.positions + e);
        *out++ = {e, job.query, job.chunk};
      }
    }
  }
  return out;
}
#undef TAKEBACK_RING_AVX2

RingFilterFn BestRingFilter() {
  if (IsaSupported(Isa::kAvx2)) return RingFilterAvx2;
  if (IsaSupported(Isa::kPopcnt)) return RingFilterPopcnt;
  return RingFilterPortable;
}

// A match found by a batch probe: the query's index in the batch, and the match.
struct BatchHit {
  std::uint32_t query;
  Neighbor neighbor;
};

// How many buckets ahead of their filtering their blocks, and then the rest
// of their keys, are prefetched; how many buckets are filtered per call; how
// many survivors ahead of their verification their hashes are prefetched.
// (Measured at 1M, alternating in one process: 24-48 / 10-24 / 4-16 / 8-32
// are all within the noise of each other; fewer than 16 blocks ahead is
// slower.)
constexpr std::size_t kBlockLag = 32;
constexpr std::size_t kTailLag = 16;
constexpr std::size_t kFilterBlock = 8;
constexpr std::size_t kSurvivorLag = 16;
// At most this many lines of one bucket's keys are prefetched (the hardware
// prefetcher follows a longer run).
constexpr std::size_t kMaxBucketLines = 6;
// Queries whose buckets go through the pipeline together (one stream, so
// that one query's first buckets are fetched while the last one finishes).
constexpr std::size_t kRingBatch = 32;

// The probe of queries [0, count) over ring tables: for each, the buckets
// within probe_radii[c] of its value of chunk c, their entries filtered on
// their next keys (RingBound), and the survivors verified on their full
// hashes. A hash within the radius is reported from the first chunk whose
// probe keeps it (RingFinds). Hits are appended in query order.
[[gnu::always_inline]] inline void ProbeRingImpl(const Snapshot& snap, const PdqHash* queries, std::size_t count,
                                                 int radius, const std::vector<int>& probe_radii, RingFilterFn filter,
                                                 std::vector<BatchHit>* out) {
  const Base& base = *snap.base;
  thread_local std::vector<std::array<std::uint32_t, kRingChunks>> keys;
  thread_local std::vector<RingJob> jobs;
  thread_local std::vector<RingSurvivor> survivors;
  keys.resize(count);
  jobs.clear();
  for (std::size_t q = 0; q < count; ++q) {
    for (int c = 0; c < kRingChunks; ++c) keys[q][static_cast<std::size_t>(c)] = Word16(queries[q], c);
    for (int c = 0; c < kRingChunks; ++c) {
      const int t = probe_radii[static_cast<std::size_t>(c)];
      if (t < 0) continue;
      const std::uint32_t key = keys[q][static_cast<std::size_t>(c)];
      const auto next = static_cast<std::uint16_t>(keys[q][static_cast<std::size_t>(NextChunk(c))]);
      for (const std::uint32_t mask : BallMasks(kRingBits, t)) {
        const int w = std::popcount(mask);
        if (w > radius) break;  // masks come by increasing weight
        jobs.push_back({key ^ mask, 0, 0, static_cast<std::uint16_t>(q), next, static_cast<std::uint8_t>(c),
                        static_cast<std::uint8_t>(RingBound(probe_radii, c, w))});
      }
    }
  }
  const std::size_t num_jobs = jobs.size();
  const std::size_t n = base.n;
  const std::size_t slots = base.ring_block_slots;
  const std::size_t inline_keys = slots - kRingHeaderSlots;
  auto prefetch_block = [&](std::size_t k) {
    __builtin_prefetch(base.rings[jobs[k].chunk].blocks + std::size_t{jobs[k].bucket} * slots);
  };
  auto prefetch_tail = [&](std::size_t k) {
    RingJob& job = jobs[k];
    const RingTable& table = base.rings[job.chunk];
    const std::uint16_t* block = table.blocks + std::size_t{job.bucket} * slots;
    job.first = BlockFirst(block, slots);
    job.count = BlockCount(block, slots);
    if (job.count <= inline_keys) return;
    const char* first = reinterpret_cast<const char*>(table.keys + job.first + inline_keys);
    const char* last = reinterpret_cast<const char*>(table.keys + job.first + job.count);
    for (std::size_t line = 0; first < last && line < kMaxBucketLines; ++line, first += 64) __builtin_prefetch(first);
  };
  std::size_t blocks_done = 0;
  std::size_t tails_done = 0;
  std::size_t found = 0;
  for (std::size_t i = 0; i < num_jobs; i += kFilterBlock) {
    const std::size_t block = std::min(kFilterBlock, num_jobs - i);
    for (const std::size_t upto = std::min(i + block + kBlockLag, num_jobs); blocks_done < upto; ++blocks_done) {
      prefetch_block(blocks_done);
    }
    for (const std::size_t upto = std::min(i + block + kTailLag, num_jobs); tails_done < upto; ++tails_done) {
      prefetch_tail(tails_done);
    }
    std::size_t entries = 0;
    for (std::size_t j = i; j < i + block; ++j) entries += jobs[j].count;
    if (survivors.size() < found + entries) survivors.resize(std::max(2 * survivors.size(), found + entries));
    found = static_cast<std::size_t>(
        filter(base.rings.data(), slots, jobs.data() + i, block, n, survivors.data() + found) - survivors.data());
  }
  // The survivors: each one's position (prefetched by the filter) is read
  // and its hash prefetched kSurvivorLag survivors before it is verified.
  auto fetch = [&](std::size_t s) {
    RingSurvivor& v = survivors[s];
    v.at = base.rings[v.chunk].positions[v.at];
    __builtin_prefetch(base.hashes + v.at);
  };
  for (std::size_t s = 0; s < std::min(found, kSurvivorLag); ++s) fetch(s);
  for (std::size_t s = 0; s < found; ++s) {
    if (s + kSurvivorLag < found) fetch(s + kSurvivorLag);
    const RingSurvivor& v = survivors[s];
    const PdqHash& h = base.hashes[v.at];
    const int full = Distance(h, queries[v.query]);
    if (full > radius) [[likely]] {
      continue;
    }
    const std::array<std::uint32_t, kRingChunks>& qk = keys[v.query];
    bool earlier = false;
    for (int c = 0; c < v.chunk && !earlier; ++c) {
      const int d = std::popcount(Word16(h, c) ^ qk[static_cast<std::size_t>(c)]);
      const int d_next = std::popcount(Word16(h, NextChunk(c)) ^ qk[static_cast<std::size_t>(NextChunk(c))]);
      earlier = RingFinds(probe_radii, c, d, d_next);
    }
    if (!earlier && !IsRemoved(snap, v.at)) out->push_back({v.query, {base.ids[v.at], full}});
  }
}

__attribute__((target("popcnt"))) void ProbeRingPopcnt(const Snapshot& snap, const PdqHash* queries, std::size_t count,
                                                       int radius, const std::vector<int>& probe_radii,
                                                       RingFilterFn filter, std::vector<BatchHit>* out) {
  ProbeRingImpl(snap, queries, count, radius, probe_radii, filter, out);
}

void ProbeRingPortable(const Snapshot& snap, const PdqHash* queries, std::size_t count, int radius,
                       const std::vector<int>& probe_radii, RingFilterFn filter, std::vector<BatchHit>* out) {
  ProbeRingImpl(snap, queries, count, radius, probe_radii, filter, out);
}

void ProbeRing(const Snapshot& snap, const PdqHash* queries, std::size_t count, int radius,
               const std::vector<int>& probe_radii, std::vector<BatchHit>* out) {
  static const bool popcnt = IsaSupported(Isa::kPopcnt);
  static const RingFilterFn kFilter = BestRingFilter();
  if (popcnt) {
    ProbeRingPopcnt(snap, queries, count, radius, probe_radii, kFilter, out);
  } else {
    ProbeRingPortable(snap, queries, count, radius, probe_radii, kFilter, out);
  }
}

}  // namespace

void SnapshotIndex::ProbeBase(const Snapshot& snap, const PdqHash& query, int radius,
                              const std::vector<int>& probe_radii, std::vector<Neighbor>* out) const {
  static const bool popcnt = IsaSupported(Isa::kPopcnt);
  if (!snap.base->rings.empty()) {
    thread_local std::vector<BatchHit> hits;
    hits.clear();
    ProbeRing(snap, &query, 1, radius, probe_radii, &hits);
    for (const BatchHit& hit : hits) out->push_back(hit.neighbor);
    return;
  }
  if (popcnt) {
    ProbePopcnt(snap, query, radius, probe_radii, out);
  } else {
    ProbePortable(snap, query, radius, probe_radii, out);
  }
}

void SnapshotIndex::Search(const Snapshot& snap, const PdqHash& query, int radius, std::vector<Neighbor>* out) const {
  const Base& base = *snap.base;
  if (base.n > 0) {
    const bool can_probe =
        !base.tables.empty() && radius <= kMaxRadius && !base.probe_radii[static_cast<std::size_t>(radius)].empty();
    if (can_probe) {
      ProbeBase(snap, query, radius, base.probe_radii[static_cast<std::size_t>(radius)], out);
    } else {
      ScanBase(snap, query, radius, out);
    }
  }
  ScanRecent(snap, query, radius, out);
}

Status SnapshotIndex::RangeSearch(const PdqHash& query, int radius, std::vector<Neighbor>* out) const {
  if (radius < 0 || radius > kMaxRadius) return InvalidArgument("RangeSearch: radius must be 0..63");
  out->clear();
  const auto snap = Load();
  Search(*snap, query, radius, out);
  std::sort(out->begin(), out->end(), ById);
  return Status::Ok();
}

Result<RangeSearchResult> SnapshotIndex::RangeSearchBatch(std::span<const PdqHash> queries, int radius) const {
  if (radius < 0 || radius > kMaxRadius) return InvalidArgument("RangeSearchBatch: radius must be 0..63");
  const auto snap = Load();
  RangeSearchResult result;
  result.lims.reserve(queries.size() + 1);
  result.lims.push_back(0);
  const Base& base = *snap->base;
  if (base.n > 0 && !base.rings.empty() && !base.probe_radii[static_cast<std::size_t>(radius)].empty()) {
    // Ring tables: the queries go through the probe's pipeline kRingBatch at a time.
    thread_local std::vector<BatchHit> hits;
    for (std::size_t first = 0; first < queries.size(); first += kRingBatch) {
      const std::size_t count = std::min(kRingBatch, queries.size() - first);
      hits.clear();
      ProbeRing(*snap, queries.data() + first, count, radius, base.probe_radii[static_cast<std::size_t>(radius)],
                &hits);
      std::size_t h = 0;
      for (std::size_t q = 0; q < count; ++q) {
        const std::size_t start = result.neighbors.size();
        for (; h < hits.size() && hits[h].query == q; ++h) result.neighbors.push_back(hits[h].neighbor);
        ScanRecent(*snap, queries[first + q], radius, &result.neighbors);
        std::sort(result.neighbors.begin() + static_cast<std::ptrdiff_t>(start), result.neighbors.end(), ById);
        result.lims.push_back(result.neighbors.size());
      }
    }
    return result;
  }
  for (const PdqHash& q : queries) {
    const std::size_t start = result.neighbors.size();
    Search(*snap, q, radius, &result.neighbors);
    std::sort(result.neighbors.begin() + static_cast<std::ptrdiff_t>(start), result.neighbors.end(), ById);
    result.lims.push_back(result.neighbors.size());
  }
  return result;
}

void SnapshotIndex::KnnScan(const Snapshot& snap, const PdqHash& query, int k, std::vector<Neighbor>* out) const {
  // Max-heap on (distance, id) of the best k so far.
  std::priority_queue<Neighbor, std::vector<Neighbor>, decltype(&ById)> heap(ById);
  auto offer = [&](std::uint64_t id, int d) {
    if (static_cast<int>(heap.size()) < k) {
      heap.push({id, d});
    } else if (ById({id, d}, heap.top())) {
      heap.pop();
      heap.push({id, d});
    }
  };
  thread_local std::vector<std::uint16_t> dist;
  dist.resize(kScanBlock);
  const Kernels& kernels = BestKernels();
  const Base& base = *snap.base;
  for (std::size_t start = 0; start < base.n; start += kScanBlock) {
    const std::size_t len = std::min(kScanBlock, base.n - start);
    kernels.distances(base.hashes + start, len, query, dist.data());
    for (std::size_t i = 0; i < len; ++i) {
      const int d = dist[i];
      if (static_cast<int>(heap.size()) == k && d > heap.top().distance) continue;
      if (!IsRemoved(snap, static_cast<std::uint32_t>(start + i))) offer(base.ids[start + i], d);
    }
  }
  for (std::size_t i = 0; i < snap.recent_ids.size(); ++i) {
    offer(snap.recent_ids[i], hash::HammingDistance(snap.recent_hashes[i], query));
  }
  out->resize(heap.size());
  for (std::size_t i = heap.size(); i > 0; --i) {
    (*out)[i - 1] = heap.top();
    heap.pop();
  }
}

Status SnapshotIndex::Knn(const PdqHash& query, int k, std::vector<Neighbor>* out) const {
  if (k < 0) return InvalidArgument("Knn: k must be >= 0");
  out->clear();
  if (k == 0) return Status::Ok();
  const auto snap = Load();
  if (!snap->base->tables.empty()) {
    // Everything within r is found, so if k are within r they are the k nearest.
    for (const int r : {kDefaultRadius, kMaxRadius}) {
      if (snap->base->probe_radii[static_cast<std::size_t>(r)].empty()) break;
      out->clear();
      Search(*snap, query, r, out);
      if (out->size() >= static_cast<std::size_t>(k)) {
        std::sort(out->begin(), out->end(), ById);
        out->resize(static_cast<std::size_t>(k));
        return Status::Ok();
      }
    }
    out->clear();
  }
  KnnScan(*snap, query, k, out);
  return Status::Ok();
}

}  // namespace takeback::index::internal
