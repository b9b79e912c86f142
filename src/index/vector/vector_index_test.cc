#include "index/vector/vector_index.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "index/vector/vector_kernels.h"

namespace takeback::index {
namespace {

constexpr int kDim = 128;
// Float sums in another order than the brute force's double ones.
constexpr double kTolerance = 2e-5;

std::vector<std::string> Kinds() {
  std::vector<std::string> kinds = {"Flat"};
  if (HaveFaiss()) kinds.emplace_back("FaissFlat");
  return kinds;
}

// Face-descriptor-like data: a shared mean plus per-vector noise, so that
// distances spread around 0.5-1.0 as real descriptors do.
class Data {
 public:
  explicit Data(std::uint32_t seed) : rng_(seed) {
    std::normal_distribution<float> g(0.0F, 0.12F);
    for (float& m : mean_) m = g(rng_);
  }
  std::vector<float> Random(std::size_t n) {
    std::normal_distribution<float> g(0.0F, 0.05F);
    std::vector<float> v(n * kDim);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = mean_[i % kDim] + g(rng_);
    return v;
  }
  // A vector exactly `distance` from `center` (up to float rounding).
  std::vector<float> AtDistance(std::span<const float> center, double distance) {
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<double> dir(kDim);
    double norm = 0;
    for (double& d : dir) {
      d = g(rng_);
      norm += d * d;
    }
    norm = std::sqrt(norm);
    std::vector<float> v(kDim);
    for (int i = 0; i < kDim; ++i) v[i] = static_cast<float>(static_cast<double>(center[i]) + distance * dir[i] / norm);
    return v;
  }
  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
  std::array<float, kDim> mean_{};
};

double Exact(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (int i = 0; i < kDim; ++i) {
    const double t = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s += t * t;
  }
  return std::sqrt(s);
}

// The model the index must agree with: id -> vector.
using Model = std::map<std::uint64_t, std::vector<float>>;

// Checks a range result against brute force: everything clearly inside is
// there once, nothing clearly outside is, distances agree, order is right.
void ExpectRange(const Model& model, std::span<const float> query, double radius,
                 const std::vector<VectorNeighbor>& got) {
  std::map<std::uint64_t, float> found;
  for (const auto& n : got) EXPECT_TRUE(found.emplace(n.id, n.distance).second) << "id " << n.id << " twice";
  for (const auto& [id, v] : model) {
    const double d = Exact(query, v);
    auto it = found.find(id);
    if (d <= radius - kTolerance) {
      ASSERT_NE(it, found.end()) << "missed id " << id << " at " << d << " <= " << radius;
    }
    if (d > radius + kTolerance) {
      EXPECT_EQ(it, found.end()) << "id " << id << " at " << d << " > " << radius;
    }
    if (it != found.end()) {
      EXPECT_NEAR(it->second, d, kTolerance) << "id " << id;
    }
  }
  for (const auto& n : got) EXPECT_TRUE(model.contains(n.id)) << "id " << n.id << " not stored";
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), [](const VectorNeighbor& a, const VectorNeighbor& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
  }));
}

void ExpectKnn(const Model& model, std::span<const float> query, int k, const std::vector<VectorNeighbor>& got) {
  std::vector<std::pair<double, std::uint64_t>> all;
  for (const auto& [id, v] : model) all.emplace_back(Exact(query, v), id);
  std::sort(all.begin(), all.end());
  ASSERT_EQ(got.size(), std::min<std::size_t>(static_cast<std::size_t>(k), all.size()));
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].distance, all[i].first, kTolerance) << "rank " << i;
    // The same id unless two distances are too close to order in float.
    const bool close_call = (i > 0 && all[i].first - all[i - 1].first < kTolerance) ||
                            (i + 1 < all.size() && all[i + 1].first - all[i].first < kTolerance);
    if (!close_call) {
      EXPECT_EQ(got[i].id, all[i].second) << "rank " << i;
    }
    EXPECT_NEAR(Exact(query, model.at(got[i].id)), got[i].distance, kTolerance);
  }
}

class VectorIndexTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<VectorIndex> Make() {
    auto r = MakeVectorIndex(GetParam(), kDim);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
};

