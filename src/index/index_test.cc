#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "index/binary_index.h"
#include "index/checksum.h"
#include "index/hamming.h"
#include "index/snapshot_index.h"

namespace takeback::index {
namespace {

using hash::PdqHash;

PdqHash RandomHash(std::mt19937_64& rng) {
  PdqHash h;
  for (auto& w : h.words) w = rng();
  return h;
}

// A hash exactly `d` bits away from `h`.
PdqHash AtDistance(const PdqHash& h, int d, std::mt19937_64& rng) {
  std::vector<int> bits(256);
  for (int i = 0; i < 256; ++i) bits[static_cast<std::size_t>(i)] = i;
  std::shuffle(bits.begin(), bits.end(), rng);
  PdqHash out = h;
  for (int i = 0; i < d; ++i) {
    const int b = bits[static_cast<std::size_t>(i)];
    out.words[static_cast<std::size_t>(b >> 6)] ^= std::uint64_t{1} << (b & 63);
  }
  return out;
}

// The reference: a map searched exhaustively.
class BruteForce {
 public:
  void Add(std::uint64_t id, const PdqHash& h) { stored_[id] = h; }
  void Remove(std::uint64_t id) { stored_.erase(id); }
  std::vector<Neighbor> Range(const PdqHash& q, int radius) const {
    std::vector<Neighbor> out;
    for (const auto& [id, h] : stored_) {
      const int d = hash::HammingDistance(h, q);
      if (d <= radius) out.push_back({id, d});
    }
    Sort(&out);
    return out;
  }
  std::vector<Neighbor> Knn(const PdqHash& q, int k) const {
    std::vector<Neighbor> out;
    for (const auto& [id, h] : stored_) out.push_back({id, hash::HammingDistance(h, q)});
    Sort(&out);
    if (out.size() > static_cast<std::size_t>(k)) out.resize(static_cast<std::size_t>(k));
    return out;
  }
  const std::map<std::uint64_t, PdqHash>& stored() const { return stored_; }

 private:
  static void Sort(std::vector<Neighbor>* v) {
    std::sort(v->begin(), v->end(), [](const Neighbor& a, const Neighbor& b) {
      return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
    });
  }
  std::map<std::uint64_t, PdqHash> stored_;
};

std::unique_ptr<BinaryIndex> Make(const std::string& description) {
  auto index = MakeBinaryIndex(description);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return std::move(index).value();
}

// Random hashes plus clusters: around each centre, one planted neighbour at
// every distance 0..63.
struct Data {
  std::vector<std::uint64_t> ids;
  std::vector<PdqHash> hashes;
  std::vector<PdqHash> centres;
};

Data MakeData(std::size_t random_count, int clusters, std::mt19937_64& rng, std::uint64_t first_id) {
  Data data;
  std::uint64_t id = first_id;
  for (std::size_t i = 0; i < random_count; ++i) {
    data.ids.push_back(id++ * 7919);  // ids are sparse and not in insertion order
    data.hashes.push_back(RandomHash(rng));
  }
  for (int c = 0; c < clusters; ++c) {
    const PdqHash centre = RandomHash(rng);
    data.centres.push_back(centre);
    for (int d = 0; d <= kMaxRadius; ++d) {
      data.ids.push_back(id++ * 7919);
      data.hashes.push_back(AtDistance(centre, d, rng));
    }
  }
  return data;
}

void ExpectSame(const BinaryIndex& index, const BruteForce& ref, const std::vector<PdqHash>& queries,
                const std::string& what) {
  std::vector<Neighbor> got;
  for (std::size_t qi = 0; qi < queries.size(); ++qi) {
    for (int r = 0; r <= kMaxRadius; ++r) {
      ASSERT_TRUE(index.RangeSearch(queries[qi], r, &got).ok());
      ASSERT_EQ(got, ref.Range(queries[qi], r)) << what << " query " << qi << " radius " << r;
    }
  }
  EXPECT_EQ(index.size(), ref.stored().size()) << what;
}

const char* const kDescriptions[] = {"Flat", "MIH",           "MIH16",          "MIH20",         "MIH32",
                                     "MIHS", "MIH,recent=50", "Flat,recent=50", "MIHS,recent=50"};

class EveryIndex : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryIndex, MatchesBruteForceOnRandomAndClusteredData) {
  std::mt19937_64 rng(42);
  auto index = Make(GetParam());
  BruteForce ref;
  Data data = MakeData(3000, 12, rng, 1);
  ASSERT_TRUE(index->Add(data.ids, data.hashes).ok());
  for (std::size_t i = 0; i < data.ids.size(); ++i) ref.Add(data.ids[i], data.hashes[i]);
  std::vector<PdqHash> queries = data.centres;
  for (int i = 0; i < 4; ++i) queries.push_back(RandomHash(rng));
  queries.push_back(data.hashes[5]);
  ExpectSame(*index, ref, queries, "after bulk add");

  // Interleaved adds and removes, checking after each round.
  std::uint64_t next_id = 1000000;
  for (int round = 0; round < 6; ++round) {
    std::vector<std::uint64_t> remove;
    for (const auto& [id, h] : ref.stored()) {
      if (rng() % 9 == 0) remove.push_back(id);
    }
    remove.push_back(123456789);  // not stored: ignored
    auto removed = index->Remove(remove);
    ASSERT_TRUE(removed.ok());
    EXPECT_EQ(*removed, remove.size() - 1);
    for (std::uint64_t id : remove) ref.Remove(id);

    Data more = MakeData(40 + static_cast<std::size_t>(round) * 30, 1, rng, next_id);
    next_id += 1000;
    // Re-adding a removed id is allowed.
    more.ids.push_back(remove.front());
    more.hashes.push_back(AtDistance(data.centres[0], round, rng));
    ASSERT_TRUE(index->Add(more.ids, more.hashes).ok());
    for (std::size_t i = 0; i < more.ids.size(); ++i) ref.Add(more.ids[i], more.hashes[i]);
    std::vector<PdqHash> round_queries = {data.centres[static_cast<std::size_t>(round)], more.centres[0],
                                          RandomHash(rng)};
    ExpectSame(*index, ref, round_queries, "round " + std::to_string(round));
  }
  ASSERT_TRUE(index->Compact().ok());
  ExpectSame(*index, ref, {data.centres[0], data.centres[7]}, "after compaction");

