#include "index/snapshot_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <thread>
#include <utility>

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
// How far ahead candidate hashes are prefetched while verifying.
constexpr std::size_t kPrefetchAhead = 16;

class HeapRegion final : public Region {
 public:
  HeapRegion(void* data) : data_(data) {}
  ~HeapRegion() override { std::free(data_); }
  HeapRegion(const HeapRegion&) = delete;
  HeapRegion& operator=(const HeapRegion&) = delete;

 private:
  void* data_;
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
  const std::size_t align = bytes >= kHugePageMinBytes ? kHugePage : 64;
  const std::size_t rounded = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) return nullptr;
  if (align == kHugePage) madvise(p, rounded, MADV_HUGEPAGE);  // advice only; failure is harmless
  *data = p;
  return std::make_shared<HeapRegion>(p);
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
  // Relative costs: a bucket probe, a candidate verification (a random
  // 32-byte read) and a scanned hash (sequential).
  constexpr double kProbeCost = 2.0;
  constexpr double kCandidateCost = 8.0;
  constexpr double kScanCost = 1.0;
  auto cost = [&](std::size_t c, int t) {
    if (t < 0) return 0.0;
    const int bits = base->tables[c].bits;
    return Ball(bits, t) * (kProbeCost + kCandidateCost * n / std::ldexp(1.0, bits));
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

Status BuildTables(Base* base, int chunks, int threads) {
  base->tables = ChunkLayout(chunks);
  for (ChunkTable& table : base->tables) {
    auto* offsets = Allocate<std::uint32_t>((std::size_t{1} << table.bits) + 1, base);
    auto* positions = Allocate<std::uint32_t>(base->n, base);
    if (offsets == nullptr || positions == nullptr) return Internal("out of memory building the index tables");
    table.offsets = offsets;
    table.positions = positions;
  }
  // Counting sort per chunk; positions within a bucket come out ascending.
  auto build_one = [base](std::size_t c) {
    ChunkTable& table = base->tables[c];
    const std::size_t buckets = std::size_t{1} << table.bits;
    auto* offsets = const_cast<std::uint32_t*>(table.offsets);
    auto* positions = const_cast<std::uint32_t*>(table.positions);
    std::memset(offsets, 0, (buckets + 1) * sizeof(std::uint32_t));
    std::vector<std::uint32_t> keys(base->n);
    for (std::size_t i = 0; i < base->n; ++i) {
      keys[i] = ExtractChunk(base->hashes[i], table.start_bit, table.bits);
      ++offsets[keys[i] + 1];
    }
    for (std::size_t b = 0; b < buckets; ++b) offsets[b + 1] += offsets[b];
    std::vector<std::uint32_t> cursor(offsets, offsets + buckets);
    for (std::size_t i = 0; i < base->n; ++i) positions[cursor[keys[i]]++] = static_cast<std::uint32_t>(i);
  };
  const std::size_t m = base->tables.size();
  const std::size_t workers = std::clamp<std::size_t>(static_cast<std::size_t>(threads), 1, m);
  std::vector<std::thread> pool;
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t c = next.fetch_add(1); c < m; c = next.fetch_add(1)) build_one(c);
  };
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  PlanProbes(base);
  return Status::Ok();
}

// ---- SnapshotIndex ----------------------------------------------------------

SnapshotIndex::SnapshotIndex(Options options) : options_(options) {
  auto snap = std::make_shared<Snapshot>();
  auto base = std::make_shared<Base>();
  PlanProbes(base.get());
  snap->base = std::move(base);
  Publish(std::move(snap));
}

SnapshotIndex::SnapshotIndex(Options options, std::shared_ptr<const Base> base) : options_(options) {
  auto snap = std::make_shared<Snapshot>();
  snap->live = base->n;
  snap->base = std::move(base);
  Publish(std::move(snap));
}

int SnapshotIndex::ChunksFor(std::size_t n) const {
  if (options_.kind == Kind::kFlat) return 0;
  if (options_.chunks != 0) return options_.chunks;
  // Chunks of at least log2(n) bits keep about one hash per bucket or fewer:
  // fewer candidates to verify (random reads) for more probes (cheap, they
  // are prefetched), and offsets cost at most ~2x the positions. Measured at
  // 10M: 11 chunks 1.7x faster than 12 (docs/BENCHMARKS.md).
  const int bits =
      std::clamp(static_cast<int>(std::lround(std::log2(std::max<double>(static_cast<double>(n), 2.0)))), 4, 24);
  return std::clamp(256 / bits, kMinChunks, kMaxChunks);
}

std::size_t SnapshotIndex::size() const { return Load()->live; }