TEST_P(VectorIndexTest, EmptyIndexFindsNothing) {
  auto index = Make();
  Data data(1);
  const auto q = data.Random(1);
  std::vector<VectorNeighbor> out = {{1, 1.0F}};
  ASSERT_TRUE(index->RangeSearch(q, 10.0F, &out).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(index->Knn(q, 5, &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(index->size(), 0U);
}

TEST_P(VectorIndexTest, PlantedNeighboursAtKnownDistances) {
  auto index = Make();
  Data data(2);
  // 1,000 background vectors, then neighbours of one query planted at
  // 0.05, 0.10, ... 0.60.
  const auto background = data.Random(1000);
  std::vector<std::uint64_t> ids(1000);
  for (std::uint64_t i = 0; i < 1000; ++i) ids[i] = 1'000'000 + i * 7;
  ASSERT_TRUE(index->Add(ids, background).ok());
  Model model;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    model[ids[i]].assign(background.begin() + static_cast<std::ptrdiff_t>(i * kDim),
                         background.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDim));
  }
  const auto query = data.Random(1);
  for (int i = 1; i <= 12; ++i) {
    const auto v = data.AtDistance(query, 0.05 * i);
    const std::uint64_t id = static_cast<std::uint64_t>(i);
    ASSERT_TRUE(index->Add(std::span(&id, 1), v).ok());
    model[id] = v;
  }
  for (double radius : {0.0, 0.07, 0.26, 0.4, 0.55, 0.61, 0.9}) {
    std::vector<VectorNeighbor> out;
    ASSERT_TRUE(index->RangeSearch(query, static_cast<float>(radius), &out).ok());
    ExpectRange(model, query, radius, out);
  }
  std::vector<VectorNeighbor> out;
  ASSERT_TRUE(index->RangeSearch(query, 0.32F, &out).ok());
  ASSERT_EQ(out.size(), 6U);  // 0.05 .. 0.30, the background lies farther away
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].id, i + 1);
    EXPECT_NEAR(out[i].distance, 0.05 * static_cast<double>(i + 1), 1e-5);
  }
  ASSERT_TRUE(index->Knn(query, 3, &out).ok());
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[0].id, 1U);
  EXPECT_EQ(out[2].id, 3U);
  ExpectKnn(model, query, 20, [&] {
    std::vector<VectorNeighbor> o;
    EXPECT_TRUE(index->Knn(query, 20, &o).ok());
    return o;
  }());
}

TEST_P(VectorIndexTest, InterleavedAddsAndRemovesMatchBruteForce) {
  auto index = Make();
  Data data(3);
  Model model;
  std::uint64_t next_id = 0;
  for (int round = 0; round < 12; ++round) {
    // Adds of odd sizes, so that blocks and the tail fill unevenly.
    const std::size_t n = 1 + static_cast<std::size_t>(data.rng()() % 700);
    const auto v = data.Random(n);
    std::vector<std::uint64_t> ids(n);
    for (auto& id : ids) {
      id = next_id;
      next_id += 1 + data.rng()() % 3;
    }
    ASSERT_TRUE(index->Add(ids, v).ok());
    for (std::size_t i = 0; i < n; ++i) {
      model[ids[i]].assign(v.begin() + static_cast<std::ptrdiff_t>(i * kDim),
                           v.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDim));
    }
    // Remove a random share, plus ids never stored.
    std::vector<std::uint64_t> gone;
    for (const auto& [id, _] : model) {
      if (data.rng()() % 4 == 0) gone.push_back(id);
    }
    gone.push_back(next_id + 1000);
    auto removed = index->Remove(gone);
    ASSERT_TRUE(removed.ok());
    EXPECT_EQ(*removed, gone.size() - 1);
    for (auto id : gone) model.erase(id);
    ASSERT_EQ(index->size(), model.size());

    // Queries near stored vectors and random ones, one by one and batched.
    std::vector<float> queries;
    for (int q = 0; q < 6; ++q) {
      const auto pick = std::next(model.begin(), static_cast<std::ptrdiff_t>(data.rng()() % model.size()));
      const auto near = data.AtDistance(pick->second, 0.3);
      queries.insert(queries.end(), near.begin(), near.end());
    }
    const auto random = data.Random(3);
    queries.insert(queries.end(), random.begin(), random.end());
    const double radius = 0.45 + 0.05 * (round % 4);
    auto batch = index->RangeSearchBatch(queries, static_cast<float>(radius), 1 + round % 2);
    ASSERT_TRUE(batch.ok());
    auto knn = index->KnnBatch(queries, 7, 1 + round % 2);
    ASSERT_TRUE(knn.ok());
    const std::size_t nq = queries.size() / kDim;
    ASSERT_EQ(batch->lims.size(), nq + 1);
    for (std::size_t q = 0; q < nq; ++q) {
      const std::span<const float> query(queries.data() + q * kDim, kDim);
      const std::vector<VectorNeighbor> got(batch->neighbors.begin() + static_cast<std::ptrdiff_t>(batch->lims[q]),
                                            batch->neighbors.begin() + static_cast<std::ptrdiff_t>(batch->lims[q + 1]));
      ExpectRange(model, query, radius, got);
      std::vector<VectorNeighbor> single;
      ASSERT_TRUE(index->RangeSearch(query, static_cast<float>(radius), &single).ok());
      EXPECT_EQ(single.size(), got.size());
      if (q < 6) {
        EXPECT_FALSE(got.empty()) << "a vector planted 0.3 away was not found";
      }
      const std::vector<VectorNeighbor> nn(knn->neighbors.begin() + static_cast<std::ptrdiff_t>(knn->lims[q]),
                                           knn->neighbors.begin() + static_cast<std::ptrdiff_t>(knn->lims[q + 1]));
      ExpectKnn(model, query, 7, nn);
    }
  }
  ASSERT_TRUE(index->Compact().ok());
  EXPECT_EQ(index->size(), model.size());
  const auto q = model.begin()->second;
  std::vector<VectorNeighbor> out;
  ASSERT_TRUE(index->Knn(q, 1, &out).ok());
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].id, model.begin()->first);
  EXPECT_NEAR(out[0].distance, 0.0, 1e-3);
}