  // k nearest.
  std::vector<Neighbor> got;
  for (int k : {0, 1, 5, 40, 200}) {
    ASSERT_TRUE(index->Knn(data.centres[3], k, &got).ok());
    EXPECT_EQ(got, ref.Knn(data.centres[3], k)) << "k=" << k;
    ASSERT_TRUE(index->Knn(queries.back(), k, &got).ok());
    EXPECT_EQ(got, ref.Knn(queries.back(), k)) << "k=" << k;
  }

  // Batch = one query at a time.
  auto batch = index->RangeSearchBatch(queries, kDefaultRadius);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->lims.size(), queries.size() + 1);
  for (std::size_t q = 0; q < queries.size(); ++q) {
    std::vector<Neighbor> slice(batch->neighbors.begin() + static_cast<std::ptrdiff_t>(batch->lims[q]),
                                batch->neighbors.begin() + static_cast<std::ptrdiff_t>(batch->lims[q + 1]));
    EXPECT_EQ(slice, ref.Range(queries[q], kDefaultRadius));
  }
}

TEST_P(EveryIndex, RejectsBadArguments) {
  auto index = Make(GetParam());
  std::mt19937_64 rng(1);
  const std::vector<std::uint64_t> ids = {1, 2, 2};
  const std::vector<PdqHash> hashes = {RandomHash(rng), RandomHash(rng), RandomHash(rng)};
  EXPECT_EQ(index->Add(ids, hashes).code(), ErrorCode::kInvalidArgument);                      // duplicate in batch
  EXPECT_EQ(index->Add(std::span(ids).first(2), hashes).code(), ErrorCode::kInvalidArgument);  // lengths
  ASSERT_TRUE(index->Add(std::span(ids).first(2), std::span(hashes).first(2)).ok());
  EXPECT_EQ(index->Add(std::span(ids).first(1), std::span(hashes).first(1)).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index->size(), 2U);
  std::vector<Neighbor> out;
  EXPECT_EQ(index->RangeSearch(hashes[0], -1, &out).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index->RangeSearch(hashes[0], 64, &out).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index->Knn(hashes[0], -1, &out).code(), ErrorCode::kInvalidArgument);
  std::vector<DihedralNeighbor> dihedral;
  EXPECT_EQ(index->RangeSearchDihedral(hashes, kDefaultRadius, &dihedral).code(), ErrorCode::kInvalidArgument);
}

TEST_P(EveryIndex, DihedralReturnsBestVariantPerId) {
  std::mt19937_64 rng(7);
  auto index = Make(GetParam());
  std::vector<PdqHash> variants;
  for (int v = 0; v < hash::kNumDihedral; ++v) variants.push_back(RandomHash(rng));
  // id 10 is near variants 2 (distance 9) and 5 (distance 4); id 11 near variant 0 only.
  const std::vector<std::uint64_t> ids = {10, 11, 12};
  PdqHash near_both = AtDistance(variants[5], 4, rng);
  std::vector<PdqHash> hashes = {near_both, AtDistance(variants[0], 20, rng), RandomHash(rng)};
  ASSERT_TRUE(index->Add(ids, hashes).ok());
  std::vector<DihedralNeighbor> out;
  ASSERT_TRUE(index->RangeSearchDihedral(variants, kDefaultRadius, &out).ok());
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].id, 10U);
  EXPECT_EQ(out[0].distance, 4);
  EXPECT_EQ(out[0].variant, 5);
  EXPECT_EQ(out[1].id, 11U);
  EXPECT_EQ(out[1].distance, 20);
  EXPECT_EQ(out[1].variant, 0);
}

TEST_P(EveryIndex, ConcurrentReadersWhileWriting) {
  std::mt19937_64 rng(3);
  auto index = Make(GetParam());
  const PdqHash centre = RandomHash(rng);
  // Stable hashes (ids 0..99) stay; churn ids 1000.. come and go.
  std::vector<std::uint64_t> ids;
  std::vector<PdqHash> hashes;
  for (std::uint64_t i = 0; i < 100; ++i) {
    ids.push_back(i);
    hashes.push_back(i < 10 ? AtDistance(centre, static_cast<int>(i), rng) : RandomHash(rng));
  }
  for (std::uint64_t i = 0; i < 2000; ++i) {
    ids.push_back(100000 + i);
    hashes.push_back(RandomHash(rng));
  }
  ASSERT_TRUE(index->Add(ids, hashes).ok());
  std::vector<PdqHash> churn(200);
  for (std::size_t i = 0; i < churn.size(); ++i) churn[i] = AtDistance(centre, static_cast<int>(i % 31), rng);

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto reader = [&] {
    std::vector<Neighbor> out;
    while (!stop.load()) {
      if (!index->RangeSearch(centre, kDefaultRadius, &out).ok()) ++failures;
      int stable = 0;
      for (const Neighbor& n : out) {
        if (n.id < 10) {
          ++stable;
          if (n.distance != static_cast<int>(n.id)) ++failures;
        } else if (n.id >= 1000 && n.id < 1000 + churn.size()) {
          if (n.distance != static_cast<int>((n.id - 1000) % 31)) ++failures;
        } else {
          ++failures;
        }
      }
      if (stable != 10) ++failures;
    }
  };
  std::thread r1(reader);
  std::thread r2(reader);
  for (int round = 0; round < 6; ++round) {
    for (std::size_t i = 0; i < churn.size(); ++i) {
      const std::uint64_t id = 1000 + i;
      ASSERT_TRUE(index->Add(std::span(&id, 1), std::span(&churn[i], 1)).ok());
      // Visible as soon as Add returns.
      std::vector<Neighbor> out;
      ASSERT_TRUE(index->RangeSearch(churn[i], 0, &out).ok());
      ASSERT_FALSE(out.empty());
    }
    std::vector<std::uint64_t> remove;
    for (std::size_t i = 0; i < churn.size(); ++i) remove.push_back(1000 + i);
    ASSERT_TRUE(index->Remove(remove).ok());
  }
  stop = true;
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(index->size(), 2100U);
}

