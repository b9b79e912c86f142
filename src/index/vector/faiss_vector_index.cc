// "FaissFlat": FAISS's IndexFlatL2 (Debian libfaiss-dev) behind VectorIndex,
// for comparison with "Flat" (bench/vector_bench). FAISS is used from this
// file only; it is not thread-safe for a write beside searches, so a
// reader-writer lock makes searches wait while a write runs.
#include <algorithm>
#include <cmath>
#include <exception>
#include <shared_mutex>
#include <unordered_set>

#include "index/vector/vector_index.h"
#include "index/vector/vector_index_internal.h"

#if TAKEBACK_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/IDSelector.h>
#include <omp.h>
#endif

namespace takeback::index {

#if TAKEBACK_HAVE_FAISS
bool HaveFaiss() { return true; }
#else
bool HaveFaiss() { return false; }
#endif

namespace internal {
#if TAKEBACK_HAVE_FAISS
namespace {

bool NeighborLess(const VectorNeighbor& a, const VectorNeighbor& b) {
  return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
}

// FAISS reports squared distances computed as |x|^2 + |y|^2 - 2x.y (BLAS
// for 20 queries or more), which can come out slightly negative.
float Distance(float squared) { return std::sqrt(std::max(squared, 0.0F)); }

class FaissVectorIndex final : public VectorIndex {
 public:
  explicit FaissVectorIndex(int dimension) : dim_(dimension), flat_(dimension), map_(&flat_) {}

  int dimension() const override { return dim_; }

  Status Add(std::span<const std::uint64_t> ids, std::span<const float> vectors) override {
    if (vectors.size() != ids.size() * static_cast<std::size_t>(dim_)) {
      return InvalidArgument("VectorIndex::Add: vectors must hold ids.size() * dimension floats");
    }
    for (float v : vectors) {
      if (!std::isfinite(v)) return InvalidArgument("VectorIndex::Add: a vector value is not finite");
    }
    std::unique_lock lock(mu_);
    std::unordered_set<std::uint64_t> seen;
    for (std::uint64_t id : ids) {
      if (id > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return InvalidArgument("VectorIndex::Add: FaissFlat takes ids up to 2^63 - 1");
      }
      if (ids_.contains(id) || !seen.insert(id).second) {
        return InvalidArgument("VectorIndex::Add: id " + std::to_string(id) + " is already stored or given twice");
      }
    }
    std::vector<faiss::Index::idx_t> labels(ids.begin(), ids.end());
    try {
      map_.add_with_ids(static_cast<faiss::Index::idx_t>(ids.size()), vectors.data(), labels.data());
    } catch (const std::exception& e) {
      return Internal(std::string("FAISS add: ") + e.what());
    }
    ids_.insert(ids.begin(), ids.end());
    return Status::Ok();
  }

  Result<std::size_t> Remove(std::span<const std::uint64_t> ids) override {
    std::unique_lock lock(mu_);
    std::vector<faiss::Index::idx_t> present;
    for (std::uint64_t id : ids) {
      if (ids_.erase(id) != 0) present.push_back(static_cast<faiss::Index::idx_t>(id));
    }
    if (present.empty()) return std::size_t{0};
    try {
      const faiss::IDSelectorBatch selector(present.size(), present.data());
      return map_.remove_ids(selector);
    } catch (const std::exception& e) {
      return Internal(std::string("FAISS remove: ") + e.what());
    }
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
    TAKEBACK_RETURN_IF_ERROR(CheckQueries(queries));
    const auto nq = static_cast<faiss::Index::idx_t>(queries.size() / static_cast<std::size_t>(dim_));
    std::shared_lock lock(mu_);
    VectorSearchResult result;
    result.lims.push_back(0);
    try {
      omp_set_num_threads(std::max(threads, 1));
      faiss::RangeSearchResult r(nq);
      map_.range_search(nq, queries.data(), radius * radius, &r);
      for (faiss::Index::idx_t q = 0; q < nq; ++q) {
        const std::size_t begin = result.neighbors.size();
        for (std::size_t i = r.lims[q]; i < r.lims[q + 1]; ++i) {
          result.neighbors.push_back({static_cast<std::uint64_t>(r.labels[i]), Distance(r.distances[i])});
        }
        std::sort(result.neighbors.begin() + static_cast<std::ptrdiff_t>(begin), result.neighbors.end(), NeighborLess);
        result.lims.push_back(result.neighbors.size());
      }
    } catch (const std::exception& e) {
      return Internal(std::string("FAISS range_search: ") + e.what());
    }
    return result;
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
    TAKEBACK_RETURN_IF_ERROR(CheckQueries(queries));
    const auto nq = static_cast<faiss::Index::idx_t>(queries.size() / static_cast<std::size_t>(dim_));
    std::shared_lock lock(mu_);
    VectorSearchResult result;
    result.lims.push_back(0);
    const auto kk = static_cast<faiss::Index::idx_t>(std::min<std::size_t>(static_cast<std::size_t>(k), ids_.size()));
    if (kk == 0 || nq == 0) {
      result.lims.resize(static_cast<std::size_t>(nq) + 1, 0);
      return result;
    }
    std::vector<float> distances(static_cast<std::size_t>(nq * kk));
    std::vector<faiss::Index::idx_t> labels(static_cast<std::size_t>(nq * kk));
    try {
      omp_set_num_threads(std::max(threads, 1));
      map_.search(nq, queries.data(), kk, distances.data(), labels.data());
    } catch (const std::exception& e) {
      return Internal(std::string("FAISS search: ") + e.what());
    }
    for (faiss::Index::idx_t q = 0; q < nq; ++q) {
      const std::size_t begin = result.neighbors.size();
      for (faiss::Index::idx_t i = q * kk; i < (q + 1) * kk; ++i) {
        const auto at = static_cast<std::size_t>(i);
        if (labels[at] < 0) continue;
        result.neighbors.push_back({static_cast<std::uint64_t>(labels[at]), Distance(distances[at])});
      }
      std::sort(result.neighbors.begin() + static_cast<std::ptrdiff_t>(begin), result.neighbors.end(), NeighborLess);
      result.lims.push_back(result.neighbors.size());
    }
    return result;
  }

  std::size_t size() const override {
    std::shared_lock lock(mu_);
    return ids_.size();
  }

  Status Compact() override { return Status::Ok(); }  // IndexFlat removes in place

  std::string Describe() const override { return "FaissFlat"; }

 private:
  Status CheckQueries(std::span<const float> queries) const {
    if (queries.size() % static_cast<std::size_t>(dim_) != 0) {
      return InvalidArgument("VectorIndex: queries must hold a multiple of dimension floats");
    }
    for (float v : queries) {
      if (!std::isfinite(v)) return InvalidArgument("VectorIndex: a query value is not finite");
    }
    return Status::Ok();
  }

  const int dim_;
  mutable std::shared_mutex mu_;           // shared: searches; exclusive: writes
  faiss::IndexFlatL2 flat_;                // guarded by mu_
  faiss::IndexIDMap2 map_;                 // guarded by mu_; owns nothing (flat_ outlives it)
  std::unordered_set<std::uint64_t> ids_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<VectorIndex>> MakeFaissVectorIndex(int dimension) {
  return std::unique_ptr<VectorIndex>(std::make_unique<FaissVectorIndex>(dimension));
}
#else
Result<std::unique_ptr<VectorIndex>> MakeFaissVectorIndex(int /*dimension*/) {
  return Unsupported("FaissFlat: this build has no FAISS (install libfaiss-dev and reconfigure)");
}
#endif

}  // namespace internal
}  // namespace takeback::index