TEST_P(VectorIndexTest, RemovingMostTriggersCompactionAndKeepsTheRest) {
  auto index = Make();
  Data data(4);
  const auto v = data.Random(5000);
  std::vector<std::uint64_t> ids(5000);
  for (std::uint64_t i = 0; i < 5000; ++i) ids[i] = i;
  ASSERT_TRUE(index->Add(ids, v).ok());
  std::vector<std::uint64_t> gone(ids.begin(), ids.begin() + 4000);
  ASSERT_EQ(*index->Remove(gone), 4000U);
  EXPECT_EQ(index->size(), 1000U);
  Model model;
  for (std::uint64_t i = 4000; i < 5000; ++i) {
    model[i].assign(v.begin() + static_cast<std::ptrdiff_t>(i * kDim),
                    v.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDim));
  }
  const std::span<const float> q(v.data() + 4321 * kDim, kDim);
  std::vector<VectorNeighbor> out;
  ASSERT_TRUE(index->RangeSearch(q, 0.7F, &out).ok());
  ExpectRange(model, q, 0.7, out);
  const std::span<const float> removed(v.data() + 17 * kDim, kDim);
  ASSERT_TRUE(index->Knn(removed, 1, &out).ok());
  ASSERT_EQ(out.size(), 1U);
  EXPECT_GE(out[0].id, 4000U);
  // A removed id can be added again.
  const std::uint64_t again = 17;
  ASSERT_TRUE(index->Add(std::span(&again, 1), removed).ok());
  ASSERT_TRUE(index->Knn(removed, 1, &out).ok());
  EXPECT_EQ(out[0].id, 17U);
}

TEST_P(VectorIndexTest, BadInputIsRefusedAndChangesNothing) {
  auto index = Make();
  Data data(5);
  const auto v = data.Random(3);
  const std::vector<std::uint64_t> ids = {1, 2, 3};
  ASSERT_TRUE(index->Add(ids, v).ok());
  const std::vector<std::uint64_t> dup = {4, 2};
  EXPECT_EQ(index->Add(dup, data.Random(2)).code(), ErrorCode::kInvalidArgument);
  const std::vector<std::uint64_t> twice = {5, 5};
  EXPECT_EQ(index->Add(twice, data.Random(2)).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index->Add(ids, data.Random(2)).code(), ErrorCode::kInvalidArgument);  // sizes differ
  auto nan = data.Random(1);
  nan[5] = std::numeric_limits<float>::quiet_NaN();
  const std::uint64_t six = 6;
  EXPECT_EQ(index->Add(std::span(&six, 1), nan).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index->size(), 3U);
  std::vector<VectorNeighbor> out;
  const auto q = data.Random(1);
  EXPECT_EQ(index->RangeSearch(q, -1.0F, &out).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index->RangeSearch(q, std::numeric_limits<float>::infinity(), &out).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index->Knn(q, -1, &out).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index->Knn(std::span(q).first(10), 1, &out).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index->RangeSearch(nan, 1.0F, &out).code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(index->KnnBatch(std::span(q).first(100), 1).ok());
  ASSERT_TRUE(index->Knn(q, 0, &out).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(index->Knn(q, 10, &out).ok());
  EXPECT_EQ(out.size(), 3U);
}

TEST_P(VectorIndexTest, SearchesRunWhileAWriterAddsAndRemoves) {
  auto index = Make();
  Data data(6);
  const auto fixed = data.Random(1);
  const std::uint64_t fixed_id = 999'999;
  ASSERT_TRUE(index->Add(std::span(&fixed_id, 1), fixed).ok());
  const auto batch = data.Random(2000);
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      std::vector<VectorNeighbor> out;
      while (!stop.load()) {
        ASSERT_TRUE(index->Knn(fixed, 1, &out).ok());
        // The fixed vector is never removed: every snapshot holds it.
        ASSERT_EQ(out.size(), 1U);
        ASSERT_EQ(out[0].id, fixed_id);
        ++searches;
      }
    });
  }
  for (int round = 0; round < 20; ++round) {
    std::vector<std::uint64_t> ids(100);
    for (std::uint64_t i = 0; i < 100; ++i) ids[i] = static_cast<std::uint64_t>(round) * 100 + i;
    ASSERT_TRUE(
        index->Add(ids, std::span(batch).subspan(static_cast<std::size_t>(round % 20) * 100 * kDim, 100 * kDim)).ok());
    if (round % 3 == 2) {
      ASSERT_TRUE(index->Remove(ids).ok());
    }
  }
  while (searches.load() < 50) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
}