TEST_P(EveryIndex, SaveLoadRoundTripAndCorruption) {
  std::mt19937_64 rng(11);
  auto index = Make(GetParam());
  BruteForce ref;
  Data data = MakeData(2000, 3, rng, 1);
  ASSERT_TRUE(index->Add(data.ids, data.hashes).ok());
  for (std::size_t i = 0; i < data.ids.size(); ++i) ref.Add(data.ids[i], data.hashes[i]);
  std::vector<std::uint64_t> remove(data.ids.begin(), data.ids.begin() + 50);
  ASSERT_TRUE(index->Remove(remove).ok());
  for (std::uint64_t id : remove) ref.Remove(id);

  const std::string path = ::testing::TempDir() + "index_test_" + std::to_string(::getpid()) + ".tbk";
  ASSERT_TRUE(index->Save(path).ok());
  auto loaded = LoadBinaryIndex(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->Describe(), index->Describe());
  ExpectSame(**loaded, ref, data.centres, "loaded");
  // A loaded index stays incremental.
  const std::uint64_t new_id = 999;
  ASSERT_TRUE((*loaded)->Add(std::span(&new_id, 1), std::span(&data.centres[0], 1)).ok());
  ref.Add(new_id, data.centres[0]);
  ASSERT_TRUE((*loaded)->Remove(std::span(&data.ids[100], 1)).ok());
  ref.Remove(data.ids[100]);
  ExpectSame(**loaded, ref, {data.centres[0]}, "loaded then changed");
  loaded = Status(ErrorCode::kInternal, "released");  // unmap before rewriting the file

  std::vector<char> bytes;
  {
    bytes.resize(std::filesystem::file_size(path));
    std::ifstream in(path, std::ios::binary);
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto write_and_load = [&](const std::vector<char>& content) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
    }
    return LoadBinaryIndex(path);
  };
  auto expect_corrupt = [&](const std::vector<char>& content, const std::string& needle, const std::string& what) {
    auto r = write_and_load(content);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << what << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << what << ": " << r.status().ToString();
  };
  // Flipped bytes: magic, version, header fields, section data (hashes, ids, tables, last byte).
  auto flipped = [&](std::size_t at) {
    std::vector<char> c = bytes;
    c[at] = static_cast<char>(c[at] ^ 0x20);
    return c;
  };
  expect_corrupt(flipped(0), "magic", "flipped magic");
  expect_corrupt(flipped(8), "newer", "flipped version");
  {
    // A version 1 file (before bucket lines) is refused, naming the cause.
    std::vector<char> v1 = bytes;
    v1[8] = 1;
    v1[9] = v1[10] = v1[11] = 0;
    expect_corrupt(v1, "format version 1, written by an older Takeback", "version 1");
  }
  expect_corrupt(flipped(17), "checksum", "flipped count");
  expect_corrupt(flipped(4096 + 5), "checksum", "flipped hash byte");
  for (std::size_t at : {bytes.size() / 3, bytes.size() / 2, bytes.size() - 1 - 4096}) {
    auto r = write_and_load(flipped(at));
    // Padding bytes are not covered; every other byte is.
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
    }
  }
  for (std::size_t len : {std::size_t{0}, std::size_t{7}, std::size_t{40}, std::size_t{100}, std::size_t{4096},
                          bytes.size() / 2, bytes.size() - 1}) {
    expect_corrupt(std::vector<char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len)), "",
                   "truncated to " + std::to_string(len));
  }
  std::vector<char> longer = bytes;
  longer.push_back(0);
  expect_corrupt(longer, "size", "extra byte");
  ASSERT_TRUE(write_and_load(bytes).ok());  // the original still loads
  std::filesystem::remove(path);
  EXPECT_EQ(LoadBinaryIndex(path).status().code(), ErrorCode::kNotFound);
}

// An empty index (a server with no signals of a type) saves a file that
// loads back empty and stays usable.
TEST_P(EveryIndex, EmptyIndexSavesAndLoads) {
  auto index = Make(GetParam());
  const std::string path = ::testing::TempDir() + "index_empty_" + std::to_string(::getpid()) + ".tbk";
  ASSERT_TRUE(index->Save(path).ok());
  auto loaded = LoadBinaryIndex(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 0U);
  std::mt19937_64 rng(5);
  const PdqHash h = RandomHash(rng);
  std::vector<Neighbor> out;
  ASSERT_TRUE((*loaded)->RangeSearch(h, kDefaultRadius, &out).ok());
  EXPECT_TRUE(out.empty());
  const std::uint64_t id = 7;
  ASSERT_TRUE((*loaded)->Add(std::span(&id, 1), std::span(&h, 1)).ok());
  ASSERT_TRUE((*loaded)->RangeSearch(h, 0, &out).ok());
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].id, 7U);
  loaded = Status(ErrorCode::kInternal, "released");
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Index, EveryIndex, ::testing::ValuesIn(kDescriptions), [](const auto& param_info) {
  std::string name = param_info.param;
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return name;
});