std::string SnapshotIndex::Describe() const {
  if (options_.kind == Kind::kFlat) return "Flat";
  const auto snap = Load();
  std::string name = options_.chunks == 0 ? "MIH" : "MIH" + std::to_string(options_.chunks);
  return name + "(chunks=" + std::to_string(snap->base->tables.size()) + ")";
}

Status SnapshotIndex::Add(std::span<const std::uint64_t> ids, std::span<const PdqHash> hashes) {
  if (ids.size() != hashes.size()) return InvalidArgument("Add: ids and hashes differ in length");
  if (ids.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(write_mu_);
  const auto snap = Load();
  if (snap->live + ids.size() > kMaxStored) return TooLarge("Add: an index holds at most 2^32 - 1 hashes");
  std::vector<std::pair<std::uint64_t, PdqHash>> batch(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) batch[i] = {ids[i], hashes[i]};
  std::sort(batch.begin(), batch.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const Base& base = *snap->base;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const std::uint64_t id = batch[i].first;
    if (i > 0 && batch[i - 1].first == id) return InvalidArgument("Add: id " + std::to_string(id) + " given twice");
    const std::uint64_t* it = std::lower_bound(base.ids, base.ids + base.n, id);
    if (it != base.ids + base.n && *it == id && !IsRemoved(*snap, static_cast<std::uint32_t>(it - base.ids))) {
      return InvalidArgument("Add: id " + std::to_string(id) + " is already stored");
    }
    if (std::binary_search(snap->recent_ids.begin(), snap->recent_ids.end(), id)) {
      return InvalidArgument("Add: id " + std::to_string(id) + " is already stored");
    }
  }
  auto next = std::make_shared<Snapshot>();
  next->base = snap->base;
  next->removed = snap->removed;
  next->live = snap->live + batch.size();
  const std::size_t total = snap->recent_ids.size() + batch.size();
  next->recent_ids.reserve(total);
  next->recent_hashes.reserve(total);
  std::size_t a = 0;
  std::size_t b = 0;
  while (a < snap->recent_ids.size() || b < batch.size()) {
    if (b == batch.size() || (a < snap->recent_ids.size() && snap->recent_ids[a] < batch[b].first)) {
      next->recent_ids.push_back(snap->recent_ids[a]);
      next->recent_hashes.push_back(snap->recent_hashes[a++]);
    } else {
      next->recent_ids.push_back(batch[b].first);
      next->recent_hashes.push_back(batch[b++].second);
    }
  }
  if (next->recent_ids.size() + next->removed.size() > options_.max_recent) return CompactLocked(*next);
  Publish(std::move(next));
  return Status::Ok();
}

Result<std::size_t> SnapshotIndex::Remove(std::span<const std::uint64_t> ids) {
  std::lock_guard<std::mutex> lock(write_mu_);
  const auto snap = Load();
  const Base& base = *snap->base;
  std::vector<std::uint32_t> newly_removed;
  std::vector<std::uint64_t> drop_recent;
  for (const std::uint64_t id : ids) {
    const std::uint64_t* it = std::lower_bound(base.ids, base.ids + base.n, id);
    if (it != base.ids + base.n && *it == id) {
      const auto pos = static_cast<std::uint32_t>(it - base.ids);
      if (!IsRemoved(*snap, pos)) newly_removed.push_back(pos);
    } else if (std::binary_search(snap->recent_ids.begin(), snap->recent_ids.end(), id)) {
      drop_recent.push_back(id);
    }
  }
  std::sort(newly_removed.begin(), newly_removed.end());
  newly_removed.erase(std::unique(newly_removed.begin(), newly_removed.end()), newly_removed.end());
  std::sort(drop_recent.begin(), drop_recent.end());
  drop_recent.erase(std::unique(drop_recent.begin(), drop_recent.end()), drop_recent.end());
  const std::size_t removed = newly_removed.size() + drop_recent.size();
  if (removed == 0) return std::size_t{0};
  auto next = std::make_shared<Snapshot>();
  next->base = snap->base;
  next->live = snap->live - removed;
  next->removed.resize(snap->removed.size() + newly_removed.size());
  std::merge(snap->removed.begin(), snap->removed.end(), newly_removed.begin(), newly_removed.end(),
             next->removed.begin());
  next->recent_ids.reserve(snap->recent_ids.size() - drop_recent.size());
  next->recent_hashes.reserve(snap->recent_ids.size() - drop_recent.size());
  for (std::size_t i = 0, d = 0; i < snap->recent_ids.size(); ++i) {
    if (d < drop_recent.size() && drop_recent[d] == snap->recent_ids[i]) {
      ++d;
      continue;
    }
    next->recent_ids.push_back(snap->recent_ids[i]);
    next->recent_hashes.push_back(snap->recent_hashes[i]);
  }
  if (next->recent_ids.size() + next->removed.size() > options_.max_recent) {
    TAKEBACK_RETURN_IF_ERROR(CompactLocked(*next));
    return removed;
  }
  Publish(std::move(next));
  return removed;
}

Status SnapshotIndex::Compact() {
  std::lock_guard<std::mutex> lock(write_mu_);
  const auto snap = Load();
  if (snap->removed.empty() && snap->recent_ids.empty()) return Status::Ok();
  return CompactLocked(*snap);
}

Status SnapshotIndex::CompactLocked(const Snapshot& snap) {
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
  if (out != base->n)
    return Internal("compaction counted " + std::to_string(out) + " live hashes, expected " + std::to_string(base->n));
  base->hashes = hashes;
  base->ids = ids;
  const int chunks = ChunksFor(base->n);
  if (chunks > 0) {
    // Threads pay off only for big tables.
    constexpr std::size_t kParallelBuildMin = 1 << 16;
    const int threads =
        base->n < kParallelBuildMin ? 1 : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    TAKEBACK_RETURN_IF_ERROR(BuildTables(base.get(), chunks, threads));
  } else {
    PlanProbes(base.get());
  }
  auto next = std::make_shared<Snapshot>();
  next->live = base->n;
  next->base = std::move(base);
  Publish(std::move(next));
  return Status::Ok();
}

Status SnapshotIndex::Save(const std::string& path) {
  TAKEBACK_RETURN_IF_ERROR(Compact());
  const auto snap = Load();
  return WriteIndexFile(*snap->base, options_.kind, options_.chunks, path);
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

void SnapshotIndex::ProbeBase(const Snapshot& snap, const PdqHash& query, int radius,
                              const std::vector<int>& probe_radii, std::vector<Neighbor>* out) const {
  const Base& base = *snap.base;
  const std::size_t m = base.tables.size();
  // Three passes so that memory latency overlaps instead of adding up:
  // bucket keys (prefetching their offsets), bucket ranges (prefetching
  // their positions), then candidates (position, chunk that produced it),
  // whose hashes are prefetched ahead of verification.
  thread_local std::vector<std::uint32_t> keys;    // chunk << 24 | key
  thread_local std::vector<std::uint64_t> ranges;  // lo << 32 | hi, parallel to keys
  thread_local std::vector<std::uint64_t> candidates;
  keys.clear();
  candidates.clear();
  std::array<std::uint32_t, kMaxChunks> query_keys{};
  for (std::size_t c = 0; c < m; ++c) {
    const ChunkTable& table = base.tables[c];
    query_keys[c] = ExtractChunk(query, table.start_bit, table.bits);
    if (probe_radii[c] < 0) continue;
    auto visit = [&](std::uint32_t key) {
      __builtin_prefetch(table.offsets + key);
      keys.push_back(static_cast<std::uint32_t>(c << 24) | key);
    };
    ForEachNeighbour(query_keys[c], 0, table.bits, probe_radii[c], visit);
  }
  ranges.resize(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const ChunkTable& table = base.tables[keys[i] >> 24];
    const std::uint32_t key = keys[i] & 0xffffff;
    const std::uint32_t lo = table.offsets[key];
    const std::uint32_t hi = table.offsets[key + 1];
    if (lo != hi) __builtin_prefetch(table.positions + lo);
    ranges[i] = (std::uint64_t{lo} << 32) | hi;
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::size_t c = keys[i] >> 24;
    const std::uint32_t* positions = base.tables[c].positions;
    const auto lo = static_cast<std::uint32_t>(ranges[i] >> 32);
    const auto hi = static_cast<std::uint32_t>(ranges[i]);
    for (std::uint32_t j = lo; j < hi; ++j) candidates.push_back((std::uint64_t{positions[j]} << 8) | c);
  }
  const std::size_t count = candidates.size();
  for (std::size_t i = 0; i < std::min(count, kPrefetchAhead); ++i) {
    __builtin_prefetch(base.hashes + (candidates[i] >> 8));
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (i + kPrefetchAhead < count) __builtin_prefetch(base.hashes + (candidates[i + kPrefetchAhead] >> 8));
    const auto pos = static_cast<std::uint32_t>(candidates[i] >> 8);
    const PdqHash& h = base.hashes[pos];
    const int d = hash::HammingDistance(h, query);
    if (d > radius) continue;
    // Report a hash only from the first chunk that can produce it.
    const std::size_t via = candidates[i] & 0xff;
    bool earlier = false;
    for (std::size_t c = 0; c < via && !earlier; ++c) {
      if (probe_radii[c] < 0) continue;
      const ChunkTable& table = base.tables[c];
      earlier = std::popcount(ExtractChunk(h, table.start_bit, table.bits) ^ query_keys[c]) <= probe_radii[c];
    }
    if (earlier || IsRemoved(snap, pos)) continue;
    out->push_back({base.ids[pos], d});
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