// Vectors on both sides of the radius, closer to it than the int8
// pre-filter's error bound (e_q + e_x is about 0.01-0.03 here), so that the
// quantised distance alone cannot decide them: only the float re-check may.
// Also vectors and a query with a component far outside the range the
// quantisation scale was chosen for (clamped: a huge e_x or e_q).
TEST_P(VectorIndexTest, VectorsWithinThePrefilterBoundOfTheRadiusMatchBruteForce) {
  auto index = Make();
  Data data(11);
  Model model;
  // The first Add fixes Flat's quantisation scale from its largest value.
  const auto background = data.Random(300);
  std::vector<std::uint64_t> ids(300);
  for (std::uint64_t i = 0; i < 300; ++i) ids[i] = 10'000 + i;
  ASSERT_TRUE(index->Add(ids, background).ok());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    model[ids[i]].assign(background.begin() + static_cast<std::ptrdiff_t>(i * kDim),
                         background.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDim));
  }
  std::vector<std::vector<float>> queries;
  for (int i = 0; i < 3; ++i) queries.push_back(data.Random(1));
  queries.push_back(data.Random(1));
  queries.back()[5] = 40.0F;  // far outside the scale: the query is clamped
  const std::vector<double> radii = {0.3, 0.55};
  std::uint64_t id = 1;
  std::vector<std::uint64_t> new_ids;
  std::vector<float> planted;
  for (const auto& q : queries) {
    for (double r : radii) {
      for (double offset : {-0.03, -0.02, -0.01, -0.005, -1e-3, -2e-4, 2e-4, 1e-3, 0.005, 0.01, 0.02, 0.03}) {
        auto v = data.AtDistance(q, r + offset);
        new_ids.push_back(id++);
        planted.insert(planted.end(), v.begin(), v.end());
      }
    }
    // (Around the far-out query, every planted vector has its far-out
    // component too: clamped when stored.)
    auto far = data.Random(1);
    far[17] = -25.0F;  // clamped when stored: e_x about 25
    new_ids.push_back(id++);
    planted.insert(planted.end(), far.begin(), far.end());
  }
  ASSERT_TRUE(index->Add(new_ids, planted).ok());
  for (std::size_t i = 0; i < new_ids.size(); ++i) {
    model[new_ids[i]].assign(planted.begin() + static_cast<std::ptrdiff_t>(i * kDim),
                             planted.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDim));
  }
  // The far-out query itself, stored.
  auto near_far = queries.back();
  ASSERT_TRUE(index->Add(std::span<const std::uint64_t>(&id, 1), near_far).ok());
  model[id] = near_far;
  for (const auto& q : queries) {
    for (double r : radii) {
      std::vector<VectorNeighbor> out;
      ASSERT_TRUE(index->RangeSearch(q, static_cast<float>(r), &out).ok());
      ExpectRange(model, q, r, out);
      // Every planted vector 2e-4 or more inside is found, none 2e-4 outside.
      std::size_t inside = 0;
      for (const auto& [mid, v] : model) inside += Exact(q, v) <= r - 1e-4 ? 1 : 0;
      std::size_t got_inside = 0;
      for (const auto& n : out) got_inside += static_cast<double>(n.distance) <= r - 1e-4 ? 1 : 0;
      EXPECT_EQ(got_inside, inside) << "radius " << r;
    }
    std::vector<VectorNeighbor> out;
    for (int k : {1, 5, 30}) {
      ASSERT_TRUE(index->Knn(q, k, &out).ok());
      ExpectKnn(model, q, k, out);
    }
  }
  // The batch path (several queries per kernel call) gives the same.
  std::vector<float> batch;
  for (const auto& q : queries) batch.insert(batch.end(), q.begin(), q.end());
  auto r = index->RangeSearchBatch(batch, 0.55F, 2);
  ASSERT_TRUE(r.ok());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    std::vector<VectorNeighbor> one(r->neighbors.begin() + static_cast<std::ptrdiff_t>(r->lims[i]),
                                    r->neighbors.begin() + static_cast<std::ptrdiff_t>(r->lims[i + 1]));
    std::vector<VectorNeighbor> single;
    ASSERT_TRUE(index->RangeSearch(queries[i], 0.55F, &single).ok());
    EXPECT_EQ(one, single) << "query " << i;
  }
  if (GetParam() == "Flat") {
    // The pre-filter passes at least every reported pair, and rules out most.
    EXPECT_GE(r->prefilter_passed, r->neighbors.size());
    EXPECT_LT(r->prefilter_passed, queries.size() * index->size() / 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, VectorIndexTest, ::testing::ValuesIn(Kinds()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(VectorIndexFactoryTest, DescriptionsAndDimensions) {
  EXPECT_FALSE(MakeVectorIndex("HNSW", kDim).ok());
  EXPECT_FALSE(MakeVectorIndex("Flat", 0).ok());
  auto flat = MakeVectorIndex("Flat", 3);  // any dimension, not only multiples of 8
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ((*flat)->Describe(), "Flat");
  const std::vector<float> v = {0, 0, 0, 3, 4, 0, 1, 1, 1};
  const std::vector<std::uint64_t> ids = {1, 2, 3};
  ASSERT_TRUE((*flat)->Add(ids, v).ok());
  std::vector<VectorNeighbor> out;
  const std::vector<float> q = {0, 0, 0};
  ASSERT_TRUE((*flat)->RangeSearch(q, 5.0F, &out).ok());
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[0], (VectorNeighbor{1, 0.0F}));
  EXPECT_NEAR(out[1].distance, std::sqrt(3.0), 1e-6);
  EXPECT_EQ(out[2], (VectorNeighbor{2, 5.0F}));
  ASSERT_TRUE((*flat)->RangeSearch(q, 4.99F, &out).ok());
  EXPECT_EQ(out.size(), 2U);
  if (!HaveFaiss()) {
    EXPECT_EQ(MakeVectorIndex("FaissFlat", kDim).status().code(), ErrorCode::kUnsupported);
  }
}

// Dimensions that are not a multiple of 4 (quantised padding) and that span
// several pre-filter checks.
TEST(FlatVectorIndexTest, OddDimensionsMatchBruteForce) {
  std::mt19937 rng(21);
  std::normal_distribution<float> g(0.0F, 0.3F);
  for (int dim : {1, 3, 7, 33, 130}) {
    auto made = MakeVectorIndex("Flat", dim);
    ASSERT_TRUE(made.ok());
    auto& index = **made;
    const std::size_t n = 200;
    std::vector<float> v(n * static_cast<std::size_t>(dim));
    for (float& x : v) x = g(rng);
    std::vector<std::uint64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = i;
    ASSERT_TRUE(index.Add(ids, v).ok());
    std::vector<float> q(static_cast<std::size_t>(dim));
    for (float& x : q) x = g(rng);
    std::vector<std::pair<double, std::uint64_t>> all;
    for (std::size_t i = 0; i < n; ++i) {
      double s = 0;
      for (int d = 0; d < dim; ++d) {
        const double t = static_cast<double>(v[i * static_cast<std::size_t>(dim) + static_cast<std::size_t>(d)]) -
                         static_cast<double>(q[static_cast<std::size_t>(d)]);
        s += t * t;
      }
      all.emplace_back(std::sqrt(s), i);
    }
    std::sort(all.begin(), all.end());
    // A radius halfway between the 10th and 11th nearest: exactly 10 found.
    const double radius = (all[9].first + all[10].first) / 2;
    std::vector<VectorNeighbor> out;
    ASSERT_TRUE(index.RangeSearch(q, static_cast<float>(radius), &out).ok());
    ASSERT_EQ(out.size(), 10U) << "dim " << dim;
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i].distance, all[i].first, 1e-5) << "dim " << dim;
    ASSERT_TRUE(index.Knn(q, 10, &out).ok());
    ASSERT_EQ(out.size(), 10U);
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i].distance, all[i].first, 1e-5) << "dim " << dim;
  }
}