// Many hashes sharing chunk values overflow their 64-byte bucket lines into
// overflow records (docs/formats/index.md); results must not change.
TEST_P(EveryIndex, EqualAndNearEqualHashesOverflowBucketLines) {
  std::mt19937_64 rng(17);
  auto index = Make(GetParam());
  BruteForce ref;
  const PdqHash centre = RandomHash(rng);
  std::vector<std::uint64_t> ids;
  std::vector<PdqHash> hashes;
  for (std::uint64_t i = 0; i < 300; ++i) {  // 300 copies of one hash, then 300 within 1..3 bits
    ids.push_back(i * 13 + 5);
    hashes.push_back(i < 300 / 2 ? centre : AtDistance(centre, 1 + static_cast<int>(i % 3), rng));
  }
  for (std::uint64_t i = 0; i < 1000; ++i) {
    ids.push_back(100000 + i);
    hashes.push_back(RandomHash(rng));
  }
  ASSERT_TRUE(index->Add(ids, hashes).ok());
  for (std::size_t i = 0; i < ids.size(); ++i) ref.Add(ids[i], hashes[i]);
  ASSERT_TRUE(index->Compact().ok());
  ExpectSame(*index, ref, {centre, AtDistance(centre, 2, rng), hashes[400]}, "overflowing lines");
  const std::string path = ::testing::TempDir() + "index_overflow_" + std::to_string(::getpid()) + ".tbk";
  ASSERT_TRUE(index->Save(path).ok());
  auto loaded = LoadBinaryIndex(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ExpectSame(**loaded, ref, {centre, AtDistance(centre, 5, rng)}, "overflowing lines, loaded");
  loaded = Status(ErrorCode::kInternal, "released");
  std::filesystem::remove(path);
}

// "MIH" switches to ring tables from kRingMinN hashes (and back below it),
// with results still exact, through a save and a load.
TEST(RingTables, ChosenBySizeAndExact) {
  std::mt19937_64 rng(23);
  auto index = Make("MIH");
  BruteForce ref;
  Data data = MakeData(66000, 4, rng, 1);
  ASSERT_TRUE(index->Add(data.ids, data.hashes).ok());
  for (std::size_t i = 0; i < data.ids.size(); ++i) ref.Add(data.ids[i], data.hashes[i]);
  ASSERT_TRUE(index->Compact().ok());
  EXPECT_EQ(index->Describe(), "MIH(chunks=16, ring)");
  ExpectSame(*index, ref, {data.centres[0], RandomHash(rng)}, "ring tables");
  {
    // A batch longer than the probe's pipeline batch, with a delta (removes and adds) on top.
    std::vector<std::uint64_t> gone(data.ids.begin() + 20000, data.ids.begin() + 20100);
    ASSERT_TRUE(index->Remove(gone).ok());
    for (std::uint64_t id : gone) ref.Remove(id);
    const std::uint64_t added_id = 1ULL << 40;
    const PdqHash added = AtDistance(data.centres[1], 7, rng);
    ASSERT_TRUE(index->Add(std::span(&added_id, 1), std::span(&added, 1)).ok());
    ref.Add(added_id, added);
    std::vector<PdqHash> queries;
    for (std::size_t i = 0; i < 40; ++i) {
      queries.push_back(i % 3 == 0   ? AtDistance(data.hashes[20000 + i], static_cast<int>(i % 32), rng)
                        : i % 3 == 1 ? AtDistance(data.centres[i % 4], static_cast<int>(i % 40), rng)
                                     : RandomHash(rng));
    }
    auto batch = index->RangeSearchBatch(queries, kDefaultRadius);
    ASSERT_TRUE(batch.ok());
    ASSERT_EQ(batch->lims.size(), queries.size() + 1);
    std::size_t found = 0;
    for (std::size_t q = 0; q < queries.size(); ++q) {
      std::vector<Neighbor> slice(batch->neighbors.begin() + static_cast<std::ptrdiff_t>(batch->lims[q]),
                                  batch->neighbors.begin() + static_cast<std::ptrdiff_t>(batch->lims[q + 1]));
      EXPECT_EQ(slice, ref.Range(queries[q], kDefaultRadius)) << "query " << q;
      found += slice.size();
    }
    EXPECT_GT(found, 12U);  // the near queries do find their hashes (or the removed ones do not)
  }
  const std::string path = ::testing::TempDir() + "index_ring_" + std::to_string(::getpid()) + ".tbk";
  ASSERT_TRUE(index->Save(path).ok());
  {
    auto loaded = LoadBinaryIndex(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ((*loaded)->Describe(), "MIH(chunks=16, ring)");
    ExpectSame(**loaded, ref, {data.centres[1]}, "ring tables, loaded");
  }
  std::filesystem::remove(path);
  // Below the threshold the next compaction goes back to bucket lines.
  std::vector<std::uint64_t> remove(data.ids.begin(), data.ids.begin() + 1000);
  ASSERT_TRUE(index->Remove(remove).ok());
  for (std::uint64_t id : remove) ref.Remove(id);
  ASSERT_TRUE(index->Compact().ok());
  EXPECT_EQ(index->Describe().find("ring"), std::string::npos) << index->Describe();
  ExpectSame(*index, ref, {data.centres[0]}, "back to bucket lines");
}

// A hash whose 16-bit word c lies exactly d[c] bits from the query's.
PdqHash WithChunkDistances(const PdqHash& query, const std::array<int, 16>& d, std::mt19937_64& rng) {
  PdqHash out = query;
  for (int c = 0; c < 16; ++c) {
    std::array<int, 16> bits{};
    for (int b = 0; b < 16; ++b) bits[static_cast<std::size_t>(b)] = b;
    std::shuffle(bits.begin(), bits.end(), rng);
    for (int i = 0; i < d[static_cast<std::size_t>(c)]; ++i) {
      const int bit = 16 * c + bits[static_cast<std::size_t>(i)];
      out.words[static_cast<std::size_t>(bit >> 6)] ^= std::uint64_t{1} << (bit & 63);
    }
  }
  return out;
}

std::array<int, 16> Rotated(const std::array<int, 16>& d, int by) {
  std::array<int, 16> out{};
  for (std::size_t c = 0; c < 16; ++c) out[(c + static_cast<std::size_t>(by)) % 16] = d[c];
  return out;
}

// Ring tables keep a candidate of chunk i only when d_i <= t_i and
// d_i + d_{i+1} <= t_i + t_{i+1} + 1, and report it from the first such
// chunk (snapshot_index.h, RingFinds). Hashes whose chunk distances sit
// exactly on those bounds, every rotation of them around the ring, must be
// found exactly once at every radius: (2,...,2,1) is 31 and found only
// where its 1 is followed by a 2 (1 + 2 = 3, the bound); (2,...,2) is 32;
// (1,3,...) and (0,4,...) pass d_i <= 1 but fail the chain at i and must be
// found (or not) elsewhere, so reporting from the first chunk with d_i <= t_i
// alone would lose them; (0,3,...) sits on the w = 0 bound. Both block sizes,
// single and batch searches, and after a save and load.
TEST(RingTables, MatchesOnTheChainBoundsAreFoundExactlyOnce) {
  std::mt19937_64 rng(31);
  const PdqHash query = RandomHash(rng);
  std::vector<std::array<int, 16>> spreads;
  std::array<int, 16> twos{};
  twos.fill(2);
  std::array<int, 16> last_one = twos;
  last_one[15] = 1;
  std::array<int, 16> one_three = twos;  // 1 + 3 fails at chunk 0; found where a 1 is followed by a 2
  one_three[0] = 1;
  one_three[1] = 3;
  one_three[5] = 1;
  one_three[9] = 0;
  std::array<int, 16> zero_four = twos;  // 0 + 4 fails at chunk 0
  zero_four[0] = 0;
  zero_four[1] = 4;
  zero_four[2] = 1;
  zero_four[3] = 2;
  std::array<int, 16> zero_three = twos;  // 0 + 3 = 3 at chunk 0: on the bound
  zero_three[0] = 0;
  zero_three[1] = 3;
  std::array<int, 16> threes{};  // 1,3 pairs: 32, no chunk passes the chain at radius 31
  for (std::size_t c = 0; c < 16; ++c) threes[c] = c % 2 == 0 ? 1 : 3;
  for (const auto& base : {twos, last_one, one_three, zero_four, zero_three, threes}) {
    for (int by = 0; by < 16; ++by) spreads.push_back(Rotated(base, by));
  }
  // Random spreads of 0..4 per chunk.
  for (int i = 0; i < 200; ++i) {
    std::array<int, 16> d{};
    for (int& v : d) v = static_cast<int>(rng() % 5);
    spreads.push_back(d);
  }
  for (const std::size_t slots : {std::size_t{16}, std::size_t{32}}) {
    internal::Options options;
    options.ring = true;
    options.ring_block_slots = slots;
    internal::SnapshotIndex index(options);
    BruteForce ref;
    std::vector<std::uint64_t> ids;
    std::vector<PdqHash> hashes;
    for (std::size_t i = 0; i < spreads.size(); ++i) {
      ids.push_back(1000 + i);
      hashes.push_back(WithChunkDistances(query, spreads[i], rng));
    }
    // Enough hashes that radii up to ~40 probe rather than scan (PlanProbes).
    for (std::uint64_t i = 0; i < 20000; ++i) {
      ids.push_back(100000 + i);
      hashes.push_back(RandomHash(rng));
    }
    ASSERT_TRUE(index.Add(ids, hashes).ok());
    for (std::size_t i = 0; i < ids.size(); ++i) ref.Add(ids[i], hashes[i]);
    ASSERT_TRUE(index.Compact().ok());
    ASSERT_EQ(index.Describe(), "MIHS(chunks=16, ring)");
    const std::string what = "block slots " + std::to_string(slots);
    ExpectSame(index, ref, {query}, what);
    // At radius 31 every planted hash of distance <= 31 is found: guards the
    // brute-force reference against a test that plants nothing in range.
    EXPECT_GE(ref.Range(query, kDefaultRadius).size(), 16U * 4);
    std::vector<PdqHash> batch(40, query);
    for (int r : {29, 30, 31, 32, 33}) {
      auto result = index.RangeSearchBatch(batch, r);
      ASSERT_TRUE(result.ok());
      for (std::size_t q = 0; q < batch.size(); ++q) {
        std::vector<Neighbor> slice(result->neighbors.begin() + static_cast<std::ptrdiff_t>(result->lims[q]),
                                    result->neighbors.begin() + static_cast<std::ptrdiff_t>(result->lims[q + 1]));
        ASSERT_EQ(slice, ref.Range(query, r)) << what << " batch query " << q << " radius " << r;
      }
    }
    const std::string path = ::testing::TempDir() + "index_ring_bounds_" + std::to_string(::getpid()) + ".tbk";
    ASSERT_TRUE(index.Save(path).ok());
    {
      auto loaded = LoadBinaryIndex(path);
      ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
      ExpectSame(**loaded, ref, {query}, what + ", loaded");
    }
    std::filesystem::remove(path);
  }
}

// A version 3 file (sketch tables, written by the previous release, as a
// server's snapshot may be) is written here byte by byte from
// docs/formats/index.md and must load as ring tables with the same answers,
// and save again as version 4.
TEST(RingTables, LoadsAVersion3SketchFile) {
  std::mt19937_64 rng(43);
  Data data = MakeData(20000, 6, rng, 1);
  std::vector<std::pair<std::uint64_t, PdqHash>> sorted;
  BruteForce ref;
  for (std::size_t i = 0; i < data.ids.size(); ++i) {
    sorted.emplace_back(data.ids[i], data.hashes[i]);
    ref.Add(data.ids[i], data.hashes[i]);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::size_t n = sorted.size();
  auto word = [](const PdqHash& h, int k) {
    return static_cast<std::uint16_t>(h.words[static_cast<std::size_t>(k >> 2) % 4] >> (16 * (k & 3)));
  };
  std::vector<std::vector<unsigned char>> sections;
  auto append = [](std::vector<unsigned char>* out, const void* p, std::size_t bytes) {
    const auto* b = static_cast<const unsigned char*>(p);
    out->insert(out->end(), b, b + bytes);
  };
  sections.emplace_back();
  sections.emplace_back();
  for (const auto& [id, h] : sorted) {
    append(&sections[0], h.words.data(), 32);
    append(&sections[1], &id, 8);
  }
  for (int c = 0; c < 16; ++c) {
    std::vector<std::uint32_t> offsets(65537, 0);
    for (const auto& entry : sorted) ++offsets[word(entry.second, c) + 1U];
    for (std::size_t b = 0; b < 65536; ++b) offsets[b + 1] += offsets[b];
    std::vector<unsigned char> sketches(n * 12);
    std::vector<std::uint32_t> positions(n);
    std::vector<std::uint32_t> cursor(offsets.begin(), offsets.end() - 1);
    for (std::size_t i = 0; i < n; ++i) {
      const PdqHash& h = sorted[i].second;
      const std::uint32_t at = cursor[word(h, c)]++;
      for (int k = 0; k < 6; ++k) {
        const std::uint16_t w = word(h, (c + 1 + k) % 16);
        std::memcpy(sketches.data() + std::size_t{at} * 12 + 2 * static_cast<std::size_t>(k), &w, 2);
      }
      positions[at] = static_cast<std::uint32_t>(i);
    }
    sections.emplace_back();
    append(&sections.back(), offsets.data(), offsets.size() * 4);
    sections.push_back(std::move(sketches));
    sections.emplace_back();
    append(&sections.back(), positions.data(), positions.size() * 4);
  }
  auto put32 = [&](std::vector<unsigned char>* out, std::uint32_t v) { append(out, &v, 4); };
  auto put64 = [&](std::vector<unsigned char>* out, std::uint64_t v) { append(out, &v, 8); };
  auto align = [](std::size_t v) { return (v + 4095) / 4096 * 4096; };
  const std::size_t header_bytes = 48 + 32 * sections.size() + 8;
  std::vector<std::size_t> offsets;
  std::size_t at = align(header_bytes);
  for (const auto& s : sections) {
    offsets.push_back(at);
    at = align(at + s.size());
  }
  std::vector<unsigned char> file;
  append(&file, "TBKINDEX", 8);
  put32(&file, 3);
  put32(&file, static_cast<std::uint32_t>(header_bytes));
  put64(&file, n);
  put32(&file, 2);   // MIH
  put32(&file, 16);  // chunks
  put32(&file, static_cast<std::uint32_t>(sections.size()));
  put32(&file, 1 | 4);  // automatic chunk count, sketch tables
  put64(&file, at);     // file size
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const std::uint32_t type = i == 0 ? 1 : i == 1 ? 2 : 5 + static_cast<std::uint32_t>((i - 2) % 3);
    put32(&file, type);
    put32(&file, i < 2 ? 0 : static_cast<std::uint32_t>((i - 2) / 3));
    put64(&file, offsets[i]);
    put64(&file, sections[i].size());
    put64(&file, internal::Xxh64(sections[i].data(), sections[i].size()));
  }
  put64(&file, internal::Xxh64(file.data(), file.size()));
  for (std::size_t i = 0; i < sections.size(); ++i) {
    file.resize(offsets[i], 0);
    file.insert(file.end(), sections[i].begin(), sections[i].end());
  }
  file.resize(at, 0);
  const std::string path = ::testing::TempDir() + "index_v3_" + std::to_string(::getpid()) + ".tbk";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
  }
  std::vector<PdqHash> queries = data.centres;
  queries.push_back(RandomHash(rng));
  {
    auto loaded = LoadBinaryIndex(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ((*loaded)->Describe(), "MIH(chunks=16, ring)");
    ExpectSame(**loaded, ref, queries, "version 3 file");
    ASSERT_TRUE((*loaded)->Save(path + ".v4").ok());
  }
  {
    std::ifstream in(path + ".v4", std::ios::binary);
    char header[12] = {};
    in.read(header, sizeof(header));
    EXPECT_EQ(header[8], 4) << "saved as version 4";
    auto loaded = LoadBinaryIndex(path + ".v4");
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    ExpectSame(**loaded, ref, {queries[0]}, "version 3 file saved as version 4");
  }
  // A damaged version 3 offsets section is refused by its checksum, and
  // offsets that do not ascend (checksums made to match) by the structure check.
  auto write = [&path](const std::vector<unsigned char>& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
  };
  std::vector<unsigned char> damaged = file;
  damaged[offsets[2] + 4 * 100] ^= 1;
  write(damaged);
  auto refused = LoadBinaryIndex(path);
  EXPECT_EQ(refused.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(refused.status().message().find("checksum"), std::string::npos) << refused.status().ToString();
  std::vector<unsigned char> descending = file;
  const auto huge = static_cast<std::uint32_t>(n + 5);
  std::memcpy(descending.data() + offsets[2] + 4 * 100, &huge, 4);
  const std::uint64_t section_sum = internal::Xxh64(descending.data() + offsets[2], sections[2].size());
  std::memcpy(descending.data() + 48 + 32 * 2 + 24, &section_sum, 8);
  const std::uint64_t header_sum = internal::Xxh64(descending.data(), header_bytes - 8);
  std::memcpy(descending.data() + header_bytes - 8, &header_sum, 8);
  write(descending);
  refused = LoadBinaryIndex(path);
  EXPECT_EQ(refused.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(refused.status().message().find("chunk 0 ring table is inconsistent"), std::string::npos)
      << refused.status().ToString();
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".v4");
}

// A version 4 file whose ring blocks are well formed on the outside
// (checksums made to match) but inconsistent inside is refused, never read
// out of bounds: a block's count that overruns the entries, a first entry
// that skips some, and a block size other than 16 or 32.
TEST(RingTables, InconsistentBlocksAreRefused) {
  std::mt19937_64 rng(47);
  auto index = Make("MIHS");
  Data data = MakeData(3000, 1, rng, 1);
  ASSERT_TRUE(index->Add(data.ids, data.hashes).ok());
  const std::string path = ::testing::TempDir() + "index_ring_blocks_" + std::to_string(::getpid()) + ".tbk";
  ASSERT_TRUE(index->Save(path).ok());
  std::vector<unsigned char> bytes(std::filesystem::file_size(path));
  {
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  std::uint32_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data() + 12, 4);
  // Section 2 is chunk 0's blocks: type 8, param 0 + 65536 x slots.
  const unsigned char* entry = bytes.data() + 48 + 32 * 2;
  std::uint32_t type = 0;
  std::uint32_t param = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::memcpy(&type, entry, 4);
  std::memcpy(&param, entry + 4, 4);
  std::memcpy(&offset, entry + 8, 8);
  std::memcpy(&length, entry + 16, 8);
  ASSERT_EQ(type, 8U);
  const std::size_t slots = param >> 16;
  ASSERT_EQ(slots, 16U);  // 3,064 hashes: 32-byte blocks
  auto reseal = [&](std::vector<unsigned char>* c) {
    const std::uint64_t section_sum = internal::Xxh64(c->data() + offset, length);
    std::memcpy(c->data() + 48 + 32 * 2 + 24, &section_sum, 8);
    const std::uint64_t header_sum = internal::Xxh64(c->data(), header_bytes - 8);
    std::memcpy(c->data() + header_bytes - 8, &header_sum, 8);
  };
  auto expect_refused = [&](const std::vector<unsigned char>& c, const std::string& needle, const std::string& what) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(c.data()), static_cast<std::streamsize>(c.size()));
    }
    auto r = LoadBinaryIndex(path);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << what;
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << what << ": " << r.status().ToString();
  };
  auto slot = [&](std::vector<unsigned char>* c, std::size_t block, std::size_t s) {
    return c->data() + offset + 2 * (block * slots + s);
  };
  {
    std::vector<unsigned char> c = bytes;  // the last block's count overruns n
    const std::uint16_t big = 0xffff;
    std::memcpy(slot(&c, 65535, slots - 2), &big, 2);
    reseal(&c);
    expect_refused(c, "chunk 0 ring table is inconsistent", "count past the end");
  }
  {
    std::vector<unsigned char> c = bytes;  // block 1 starts one entry late
    std::uint16_t first = 0;
    std::memcpy(&first, slot(&c, 1, slots - 4), 2);
    ++first;
    std::memcpy(slot(&c, 1, slots - 4), &first, 2);
    reseal(&c);
    expect_refused(c, "chunk 0 ring table is inconsistent", "first entry skipped");
  }
  {
    std::vector<unsigned char> c = bytes;  // 24 slots per block
    const std::uint32_t bad = 24U << 16;
    std::memcpy(c.data() + 48 + 32 * 2 + 4, &bad, 4);
    reseal(&c);
    expect_refused(c, "bad block slots", "24 slots");
  }
  {
    std::vector<unsigned char> c = bytes;  // inline keys that disagree: wrong answers at worst, still loads
    const std::uint16_t key = 0x5a5a;
    std::memcpy(slot(&c, 7, 0), &key, 2);
    reseal(&c);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(c.data()), static_cast<std::streamsize>(c.size()));
    }
    auto r = LoadBinaryIndex(path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::vector<Neighbor> out;
    EXPECT_TRUE((*r)->RangeSearch(data.centres[0], kDefaultRadius, &out).ok());
  }
  std::filesystem::remove(path);
}

