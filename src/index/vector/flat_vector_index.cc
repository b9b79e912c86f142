// "Flat": Takeback's exhaustive vector scan with snapshots (vector_index.h).
//
// Search: an exact int8 pre-filter (vector_kernels.h, "QuantKernel") rules
// out most vectors using a quantised copy of every vector (a quarter of the
// float bytes) and the norm of its quantisation error; the blocks with a
// vector it cannot rule out are re-scanned in float by the same kernel as
// before, which alone decides every reported result and distance.
//
// Storage: fixed-capacity segments of kSegmentBlocks blocks (vector_kernels.h
// layout). A segment's memory never moves, so a writer appends whole blocks
// past the count a published snapshot knows while readers scan below it.
// Vectors not yet filling a block sit in a small immutable "tail" block that
// each Add replaces. Removes set bits in per-segment copy-on-write bitmaps;
// the removed vectors are still scanned (and skipped when reported) until a
// compaction rebuilds the segments without them.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "index/vector/vector_index.h"
#include "index/vector/vector_index_internal.h"
#include "index/vector/vector_kernels.h"

namespace takeback::index {
namespace internal {
namespace {

constexpr std::size_t kLanes = kBlockLanes;
constexpr std::size_t kSegmentBlocks = 512;  // 8,192 vectors, 4 MiB at 128-d
constexpr std::size_t kSegmentVectors = kSegmentBlocks * kLanes;
// Blocks scanned by a whole batch of queries before moving on, so that they
// stay in the L2 cache while every query of the batch visits them: the
// store streams from memory once per batch (and thread), not once per
// kernel call, so at 1M the scan is bound by the kernel's arithmetic, not
// by memory (per stored vector, 1M searches as fast as 100k, whose int8
// copy fits the 32 MiB L3; 10k, which fits L2, no faster). 6, 8, 16 and 32
// blocks measured within 5% of each other at 1M.
constexpr std::size_t kChunkBlocks = 32;  // 512 vectors, 64 KiB of quantised bytes at 128-d
// Queries per kernel call (up to kMaxKernelQueries): the kernel shares each
// block load between them (vector_kernels.cc). 3 and 2 measured 6-15%
// slower than 4 at 1M.
constexpr std::size_t kQueriesPerCall = 4;

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;

AlignedFloats AllocateFloats(std::size_t n) {
  const std::size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (p != nullptr) std::memset(p, 0, bytes);
  return AlignedFloats(p);
}

// A run of blocks with the ids of their lanes. Segments are filled block by
// block, past the counts of published snapshots; tail blocks are immutable.
struct AlignedByteFree {
  void operator()(std::uint8_t* p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<std::uint8_t[], AlignedByteFree>;

// n bytes holding the quantised zero (X + kQuantOffset), so padding lanes
// and dimensions read as zero vectors.
AlignedBytes AllocateQuantBytes(std::size_t n) {
  const std::size_t bytes = (n + 63) / 64 * 64;
  auto* p = static_cast<std::uint8_t*>(std::aligned_alloc(64, bytes));
  if (p != nullptr) std::memset(p, kQuantOffset, bytes);
  return AlignedBytes(p);
}

struct Blocks {
  AlignedFloats data;
  std::vector<std::uint64_t> ids;
  // The quantised copy (vector_kernels.h layout): qdim bytes per vector,
  // checks int32 sums of squares per vector, per block the largest error
  // norm e_x of its vectors.
  AlignedBytes qdata;
  std::vector<std::int32_t> xx;
  std::vector<float> ex;
};

struct SegmentView {
  std::shared_ptr<Blocks> blocks;
  std::size_t count = 0;                                   // vectors (a multiple of kLanes except for the tail)
  std::shared_ptr<const std::vector<std::uint64_t>> dead;  // bit per slot; null: none removed
};

struct Snapshot {
  std::vector<SegmentView> segments;
  SegmentView tail;  // count < kLanes vectors, zero padded; blocks null when empty
  std::size_t live = 0;
  std::size_t dead = 0;
  // Quantisation of the stored vectors: X = round((x - center) / scale).
  // Set by the first Add into an empty store: center = the mean of its
  // vectors (distances do not change under a shift, and face descriptors
  // share a large common part: norm ~1.45, different people ~0.77 apart),
  // scale from its largest |x - center|; later vectors far outside are
  // clamped (still exact, only less pruned) until a compaction picks a new
  // center and scale. scale 0 while nothing was stored.
  float scale = 0;
  std::vector<float> center;
};

bool IsDead(const SegmentView& s, std::size_t slot) {
  return s.dead != nullptr && (((*s.dead)[slot / 64] >> (slot % 64)) & 1U) != 0;
}

bool NeighborLess(const VectorNeighbor& a, const VectorNeighbor& b) {
  return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
}

// What a search keeps for one query.
struct QueryState {
  const float* query = nullptr;
  float bound = 0;  // squared distance a vector must not exceed
  int k = -1;       // -1: range search
  // The quantised query (vector_kernels.h QuantQuery) and its error norm.
  std::vector<std::int8_t> qq;
  std::vector<std::int32_t> qc;
  double eq = 0;
  float threshold_for = -2;  // the bound `quant.threshold` was computed for
  QuantQuery quant;
  std::vector<std::pair<float, std::uint64_t>> found;  // (squared distance, id); a max-heap for knn

  void Offer(float d2, std::uint64_t id) {
    if (k < 0) {
      found.emplace_back(d2, id);
      return;
    }
    if (k == 0) return;
    const std::pair<float, std::uint64_t> item(d2, id);
    if (found.size() < static_cast<std::size_t>(k)) {
      found.push_back(item);
      std::push_heap(found.begin(), found.end());
      if (found.size() == static_cast<std::size_t>(k)) bound = found.front().first;
    } else if (item < found.front()) {
      std::pop_heap(found.begin(), found.end());
      found.back() = item;
      std::push_heap(found.begin(), found.end());
      bound = found.front().first;
    }
  }

  void Finish(std::vector<VectorNeighbor>* out) const {
    out->clear();
    out->reserve(found.size());
    for (const auto& [d2, id] : found) out->push_back({id, std::sqrt(d2)});
    std::sort(out->begin(), out->end(), NeighborLess);
  }
};

class FlatVectorIndex final : public VectorIndex {
 public:
  explicit FlatVectorIndex(int dimension)
      : dim_(dimension),
        qdim_((dimension + kQuantDimMultiple - 1) / kQuantDimMultiple * kQuantDimMultiple),
        checks_(QuantChecks(qdim_)),
        // Relative margin of the pre-filter: float sums of qdim squares are
        // within qdim * 2^-24 of the exact one (relative), so 2.5e-7 * qdim
        // plus 1e-5 for the handful of float operations of a check.
        slack_(1.0F + 1e-5F + 2.5e-7F * static_cast<float>(qdim_)),
        kernels_(BestVectorKernels()),
        snapshot_(std::make_shared<const Snapshot>()) {}

  int dimension() const override { return dim_; }

  Status Add(std::span<const std::uint64_t> ids, std::span<const float> vectors) override {
    if (vectors.size() != ids.size() * static_cast<std::size_t>(dim_)) {
      return InvalidArgument("VectorIndex::Add: vectors must hold ids.size() * dimension floats");
    }
    for (float v : vectors) {
      if (!std::isfinite(v)) return InvalidArgument("VectorIndex::Add: a vector value is not finite");
    }
    std::lock_guard<std::mutex> lock(write_mu_);
    std::unordered_set<std::uint64_t> seen;
    seen.reserve(ids.size());
    for (std::uint64_t id : ids) {
      if (where_.contains(id) || !seen.insert(id).second) {
        return InvalidArgument("VectorIndex::Add: id " + std::to_string(id) + " is already stored or given twice");
      }
    }
    auto next = std::make_shared<Snapshot>(*Load());
    TAKEBACK_RETURN_IF_ERROR(AddLocked(ids, vectors, next.get()));
    Publish(std::move(next));
    return Status::Ok();
  }

  Result<std::size_t> Remove(std::span<const std::uint64_t> ids) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    auto next = std::make_shared<Snapshot>(*Load());
    std::size_t removed = 0;
    std::unordered_map<std::size_t, std::shared_ptr<std::vector<std::uint64_t>>> copied;  // segment -> new bitmap
    for (std::uint64_t id : ids) {
      auto it = where_.find(id);
      if (it == where_.end()) continue;
      const Where w = it->second;
      where_.erase(it);
      SegmentView& s = w.segment == kTailSegment ? next->tail : next->segments[w.segment];
      auto& bits = copied[w.segment];
      if (bits == nullptr) {
        bits = s.dead != nullptr ? std::make_shared<std::vector<std::uint64_t>>(*s.dead)
                                 : std::make_shared<std::vector<std::uint64_t>>(kSegmentVectors / 64, 0);
        s.dead = bits;
      }
      (*bits)[w.slot / 64] |= std::uint64_t{1} << (w.slot % 64);
      ++removed;
    }
    next->live -= removed;
    next->dead += removed;
    if (next->dead > kCompactMinDead && next->dead > (next->live + next->dead) / 4) {
      TAKEBACK_RETURN_IF_ERROR(CompactLocked(*next));
    } else {
      Publish(std::move(next));
    }
    return removed;
  }

  Status RangeSearch(std::span<const float> query, float radius, std::vector<VectorNeighbor>* out) const override {
    if (query.size() != static_cast<std::size_t>(dim_)) {
      return InvalidArgument("VectorIndex::RangeSearch: the query must hold dimension floats");
    }
    Result<VectorSearchResult> r = RangeSearchBatch(query, radius, 1);
    if (!r.ok()) return r.status();
    *out = std::move(r->neighbors);
    return Status::Ok();
  }

  Result<VectorSearchResult> RangeSearchBatch(std::span<const float> queries, float radius,
                                              int threads) const override {
    if (!std::isfinite(radius) || radius < 0) {
      return InvalidArgument("VectorIndex::RangeSearch: radius must be finite and >= 0");
    }
    return Search(queries, radius * radius, -1, threads);
  }

  Status Knn(std::span<const float> query, int k, std::vector<VectorNeighbor>* out) const override {
    if (query.size() != static_cast<std::size_t>(dim_)) {
      return InvalidArgument("VectorIndex::Knn: the query must hold dimension floats");
    }
    Result<VectorSearchResult> r = KnnBatch(query, k, 1);
    if (!r.ok()) return r.status();
    *out = std::move(r->neighbors);
    return Status::Ok();
  }

  Result<VectorSearchResult> KnnBatch(std::span<const float> queries, int k, int threads) const override {
    if (k < 0) return InvalidArgument("VectorIndex::Knn: k must be >= 0");
    return Search(queries, std::numeric_limits<float>::infinity(), k, threads);
  }

  std::size_t size() const override { return Load()->live; }

  Status Compact() override {
    std::lock_guard<std::mutex> lock(write_mu_);
    return CompactLocked(*Load());
  }

  std::string Describe() const override { return "Flat"; }

 private:
  static constexpr std::size_t kTailSegment = static_cast<std::size_t>(-1);
  static constexpr std::size_t kCompactMinDead = 1024;
  struct Where {
    std::size_t segment;  // kTailSegment: the tail
    std::size_t slot;
  };

  bool AllocateQuant(Blocks* b, std::size_t blocks) const {
    b->qdata = AllocateQuantBytes(blocks * kLanes * static_cast<std::size_t>(qdim_));
    b->xx.assign(blocks * static_cast<std::size_t>(checks_) * kLanes, 0);
    b->ex.assign(blocks, 0.0F);
    return b->qdata != nullptr;
  }

  // The smallest float >= v (v >= 0, finite), one step more for safety.
  static float RoundUp(double v) {
    float f = static_cast<float>(v);
    if (static_cast<double>(f) < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
    return std::nextafter(f, std::numeric_limits<float>::infinity());
  }

  // Writes the quantised form of `row` (dim_ floats) into slot `slot` of `b`.
  void StoreQuantised(Blocks* b, std::size_t slot, const float* row, float scale, const float* center) const {
    const std::size_t block = slot / kLanes;
    const std::size_t lane = slot % kLanes;
    std::uint8_t* qb = b->qdata.get() + block * kLanes * static_cast<std::size_t>(qdim_);
    std::int32_t* xx = b->xx.data() + block * static_cast<std::size_t>(checks_) * kLanes;
    double err = 0;
    std::int32_t sum = 0;
    for (int d = 0; d < qdim_; ++d) {
      int x = 0;
      if (d < dim_) {
        const double v = static_cast<double>(row[d]) - static_cast<double>(center[d]);
        x = static_cast<int>(std::nearbyint(std::clamp(v / static_cast<double>(scale), -static_cast<double>(kQuantMax),
                                                       static_cast<double>(kQuantMax))));
        const double e = v - static_cast<double>(scale) * x;
        err += e * e;
      }
      qb[static_cast<std::size_t>(d / 4) * 64 + lane * 4 + static_cast<std::size_t>(d % 4)] =
          static_cast<std::uint8_t>(x + kQuantOffset);
      sum += x * x;
      if ((d + 1) % kQuantCheckEvery == 0 || d + 1 == qdim_) {
        xx[static_cast<std::size_t>(d / kQuantCheckEvery) * kLanes + lane] = sum;
      }
    }
    b->ex[block] = std::max(b->ex[block], RoundUp(std::sqrt(err)));
  }

  // Quantises st->query with step `scale` around `center`
  // (vector_kernels.h).
  void QuantiseQuery(QueryState* st, float scale, const float* center) const {
    st->qq.assign(static_cast<std::size_t>(qdim_ / 4 * kQuantQueryGroupBytes), 0);
    st->qc.assign(static_cast<std::size_t>(checks_), 0);
    const float step = scale;
    double err = 0;
    std::int64_t terms = 0;  // sum Q^2 + 2 kQuantOffset sum Q
    for (int d = 0; d < qdim_; ++d) {
      int q = 0;
      if (d < dim_) {
        const double v = static_cast<double>(st->query[d]) - static_cast<double>(center[d]);
        q = static_cast<int>(std::nearbyint(std::clamp(v / static_cast<double>(step), -static_cast<double>(kQuantMax),
                                                       static_cast<double>(kQuantMax))));
        const double e = v - static_cast<double>(step) * q;
        err += e * e;
      }
      st->qq[static_cast<std::size_t>(d / 4 * kQuantQueryGroupBytes + d % 4)] = static_cast<std::int8_t>(q);
      terms += q * q + 2 * kQuantOffset * q;
      if ((d + 1) % kQuantCheckEvery == 0 || d + 1 == qdim_) {
        st->qc[static_cast<std::size_t>(d / kQuantCheckEvery)] = static_cast<std::int32_t>(terms);
      }
    }
    st->eq = std::sqrt(err);
    st->quant.q = st->qq.data();
    st->quant.c = st->qc.data();
    st->quant.slack = slack_;
    st->threshold_for = -2;
  }

  // Brings st->quant.threshold up to date with st->bound (radius r =
  // sqrt(bound)): (r + e_q) * slack + 1e-6, rounded up; an infinite bound
  // prunes nothing, a negative one (k = 0) everything.
  void UpdateThreshold(QueryState* st) const {
    if (st->bound == st->threshold_for) return;
    st->threshold_for = st->bound;
    if (st->bound < 0) {
      st->quant.threshold = -std::numeric_limits<float>::max();
    } else if (std::isinf(st->bound)) {
      st->quant.threshold = std::numeric_limits<float>::infinity();
    } else {
      const double r = std::sqrt(static_cast<double>(st->bound));
      st->quant.threshold = RoundUp((r + st->eq) * static_cast<double>(slack_) + 1e-6);
    }
  }

  std::shared_ptr<const Snapshot> Load() const {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    return snapshot_;
  }
  // The old snapshot is released outside the lock.
  void Publish(std::shared_ptr<const Snapshot> next) {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    snapshot_.swap(next);
  }

  // Requires write_mu_ and validated input. Appends to `next` (a copy of the
  // published snapshot): the tail's live vectors, then the new ones, are
  // written block by block into segments; what does not fill a block
  // becomes the new tail. Blocks are written past the counts of published
  // snapshots only, so no reader sees them until `next` is published.
  Status AddLocked(std::span<const std::uint64_t> ids, std::span<const float> vectors, Snapshot* next) {
    const auto dim = static_cast<std::size_t>(dim_);
    std::vector<std::uint64_t> tail_ids;
    std::vector<float> tail_values;  // row-major
    if (next->tail.blocks != nullptr) {
      for (std::size_t l = 0; l < next->tail.count; ++l) {
        if (IsDead(next->tail, l)) continue;
        tail_ids.push_back(next->tail.blocks->ids[l]);
        for (std::size_t d = 0; d < dim; ++d) tail_values.push_back(next->tail.blocks->data[d * kLanes + l]);
      }
      next->dead -= next->tail.count - tail_ids.size();
    }
    const std::size_t n = tail_ids.size() + ids.size();
    if (next->scale == 0 && n > 0) {
      std::vector<double> mean(dim, 0.0);
      for (std::size_t i = 0; i < tail_values.size(); ++i) mean[i % dim] += static_cast<double>(tail_values[i]);
      for (std::size_t i = 0; i < vectors.size(); ++i) mean[i % dim] += static_cast<double>(vectors[i]);
      next->center.resize(dim);
      for (std::size_t d = 0; d < dim; ++d) next->center[d] = static_cast<float>(mean[d] / static_cast<double>(n));
      double max_abs = 0;
      for (std::size_t i = 0; i < tail_values.size(); ++i) {
        max_abs = std::max(max_abs,
                           std::abs(static_cast<double>(tail_values[i]) - static_cast<double>(next->center[i % dim])));
      }
      for (std::size_t i = 0; i < vectors.size(); ++i) {
        max_abs =
            std::max(max_abs, std::abs(static_cast<double>(vectors[i]) - static_cast<double>(next->center[i % dim])));
      }
      next->scale = std::max(static_cast<float>(max_abs / static_cast<double>(kQuantMax)), 1e-30F);
    }
    auto id_at = [&](std::size_t i) { return i < tail_ids.size() ? tail_ids[i] : ids[i - tail_ids.size()]; };
    auto row_at = [&](std::size_t i) {
      return i < tail_ids.size() ? tail_values.data() + i * dim : vectors.data() + (i - tail_ids.size()) * dim;
    };
    const std::size_t full = n / kLanes * kLanes;
    for (std::size_t i = 0; i < full; i += kLanes) {
      if (next->segments.empty() || next->segments.back().count == kSegmentVectors) {
        SegmentView s;
        s.blocks = std::make_shared<Blocks>();
        s.blocks->data = AllocateFloats(kSegmentVectors * dim);
        if (s.blocks->data == nullptr) return Status(ErrorCode::kInternal, "VectorIndex::Add: out of memory");
        s.blocks->ids.resize(kSegmentVectors);
        if (!AllocateQuant(s.blocks.get(), kSegmentBlocks)) {
          return Status(ErrorCode::kInternal, "VectorIndex::Add: out of memory");
        }
        next->segments.push_back(std::move(s));
      }
      SegmentView& s = next->segments.back();
      float* block = s.blocks->data.get() + s.count * dim;
      for (std::size_t l = 0; l < kLanes; ++l) {
        const float* row = row_at(i + l);
        for (std::size_t d = 0; d < dim; ++d) block[d * kLanes + l] = row[d];
        StoreQuantised(s.blocks.get(), s.count + l, row, next->scale, next->center.data());
        s.blocks->ids[s.count + l] = id_at(i + l);
        where_[id_at(i + l)] = {next->segments.size() - 1, s.count + l};
      }
      s.count += kLanes;
    }
    SegmentView tail;
    if (full < n) {
      tail.blocks = std::make_shared<Blocks>();
      tail.blocks->data = AllocateFloats(kLanes * dim);
      if (tail.blocks->data == nullptr) return Status(ErrorCode::kInternal, "VectorIndex::Add: out of memory");
      tail.blocks->ids.resize(kLanes);
      if (!AllocateQuant(tail.blocks.get(), 1)) return Status(ErrorCode::kInternal, "VectorIndex::Add: out of memory");
      for (std::size_t i = full; i < n; ++i) {
        const std::size_t l = i - full;
        const float* row = row_at(i);
        for (std::size_t d = 0; d < dim; ++d) tail.blocks->data[d * kLanes + l] = row[d];
        StoreQuantised(tail.blocks.get(), l, row, next->scale, next->center.data());
        tail.blocks->ids[l] = id_at(i);
        where_[id_at(i)] = {kTailSegment, l};
      }
      tail.count = n - full;
    }
    next->tail = std::move(tail);
    next->live += ids.size();
    return Status::Ok();
  }

  // Requires write_mu_. Publishes a snapshot holding the live vectors of
  // `snap` in new segments; on failure the published snapshot is unchanged.
  Status CompactLocked(const Snapshot& snap) {
    const auto dim = static_cast<std::size_t>(dim_);
    std::vector<std::uint64_t> ids;
    std::vector<float> vectors;
    ids.reserve(snap.live);
    vectors.reserve(snap.live * dim);
    auto collect = [&](const SegmentView& s) {
      for (std::size_t slot = 0; slot < s.count; ++slot) {
        if (IsDead(s, slot)) continue;
        ids.push_back(s.blocks->ids[slot]);
        const float* block = s.blocks->data.get() + slot / kLanes * kLanes * dim;
        for (std::size_t d = 0; d < dim; ++d) vectors.push_back(block[d * kLanes + slot % kLanes]);
      }
    };
    for (const SegmentView& s : snap.segments) collect(s);
    if (snap.tail.blocks != nullptr) collect(snap.tail);
    auto saved = std::move(where_);
    where_.clear();
    auto next = std::make_shared<Snapshot>();
    Status st = AddLocked(ids, vectors, next.get());
    if (!st.ok()) {
      where_ = std::move(saved);
      return st;
    }
    Publish(std::move(next));
    return Status::Ok();
  }

  Result<VectorSearchResult> Search(std::span<const float> queries, float bound, int k, int threads) const {
    const auto dim = static_cast<std::size_t>(dim_);
    if (queries.size() % dim != 0) {
      return InvalidArgument("VectorIndex: queries must hold a multiple of dimension floats");
    }
    for (float v : queries) {
      if (!std::isfinite(v)) return InvalidArgument("VectorIndex: a query value is not finite");
    }
    const std::size_t nq = queries.size() / dim;
    const std::shared_ptr<const Snapshot> snap = Load();
    std::vector<QueryState> states(nq);
    for (std::size_t q = 0; q < nq; ++q) {
      states[q].query = queries.data() + q * dim;
      states[q].bound = k == 0 ? -1.0F : bound;
      states[q].k = k;
      if (snap->scale > 0) QuantiseQuery(&states[q], snap->scale, snap->center.data());
    }
    std::vector<std::size_t> passed(1, 0);
    const auto wanted = static_cast<std::size_t>(std::max(threads, 1));
    const std::size_t workers = std::clamp<std::size_t>(wanted, 1, std::max<std::size_t>(nq, 1));
    if (wanted > 1 && nq < kQueriesPerCall * wanted && snap->segments.size() >= 2) {
      // Too few queries to give every thread a full kernel call's worth:
      // the threads split the segments instead, each with its own copy of
      // every query's state, merged afterwards (a single query then streams
      // the store from memory on all the threads).
      const std::size_t parts_n = std::min(wanted, snap->segments.size());
      std::vector<std::vector<QueryState>> parts(parts_n, states);
      for (auto& part : parts) {
        for (QueryState& st : part) {
          st.quant.q = st.qq.data();
          st.quant.c = st.qc.data();
        }
      }
      passed.assign(parts_n, 0);
      std::vector<std::thread> pool;
      for (std::size_t w = 0; w < parts_n; ++w) {
        pool.emplace_back([&, w] { Scan(*snap, std::span<QueryState>(parts[w]), &passed[w], w, parts_n, w == 0); });
      }
      for (auto& t : pool) t.join();
      for (std::size_t q = 0; q < nq; ++q) {
        for (const auto& part : parts) {
          for (const auto& [d2, id] : part[q].found) states[q].Offer(d2, id);
        }
      }
    } else if (workers <= 1) {
      Scan(*snap, std::span<QueryState>(states), &passed[0]);
    } else {
      passed.assign(workers, 0);
      std::vector<std::thread> pool;
      const std::size_t per = (nq + workers - 1) / workers;
      for (std::size_t w = 0; w < workers; ++w) {
        const std::size_t begin = std::min(nq, w * per);
        const std::size_t end = std::min(nq, begin + per);
        if (begin == end) break;
        pool.emplace_back(
            [&, begin, end, w] { Scan(*snap, std::span<QueryState>(states).subspan(begin, end - begin), &passed[w]); });
      }
      for (auto& t : pool) t.join();
    }
    VectorSearchResult result;
    for (std::size_t p : passed) result.prefilter_passed += p;
    result.lims.reserve(nq + 1);
    result.lims.push_back(0);
    std::vector<VectorNeighbor> one;
    for (const QueryState& s : states) {
      s.Finish(&one);
      result.neighbors.insert(result.neighbors.end(), one.begin(), one.end());
      result.lims.push_back(result.neighbors.size());
    }
    return result;
  }

  // Runs `states` over every block of `snap`: chunk by chunk, every group of
  // kQueriesPerCall queries through the int8 pre-filter over the chunk; each
  // block with a lane the pre-filter passes for a query is re-scanned in
  // float for that query, and only the float distances are reported.
  // Adds the number of passed lanes to *passed. Scans the segments
  // first_segment, first_segment + segment_step, ... and the tail if
  // with_tail (by default all of them).
  void Scan(const Snapshot& snap, std::span<QueryState> states, std::size_t* passed, std::size_t first_segment = 0,
            std::size_t segment_step = 1, bool with_tail = true) const {
    const std::size_t dim = static_cast<std::size_t>(dim_);
    const std::size_t qdim = static_cast<std::size_t>(qdim_);
    const std::size_t checks = static_cast<std::size_t>(checks_);
    float out[kLanes];
    QuantQuery quant[kMaxKernelQueries];
    std::uint32_t masks[kMaxKernelQueries * kChunkBlocks];
    std::size_t passed_here = 0;
    auto scan_blocks = [&](const SegmentView& s, std::size_t first, std::size_t count) {
      const Blocks& bl = *s.blocks;
      const int nblocks = static_cast<int>(count);
      for (std::size_t g = 0; g < states.size(); g += kQueriesPerCall) {
        const int n = static_cast<int>(std::min<std::size_t>(kQueriesPerCall, states.size() - g));
        for (int j = 0; j < n; ++j) {
          QueryState& st = states[g + static_cast<std::size_t>(j)];
          UpdateThreshold(&st);
          quant[j] = st.quant;
        }
        kernels_.quant(bl.qdata.get() + first * kLanes * qdim, bl.xx.data() + first * checks * kLanes,
                       bl.ex.data() + first, qdim_, snap.scale, nblocks, quant, n, masks, g == 0);
        for (int j = 0; j < n; ++j) {
          QueryState& st = states[g + static_cast<std::size_t>(j)];
          const float* query = st.query;
          for (std::size_t i = 0; i < count; ++i) {
            const std::uint32_t mask = masks[static_cast<std::size_t>(j) * count + i];
            if (mask == 0) continue;
            passed_here += static_cast<std::size_t>(std::popcount(mask));
            const std::size_t b = first + i;
            // A k-NN bound may have shrunk since the pre-filter ran: the float
            // re-check uses the current one.
            const float bound = st.bound;
            if (!kernels_.block(bl.data.get() + b * kLanes * dim, dim_, &query, 1, &bound, out)) continue;
            for (std::size_t l = 0; l < kLanes; ++l) {
              const std::size_t slot = b * kLanes + l;
              const float d2 = out[l];
              if (d2 <= st.bound && slot < s.count && !IsDead(s, slot)) st.Offer(d2, bl.ids[slot]);
            }
          }
        }
      }
    };
    for (std::size_t i = first_segment; i < snap.segments.size(); i += segment_step) {
      const SegmentView& s = snap.segments[i];
      const std::size_t blocks = s.count / kLanes;
      for (std::size_t b = 0; b < blocks; b += kChunkBlocks) scan_blocks(s, b, std::min(kChunkBlocks, blocks - b));
    }
    if (with_tail && snap.tail.blocks != nullptr) scan_blocks(snap.tail, 0, 1);
    *passed += passed_here;
  }

  const int dim_;
  const int qdim_;    // dim_ rounded up to a multiple of kQuantDimMultiple (quantised copy)
  const int checks_;  // pre-filter checks per vector
  const float slack_;
  const VectorKernels& kernels_;
  std::mutex write_mu_;                             // serialises writers; readers never take it
  std::unordered_map<std::uint64_t, Where> where_;  // guarded by write_mu_
  // Guards only the pointer copy/swap, never a write's work, so a search
  // never waits for an Add, Remove or compaction.
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by snapshot_mu_
};

}  // namespace

std::unique_ptr<VectorIndex> MakeFlatVectorIndex(int dimension) { return std::make_unique<FlatVectorIndex>(dimension); }

}  // namespace internal

std::string_view VectorKernelName() { return internal::BestVectorKernels().name; }

Result<std::unique_ptr<VectorIndex>> MakeVectorIndex(std::string_view description, int dimension) {
  if (dimension < 1 || dimension > 4096) return InvalidArgument("MakeVectorIndex: dimension must be 1..4096");
  if (description == "Flat") return internal::MakeFlatVectorIndex(dimension);
  if (description == "FaissFlat") return internal::MakeFaissVectorIndex(dimension);
  return InvalidArgument("MakeVectorIndex: unknown index \"" + std::string(description) +
                         "\" (expected Flat or FaissFlat)");
}

}  // namespace takeback::index