// Fewer queries than threads x 4: Flat splits the store's segments (8,192
// vectors each) over the threads instead of the queries. Results must be
// those of one thread and of brute force, for range and k-NN, with matches
// planted in every segment and in the tail.
TEST(FlatVectorIndexTest, FewQueriesSplitTheStoreOverThreads) {
  auto made = MakeVectorIndex("Flat", kDim);
  ASSERT_TRUE(made.ok());
  auto& index = **made;
  Data data(41);
  const std::size_t n = 3 * 8192 + 100;  // three full segments and a tail
  auto v = data.Random(n);
  std::vector<std::vector<float>> queries = {data.Random(1), data.Random(1), data.Random(1)};
  // Near every query, a few vectors in each segment and in the tail.
  for (std::size_t qi = 0; qi < queries.size(); ++qi) {
    for (std::size_t at : {std::size_t{5} + qi, 9000 + qi, 17000 + qi, 24600 + qi, n - 3 + qi}) {
      const auto near = data.AtDistance(queries[qi], 0.1 + 0.01 * static_cast<double>(at % 7));
      std::copy(near.begin(), near.end(), v.begin() + static_cast<std::ptrdiff_t>(at * kDim));
    }
  }
  std::vector<std::uint64_t> ids(n);
  Model model;
  for (std::size_t i = 0; i < n; ++i) {
    ids[i] = 7 * i + 1;
    model[ids[i]].assign(v.begin() + static_cast<std::ptrdiff_t>(i * kDim),
                         v.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDim));
  }
  ASSERT_TRUE(index.Add(ids, v).ok());
  for (std::size_t count = 1; count <= queries.size(); ++count) {
    std::vector<float> batch;
    for (std::size_t i = 0; i < count; ++i) batch.insert(batch.end(), queries[i].begin(), queries[i].end());
    for (int threads : {2, 3}) {
      auto one = index.RangeSearchBatch(batch, 0.3F, 1);
      auto split = index.RangeSearchBatch(batch, 0.3F, threads);
      ASSERT_TRUE(one.ok() && split.ok());
      EXPECT_EQ(split->lims, one->lims) << count << " queries, " << threads << " threads";
      EXPECT_EQ(split->neighbors, one->neighbors) << count << " queries, " << threads << " threads";
      auto knn_one = index.KnnBatch(batch, 7, 1);
      auto knn_split = index.KnnBatch(batch, 7, threads);
      ASSERT_TRUE(knn_one.ok() && knn_split.ok());
      EXPECT_EQ(knn_split->neighbors, knn_one->neighbors) << count << " queries, " << threads << " threads";
      for (std::size_t i = 0; i < count; ++i) {
        const std::vector<VectorNeighbor> range(
            split->neighbors.begin() + static_cast<std::ptrdiff_t>(split->lims[i]),
            split->neighbors.begin() + static_cast<std::ptrdiff_t>(split->lims[i + 1]));
        EXPECT_GE(range.size(), 5U);
        ExpectRange(model, queries[i], 0.3, range);
        const std::vector<VectorNeighbor> knn(
            knn_split->neighbors.begin() + static_cast<std::ptrdiff_t>(knn_split->lims[i]),
            knn_split->neighbors.begin() + static_cast<std::ptrdiff_t>(knn_split->lims[i + 1]));
        ExpectKnn(model, queries[i], 7, knn);
      }
    }
  }
}