// Writes made while a compaction rebuilds the base in the background neither
// wait for it nor get lost: the compaction is held after building its new
// base (before it replays the writes made meanwhile) while this thread adds,
// removes, re-adds with a new hash, and searches.
TEST(BackgroundCompaction, WritesDuringRebuildAreVisibleAndReplayed) {
  for (const internal::Kind kind : {internal::Kind::kMih, internal::Kind::kFlat}) {
    std::mutex mu;
    std::condition_variable cv;
    bool built = false;
    bool release = false;
    int hook_calls = 0;
    internal::Options options;
    options.kind = kind;
    options.max_recent = 1000;
    options.after_build_hook = [&] {
      std::unique_lock<std::mutex> lock(mu);
      if (++hook_calls > 1) return;  // only the first compaction is held
      built = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    };
    internal::SnapshotIndex index(options);
    std::mt19937_64 rng(99);
    BruteForce ref;
    Data data = MakeData(3000, 8, rng, 1);
    // More than max_recent at once: starts a background compaction.
    ASSERT_TRUE(index.Add(data.ids, data.hashes).ok());
    for (std::size_t i = 0; i < data.ids.size(); ++i) ref.Add(data.ids[i], data.hashes[i]);
    {
      std::unique_lock<std::mutex> lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return built; }));
    }
    ASSERT_TRUE(index.Compacting());
    // Writes while the rebuild waits: each returns and is visible at once.
    std::uint64_t next_id = 5000000;
    for (int round = 0; round < 20; ++round) {
      Data more = MakeData(5, 1, rng, next_id);  // 5 random + 64 planted around a new centre
      next_id += 1000;
      ASSERT_TRUE(index.Add(more.ids, more.hashes).ok());
      for (std::size_t i = 0; i < more.ids.size(); ++i) ref.Add(more.ids[i], more.hashes[i]);
      // Remove a few ids that the rebuild's snapshot holds, and one just added.
      std::vector<std::uint64_t> remove = {data.ids[static_cast<std::size_t>(round) * 7], more.ids[3]};
      auto removed = index.Remove(remove);
      ASSERT_TRUE(removed.ok());
      EXPECT_EQ(*removed, 2U);
      for (std::uint64_t id : remove) ref.Remove(id);
      // Re-add a removed id with a different hash.
      if (round % 2 == 0) {
        const PdqHash moved = AtDistance(data.centres[static_cast<std::size_t>(round) % 8], round, rng);
        ASSERT_TRUE(index.Add(std::span(&remove[0], 1), std::span(&moved, 1)).ok());
        ref.Add(remove[0], moved);
      }
      ExpectSame(index, ref, {more.centres[0], data.centres[static_cast<std::size_t>(round) % 8]},
                 "during rebuild, round " + std::to_string(round));
    }
    EXPECT_TRUE(index.Compacting()) << "the writes above must have run during the rebuild";
    EXPECT_EQ(index.CompactionsDone(), 0U);
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
    // Compact() waits for the background compaction, then folds the rest.
    ASSERT_TRUE(index.Compact().ok());
    EXPECT_FALSE(index.Compacting());
    EXPECT_GE(index.CompactionsDone(), 1U);
    EXPECT_TRUE(index.LastBackgroundStatus().ok());
    std::vector<PdqHash> queries = data.centres;
    queries.push_back(RandomHash(rng));
    ExpectSame(index, ref, queries, "after the rebuild");
  }
}