// The int8 pre-filter kernels: AVX2 and portable give the same masks, and
// no lane whose quantised distance is within the threshold is pruned; the
// AVX2 kernel's early exits (after 64 dimensions, then every 32, when
// every lane of every query of the call is ruled out) change nothing.
TEST(VectorKernelsTest, QuantisedPrefilterKernelsAgreeAndNeverPruneALaneWithinTheBound) {
  std::mt19937 rng(31);
  const auto& best = internal::BestVectorKernels();
  const auto& portable = internal::PortableVectorKernels();
  constexpr int kLanes = internal::kBlockLanes;
  constexpr int kBlocks = 20;
  for (int qdim : {8, 32, 64, 72, 96, 128, 136, 200}) {
    const int checks = internal::QuantChecks(qdim);
    const auto groups = static_cast<std::size_t>(qdim / 4);
    std::vector<std::uint8_t> blocks(static_cast<std::size_t>(qdim) * kLanes * kBlocks);
    std::vector<std::vector<int>> x(kLanes * kBlocks, std::vector<int>(static_cast<std::size_t>(qdim)));
    std::vector<std::int32_t> xx(static_cast<std::size_t>(checks) * kLanes * kBlocks);
    std::vector<float> ex(kLanes * kBlocks);
    std::vector<float> block_ex(kBlocks, 0.0F);
    std::uniform_int_distribution<int> xd(-63, 63);
    std::uniform_int_distribution<int> qd(-63, 63);
    std::uniform_real_distribution<float> ed(0.0F, 0.05F);
    for (int v = 0; v < kLanes * kBlocks; ++v) {
      const int b = v / kLanes;
      const int l = v % kLanes;
      std::int32_t sum = 0;
      for (int d = 0; d < qdim; ++d) {
        const int value = xd(rng);
        x[static_cast<std::size_t>(v)][static_cast<std::size_t>(d)] = value;
        blocks[static_cast<std::size_t>(b * kLanes * qdim + d / 4 * 64 + l * 4 + d % 4)] =
            static_cast<std::uint8_t>(value + internal::kQuantOffset);
        sum += value * value;
        if ((d + 1) % internal::kQuantCheckEvery == 0 || d + 1 == qdim) {
          xx[static_cast<std::size_t>((b * checks + d / internal::kQuantCheckEvery) * kLanes + l)] = sum;
        }
      }
      ex[static_cast<std::size_t>(v)] = ed(rng);
      block_ex[static_cast<std::size_t>(b)] =
          std::max(block_ex[static_cast<std::size_t>(b)], ex[static_cast<std::size_t>(v)]);
    }
    const float scale = 0.003F;
    for (int nq = 1; nq <= internal::kMaxKernelQueries; ++nq) {
      std::vector<std::vector<std::int8_t>> qs(static_cast<std::size_t>(nq));
      std::vector<std::vector<std::int32_t>> cs(static_cast<std::size_t>(nq));
      std::vector<std::vector<int>> qvals(static_cast<std::size_t>(nq));
      internal::QuantQuery queries[internal::kMaxKernelQueries];
      std::vector<std::vector<double>> full(static_cast<std::size_t>(nq));  // s * sqrt(D) over all of qdim
      for (int i = 0; i < nq; ++i) {
        auto& q = qs[static_cast<std::size_t>(i)];
        auto& c = cs[static_cast<std::size_t>(i)];
        q.resize(groups * internal::kQuantQueryGroupBytes);
        c.resize(static_cast<std::size_t>(checks));
        std::int32_t terms = 0;
        for (int d = 0; d < qdim; ++d) {
          const int qv = qd(rng);
          qvals[static_cast<std::size_t>(i)].push_back(qv);
          q[static_cast<std::size_t>(d / 4 * internal::kQuantQueryGroupBytes + d % 4)] = static_cast<std::int8_t>(qv);
          terms += qv * qv + 2 * internal::kQuantOffset * qv;
          if ((d + 1) % internal::kQuantCheckEvery == 0 || d + 1 == qdim) {
            c[static_cast<std::size_t>(d / internal::kQuantCheckEvery)] = terms;
          }
        }
        for (int v = 0; v < kLanes * kBlocks; ++v) {
          double dd = 0;
          for (int d = 0; d < qdim; ++d) {
            const double t = qvals[static_cast<std::size_t>(i)][static_cast<std::size_t>(d)] -
                             x[static_cast<std::size_t>(v)][static_cast<std::size_t>(d)];
            dd += t * t;
          }
          full[static_cast<std::size_t>(i)].push_back(static_cast<double>(scale) * std::sqrt(dd));
        }
        // A threshold in the middle of this query's distances, so that
        // some lanes pass and some do not.
        auto sorted = full[static_cast<std::size_t>(i)];
        std::sort(sorted.begin(), sorted.end());
        queries[i].q = q.data();
        queries[i].c = c.data();
        queries[i].threshold = static_cast<float>(sorted[sorted.size() / 2]) - 0.02F;
        queries[i].slack = 1.0001F;
      }
      std::uint32_t a[internal::kMaxKernelQueries * kBlocks];
      std::uint32_t b[internal::kMaxKernelQueries * kBlocks];
      std::uint32_t strict_a[internal::kMaxKernelQueries * kBlocks];
      std::uint32_t strict_b[internal::kMaxKernelQueries * kBlocks];
      best.quant(blocks.data(), xx.data(), block_ex.data(), qdim, scale, kBlocks, queries, nq, a, false);
      portable.quant(blocks.data(), xx.data(), block_ex.data(), qdim, scale, kBlocks, queries, nq, b, false);
      // The first query's threshold at 0: its every lane is far (the AVX2
      // kernel's tiles end early only when the other queries' lanes are
      // ruled out too), and with one query, every tile ends at the first
      // check. The masks still equal the portable kernel's.
      internal::QuantQuery strict[internal::kMaxKernelQueries];
      std::copy_n(queries, nq, strict);
      strict[0].threshold = 0;
      best.quant(blocks.data(), xx.data(), block_ex.data(), qdim, scale, kBlocks, strict, nq, strict_a, true);
      portable.quant(blocks.data(), xx.data(), block_ex.data(), qdim, scale, kBlocks, strict, nq, strict_b, true);
      for (int i = 0; i < nq * kBlocks; ++i) {
        EXPECT_EQ(strict_a[i], strict_b[i]) << "qdim " << qdim << " query " << i / kBlocks << " block " << i % kBlocks;
        if (i < kBlocks) {
          EXPECT_EQ(strict_a[i], 0U) << "qdim " << qdim << " block " << i;
        } else {
          EXPECT_EQ(strict_a[i], a[i]) << "qdim " << qdim << " query " << i / kBlocks;
        }
      }
      bool some_pruned = false;
      bool some_kept = false;
      for (int i = 0; i < nq; ++i) {
        for (int blk = 0; blk < kBlocks; ++blk) {
          const std::uint32_t mask = a[i * kBlocks + blk];
          EXPECT_EQ(mask, b[i * kBlocks + blk]) << "qdim " << qdim << " query " << i << " block " << blk;
          for (int l = 0; l < kLanes; ++l) {
            const auto v = static_cast<std::size_t>(blk * kLanes + l);
            const bool kept = ((mask >> l) & 1U) != 0;
            some_pruned |= !kept;
            some_kept |= kept;
            // Partial distances never exceed the full one, so a lane within
            // the bound over all of qdim passes every check.
            if (full[static_cast<std::size_t>(i)][v] <=
                static_cast<double>(queries[i].threshold) + static_cast<double>(ex[v])) {
              EXPECT_TRUE(kept) << "qdim " << qdim << " query " << i << " lane " << v;
            }
            // Far beyond the bound with the block's largest error: pruned.
            if (full[static_cast<std::size_t>(i)][v] > (static_cast<double>(queries[i].threshold) + 0.05) * 1.001) {
              EXPECT_FALSE(kept) << "qdim " << qdim << " query " << i << " lane " << v;
            }
          }
        }
      }
      EXPECT_TRUE(some_pruned) << "qdim " << qdim;
      EXPECT_TRUE(some_kept) << "qdim " << qdim;
    }
  }
}