// A writer keeps writing while background compactions come and go; readers
// search meanwhile (run under ThreadSanitizer in build-index-tsan).
TEST(BackgroundCompaction, ContinuousWritesAcrossManyCompactions) {
  auto index = Make("MIH,recent=200");
  auto* snapshot_index = dynamic_cast<internal::SnapshotIndex*>(index.get());
  ASSERT_NE(snapshot_index, nullptr);
  std::mt19937_64 rng(5);
  BruteForce ref;
  Data data = MakeData(2000, 4, rng, 1);
  ASSERT_TRUE(index->Add(data.ids, data.hashes).ok());
  for (std::size_t i = 0; i < data.ids.size(); ++i) ref.Add(data.ids[i], data.hashes[i]);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    std::vector<Neighbor> out;
    while (!stop.load()) {
      // The planted neighbours of centre 0 (ids never removed below) are always there.
      if (!index->RangeSearch(data.centres[0], 10, &out).ok() || out.size() < 11) ++failures;
    }
  });
  std::uint64_t next_id = 1 << 30;
  std::vector<std::uint64_t> churn;
  for (int i = 0; i < 3000; ++i) {
    const std::uint64_t id = next_id++;
    const PdqHash h = RandomHash(rng);
    ASSERT_TRUE(index->Add(std::span(&id, 1), std::span(&h, 1)).ok());
    ref.Add(id, h);
    churn.push_back(id);
    if (i % 3 == 2) {
      const std::uint64_t gone = churn[static_cast<std::size_t>(rng() % churn.size())];
      auto removed = index->Remove(std::span(&gone, 1));
      ASSERT_TRUE(removed.ok());
      EXPECT_EQ(*removed, ref.stored().count(gone));
      ref.Remove(gone);
    }
  }
  stop = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(snapshot_index->CompactionsDone(), 1U) << "the delta limit of 200 must have started compactions";
  ExpectSame(*index, ref, {data.centres[0], data.centres[3], RandomHash(rng)}, "after churn");
  ASSERT_TRUE(index->Compact().ok());
  ExpectSame(*index, ref, {data.centres[1]}, "after churn and compaction");
}