TEST(VectorKernelsTest, BestAndPortableAgreeAndExitEarlyOnlyWhenEverythingIsFar) {
  Data data(7);
  const auto& best = internal::BestVectorKernels();
  const auto& portable = internal::PortableVectorKernels();
  EXPECT_EQ(best.name, VectorKernelName());
  for (int dim : {1, 7, 33, 128}) {
    std::vector<float> block(static_cast<std::size_t>(dim) * internal::kBlockLanes);
    std::normal_distribution<float> g(0.0F, 0.1F);
    for (float& x : block) x = g(data.rng());
    std::vector<std::vector<float>> queries(4, std::vector<float>(static_cast<std::size_t>(dim)));
    for (auto& q : queries) {
      for (float& x : q) x = g(data.rng());
    }
    const float* qp[4] = {queries[0].data(), queries[1].data(), queries[2].data(), queries[3].data()};
    for (int nq = 1; nq <= 4; ++nq) {
      const float inf[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
      float a[64];
      float b[64];
      ASSERT_TRUE(best.block(block.data(), dim, qp, nq, inf, a));
      ASSERT_TRUE(portable.block(block.data(), dim, qp, nq, inf, b));
      for (int q = 0; q < nq; ++q) {
        for (int l = 0; l < internal::kBlockLanes; ++l) {
          double exact = 0;
          for (int d = 0; d < dim; ++d) {
            const double t = static_cast<double>(block[static_cast<std::size_t>(d * internal::kBlockLanes + l)]) -
                             static_cast<double>(queries[static_cast<std::size_t>(q)][static_cast<std::size_t>(d)]);
            exact += t * t;
          }
          EXPECT_NEAR(a[q * 16 + l], exact, 1e-5 * (1 + exact));
          EXPECT_NEAR(b[q * 16 + l], exact, 1e-5 * (1 + exact));
        }
      }
      // A bound under every distance: no lane qualifies, the call says so.
      float min_d = INFINITY;
      for (int i = 0; i < nq * 16; ++i) min_d = std::min(min_d, a[i]);
      const float below[4] = {min_d * 0.5F, min_d * 0.5F, min_d * 0.5F, min_d * 0.5F};
      EXPECT_FALSE(best.block(block.data(), dim, qp, nq, below, a));
      EXPECT_FALSE(portable.block(block.data(), dim, qp, nq, below, b));
    }
  }
}

}  // namespace
}  // namespace takeback::index