TEST(Factory, RejectsUnknownDescriptions) {
  for (const char* bad : {"", "flat", "MIH4", "MIH65", "MIHx", "IVF", "MIH,recent=", "Flat,foo=1"}) {
    EXPECT_EQ(MakeBinaryIndex(bad).status().code(), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(Make("MIH16")->Describe(), "MIH16(chunks=0)");
  EXPECT_EQ(Make("MIHS")->Describe(), "MIHS(chunks=0)");
  EXPECT_EQ(Make("Flat")->Describe(), "Flat");
}

TEST(Kernels, EveryIsaMatchesScalarDistance) {
  std::mt19937_64 rng(5);
  std::vector<PdqHash> hashes;
  const PdqHash q = RandomHash(rng);
  for (int d = 0; d <= 256; ++d) hashes.push_back(AtDistance(q, d, rng));
  for (int i = 0; i < 100; ++i) hashes.push_back(RandomHash(rng));
  std::shuffle(hashes.begin(), hashes.end(), rng);
  int tested = 0;
  for (auto isa : {internal::Isa::kPortable, internal::Isa::kPopcnt, internal::Isa::kAvx2, internal::Isa::kAvx512}) {
    if (!internal::IsaSupported(isa)) continue;
    ++tested;
    const internal::Kernels& k = internal::KernelsFor(isa);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{5}, hashes.size()}) {
      std::vector<std::uint16_t> dist(n);
      k.distances(hashes.data(), n, q, dist.data());
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(dist[i], hash::HammingDistance(hashes[i], q));
      }
      for (int r : {0, 1, 31, 63, 128, 256}) {
        std::vector<std::uint32_t> pos(n);
        std::vector<std::uint16_t> d(n);
        const std::size_t found = k.scan(hashes.data(), n, q, r, 10, pos.data(), d.data());
        std::size_t want = 0;
        for (std::size_t i = 0; i < n; ++i) {
          if (hash::HammingDistance(hashes[i], q) > r) continue;
          ASSERT_LT(want, found);
          EXPECT_EQ(pos[want], i + 10);
          EXPECT_EQ(d[want], hash::HammingDistance(hashes[i], q));
          ++want;
        }
        EXPECT_EQ(found, want) << internal::IsaName(isa) << " r=" << r;
      }
    }
  }
  EXPECT_GE(tested, 1);
}

TEST(Checksum, Xxh64KnownValues) {
  EXPECT_EQ(internal::Xxh64("", 0), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(internal::Xxh64("abc", 3), 0x44BC2CF5AD770999ULL);
}

}  // namespace
}  // namespace takeback::index
