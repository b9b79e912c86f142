// Hash index benchmark (issue 3): exact range search, radius 31, over N
// random PDQ hashes with 1% of queries planted at distances 0..31 from a
// stored hash. Prints queries/s on 1 and 2 threads, build time, resident
// memory, recall against the flat scan, add/remove visibility latency, and
// the same workload through FAISS (Debian libfaiss-dev) when built with it.
//
// Usage: index_bench [--sizes 1000000,10000000] [--queries 20000] [--flat-queries 100]
//                    [--faiss-queries 500] [--faiss-flat-queries 20] [--recall-planted Q]
//                    [--mih MIH] [--no-faiss] [--snapshot DIR]
// --recall-planted limits the recall check to Q planted queries (and as many
// random ones); by default every planted query is checked. --snapshot saves
// the MIH index to DIR, loads it back (timed: the server's start from its
// snapshot) and runs the batches again on the loaded index.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "hash/pdq.h"
#include "index/binary_index.h"

#if TAKEBACK_HAVE_FAISS
#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexBinaryHash.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <omp.h>
#endif

namespace {

using takeback::bench::LoadAverage;
using takeback::bench::ProcessCpuSeconds;

using takeback::hash::PdqHash;
using takeback::index::BinaryIndex;
using takeback::index::Neighbor;
using Clock = std::chrono::steady_clock;

constexpr int kRadius = 31;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// VmRSS and VmHWM in MiB.
std::pair<double, double> Memory() {
  std::ifstream in("/proc/self/status");
  std::string line;
  double rss = 0;
  double hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return {rss, hwm};
}

PdqHash RandomHash(std::mt19937_64& rng) {
  PdqHash h;
  for (auto& w : h.words) w = rng();
  return h;
}

// Flips exactly `bits` distinct bits.
PdqHash AtDistance(const PdqHash& h, int bits, std::mt19937_64& rng) {
  PdqHash out = h;
  std::vector<int> order(256);
  for (int i = 0; i < 256; ++i) order[static_cast<std::size_t>(i)] = i;
  for (int i = 0; i < bits; ++i) {
    const auto j = static_cast<std::size_t>(i) + rng() % (256 - static_cast<std::size_t>(i));
    std::swap(order[static_cast<std::size_t>(i)], order[j]);
    const int b = order[static_cast<std::size_t>(i)];
    out.words[static_cast<std::size_t>(b >> 6)] ^= std::uint64_t{1} << (b & 63);
  }
  return out;
}

// CPU seconds of the calling thread.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Queries/s of one run: by wall clock, and per CPU-second of the querying
// threads (the fair figure on a shared machine: a thread that waits for a
// core is not charged).
struct Rate {
  double wall = 0;
  double cpu = 0;
};

// Runs queries [0, count) split over `threads` threads.
Rate Throughput(std::size_t count, int threads, const std::function<void(std::size_t)>& query) {
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  std::vector<double> cpu(static_cast<std::size_t>(threads), 0.0);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const double cpu0 = ThreadCpuSeconds();
      for (std::size_t i = static_cast<std::size_t>(t); i < count; i += static_cast<std::size_t>(threads)) query(i);
      cpu[static_cast<std::size_t>(t)] = ThreadCpuSeconds() - cpu0;
    });
  }
  for (auto& th : pool) th.join();
  const double wall = Seconds(start);
  double cpu_sum = 0;
  for (double c : cpu) cpu_sum += c;
  return {static_cast<double>(count) / wall, static_cast<double>(count) / cpu_sum};
}

// One index's figures: build, memory, and query rates by wall clock and per
// CPU-second, with the load average when the queries finished.
void PrintRow(const std::string& name, double build_s, double build_cpu, double resident, double hwm, Rate one,
              Rate two) {
  std::printf("%-24s build %6.2f s wall (%6.2f CPU-s)   resident +%7.1f MiB (VmHWM %7.1f MiB)   load %s\n",
              name.c_str(), build_s, build_cpu, resident, hwm, LoadAverage().c_str());
  std::printf("%-24s 1 thread %9.1f q/s wall %9.1f q/s per CPU-s   2 threads %9.1f q/s wall %9.1f q/s per CPU-s\n", "",
              one.wall, one.cpu, two.wall, two.cpu);
}

std::vector<std::size_t> ParseSizes(const std::string& s) {
  std::vector<std::size_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(static_cast<std::size_t>(std::strtoull(item.c_str(), nullptr, 10)));
  return out;
}

struct Args {
  std::vector<std::size_t> sizes = {1000000, 10000000};
  std::size_t queries = 20000;
  std::size_t flat_queries = 100;
  std::size_t faiss_queries = 500;
  std::size_t faiss_flat_queries = 20;
  std::size_t recall_planted = 1 << 30;  // every planted query
  bool faiss = true;
  std::string mih = "MIH";
  std::string snapshot_dir;  // empty: no save/load
};

void RunOne(std::size_t n, const Args& args) {
  std::printf("\n=== N = %zu stored hashes, radius %d ===\n", n, kRadius);
  std::mt19937_64 rng(20261125 + n);
  std::vector<std::uint64_t> ids(n);
  std::vector<PdqHash> hashes(n);
  for (std::size_t i = 0; i < n; ++i) {
    ids[i] = i * 2654435761ULL + 17;  // the caller's ids: sparse, not in insertion order
    hashes[i] = RandomHash(rng);
  }
  // Queries: 99% random, 1% planted at distance (k % 32) from a stored hash.
  std::vector<PdqHash> queries(args.queries);
  std::vector<PdqHash> planted;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    if (i % 100 == 0) {
      queries[i] = AtDistance(hashes[rng() % n], static_cast<int>(planted.size() % 32), rng);
      planted.push_back(queries[i]);
    } else {
      queries[i] = RandomHash(rng);
    }
  }
  // Recall set: every planted query plus as many random ones.
  const std::size_t recall_planted = std::min(planted.size(), args.recall_planted);
  std::vector<PdqHash> recall_set(planted.begin(), planted.begin() + static_cast<std::ptrdiff_t>(recall_planted));
  for (std::size_t i = 0; i < recall_planted; ++i) recall_set.push_back(queries[i * 100 + 1]);

  std::vector<std::vector<Neighbor>> flat_truth(recall_set.size());
  for (const std::string& desc : {std::string("Flat"), args.mih}) {
    const char* description = desc.c_str();
    const auto [rss0, hwm0] = Memory();
    auto made = takeback::index::MakeBinaryIndex(description);
    if (!made.ok()) {
      std::printf("%s: %s\n", description, made.status().ToString().c_str());
      return;
    }
    std::unique_ptr<BinaryIndex> index = std::move(made).value();
    const auto start = Clock::now();
    const double cpu0 = ProcessCpuSeconds();
    if (auto s = index->Add(ids, hashes); !s.ok()) {
      std::printf("%s: add failed: %s\n", description, s.ToString().c_str());
      return;
    }
    if (auto s = index->Compact(); !s.ok()) std::printf("compact failed: %s\n", s.ToString().c_str());
    const double build_s = Seconds(start);
    const double build_cpu = ProcessCpuSeconds() - cpu0;
    const auto [rss1, hwm1] = Memory();
    const bool is_flat = desc == "Flat";
    const std::size_t count = is_flat ? std::min(args.flat_queries, queries.size()) : queries.size();
    std::atomic<std::size_t> hits{0};
    auto one = [&](std::size_t i) {
      thread_local std::vector<Neighbor> out;
      if (!index->RangeSearch(queries[i], kRadius, &out).ok()) std::abort();
      if (!out.empty()) hits.fetch_add(1, std::memory_order_relaxed);
    };
    const Rate qps1 = Throughput(count, 1, one);
    const Rate qps2 = Throughput(count, 2, one);
    PrintRow(index->Describe(), build_s, build_cpu, rss1 - rss0, hwm1, qps1, qps2);
    if (!is_flat) {
      // The server's path: RangeSearchBatch of 100 queries (POST /v1/match batches).
      constexpr std::size_t kBatch = 100;
      auto batch = [&](std::size_t b) {
        const std::span<const PdqHash> part(queries.data() + b * kBatch, kBatch);
        if (!index->RangeSearchBatch(part, kRadius).ok()) std::abort();
      };
      const Rate batches = Throughput(count / kBatch, 1, batch);
      std::printf("%-24s batches of %zu, 1 thread: %9.1f q/s wall %9.1f q/s per CPU-s (%.2f us CPU per query)\n", "",
                  kBatch, batches.wall * kBatch, batches.cpu * kBatch, 1e6 / (batches.cpu * kBatch));
      if (!args.snapshot_dir.empty()) {
        // The server's snapshot: save, load (mapped, checked, tables copied
        // to huge pages), then the same batches on the loaded index.
        const std::string path = args.snapshot_dir + "/index_bench_" + std::to_string(n) + ".tbk";
        auto t0 = Clock::now();
        if (auto s = index->Save(path); !s.ok()) {
          std::printf("save failed: %s\n", s.ToString().c_str());
          return;
        }
        const double save_s = Seconds(t0);
        t0 = Clock::now();
        const double load_cpu0 = ProcessCpuSeconds();
        auto loaded = takeback::index::LoadBinaryIndex(path);
        const double load_s = Seconds(t0);
        const double load_cpu = ProcessCpuSeconds() - load_cpu0;
        if (!loaded.ok()) {
          std::printf("load failed: %s\n", loaded.status().ToString().c_str());
          return;
        }
        auto loaded_batch = [&](std::size_t b) {
          const std::span<const PdqHash> part(queries.data() + b * kBatch, kBatch);
          if (!(*loaded)->RangeSearchBatch(part, kRadius).ok()) std::abort();
        };
        const Rate again = Throughput(count / kBatch, 1, loaded_batch);
        std::printf(
            "%-24s snapshot %.0f MB: save %.2f s, load %.2f s wall (%.2f CPU-s); batches on the loaded index "
            "%.2f us CPU per query\n",
            "", static_cast<double>(std::filesystem::file_size(path)) / 1e6, save_s, load_s, load_cpu,
            1e6 / (again.cpu * kBatch));
        loaded = takeback::Status(takeback::ErrorCode::kInternal, "released");
        std::filesystem::remove(path);
      }
    }
    if (is_flat) {
      std::printf("%-24s scan %.1f GB/s wall, %.1f GB/s per CPU-s (1 thread), kernel %s", "",
                  qps1.wall * static_cast<double>(n) * 32 / 1e9, qps1.cpu * static_cast<double>(n) * 32 / 1e9,
                  std::string(takeback::index::KernelName()).c_str());
    }
    std::printf("%s[%zu queries, %zu with matches]\n", is_flat ? "   " : std::string(25, ' ').c_str(), count,
                hits.load() / 2);

    if (is_flat) {
      for (std::size_t i = 0; i < recall_set.size(); ++i) {
        if (!index->RangeSearch(recall_set[i], kRadius, &flat_truth[i]).ok()) std::abort();
      }
      continue;
    }
    // Recall against the flat scan.
    std::size_t found = 0;
    std::size_t expected = 0;
    std::size_t exact_lists = 0;
    for (std::size_t i = 0; i < recall_set.size(); ++i) {
      std::vector<Neighbor> out;
      if (!index->RangeSearch(recall_set[i], kRadius, &out).ok()) std::abort();
      expected += flat_truth[i].size();
      for (const Neighbor& nb : out) {
        found += std::count(flat_truth[i].begin(), flat_truth[i].end(), nb) > 0 ? 1 : 0;
      }
      exact_lists += out == flat_truth[i] ? 1 : 0;
    }
    std::printf(
        "recall of %s vs Flat on %zu queries (%zu planted): %zu / %zu matches = %.2f%%, identical lists %zu/%zu\n",
        index->Describe().c_str(), recall_set.size(), planted.size(), found, expected,
        expected == 0 ? 100.0 : 100.0 * static_cast<double>(found) / static_cast<double>(expected), exact_lists,
        recall_set.size());

    // Add/remove visibility: time from the call to its return; a query
    // started after the return sees the change (checked).
    constexpr int kUpdates = 200;
    double add_max = 0, add_sum = 0, remove_max = 0, remove_sum = 0;
    for (int i = 0; i < kUpdates; ++i) {
      const std::uint64_t id = (std::uint64_t{1} << 62) + static_cast<std::uint64_t>(i);
      const PdqHash h = RandomHash(rng);
      auto t0 = Clock::now();
      if (!index->Add(std::span(&id, 1), std::span(&h, 1)).ok()) std::abort();
      const double add_s = Seconds(t0);
      std::vector<Neighbor> out;
      if (!index->RangeSearch(h, 0, &out).ok() || out.empty() || out[0].id != id) std::abort();
      t0 = Clock::now();
      if (!index->Remove(std::span(&id, 1)).ok()) std::abort();
      const double remove_s = Seconds(t0);
      if (!index->RangeSearch(h, 0, &out).ok() || !out.empty()) std::abort();
      add_sum += add_s;
      remove_sum += remove_s;
      add_max = std::max(add_max, add_s);
      remove_max = std::max(remove_max, remove_s);
    }
    std::printf("one add visible after mean %.3f ms, max %.3f ms; one remove: mean %.3f ms, max %.3f ms (%d each)\n",
                1e3 * add_sum / kUpdates, 1e3 * add_max, 1e3 * remove_sum / kUpdates, 1e3 * remove_max, kUpdates);

    // Writes while a compaction rebuilds the base in the background: a batch
    // larger than the delta limit (16,384) starts one; single adds and
    // removes are then timed for a few seconds, and Compact() afterwards
    // shows how long the rebuild still had to run (so every timed write was
    // made during it when that is > 0).
    {
      constexpr std::size_t kTrigger = 20000;
      constexpr double kWindow = 3.0;
      std::vector<std::uint64_t> batch_ids(kTrigger);
      std::vector<PdqHash> batch_hashes(kTrigger);
      for (std::size_t i = 0; i < kTrigger; ++i) {
        batch_ids[i] = (std::uint64_t{1} << 61) + i;
        batch_hashes[i] = RandomHash(rng);
      }
      auto t0 = Clock::now();
      if (!index->Add(batch_ids, batch_hashes).ok()) std::abort();
      const double trigger_s = Seconds(t0);
      const auto window_start = Clock::now();
      double write_max = 0, write_sum = 0, write_cpu_max = 0;
      std::size_t writes = 0;
      for (std::uint64_t i = 0; Seconds(window_start) < kWindow; ++i) {
        const std::uint64_t id = (std::uint64_t{1} << 60) + i;
        const PdqHash h = RandomHash(rng);
        t0 = Clock::now();
        double c0 = ThreadCpuSeconds();
        if (!index->Add(std::span(&id, 1), std::span(&h, 1)).ok()) std::abort();
        double w = Seconds(t0);
        write_cpu_max = std::max(write_cpu_max, ThreadCpuSeconds() - c0);
        write_max = std::max(write_max, w);
        write_sum += w;
        std::vector<Neighbor> out;
        if (!index->RangeSearch(h, 0, &out).ok() || out.empty() || out[0].id != id) std::abort();
        t0 = Clock::now();
        c0 = ThreadCpuSeconds();
        if (!index->Remove(std::span(&id, 1)).ok()) std::abort();
        w = Seconds(t0);
        write_cpu_max = std::max(write_cpu_max, ThreadCpuSeconds() - c0);
        write_max = std::max(write_max, w);
        write_sum += w;
        writes += 2;
      }
      t0 = Clock::now();
      if (!index->Compact().ok()) std::abort();
      const double rest_s = Seconds(t0);
      std::printf(
          "during a background compaction: the triggering add of %zu took %.3f ms; then %zu single adds/removes "
          "in %.1f s, mean %.3f ms, max %.3f ms wall (max %.3f ms CPU: the rest is waiting for a core); Compact() "
          "then waited %.2f s more for the rebuild\n",
          kTrigger, 1e3 * trigger_s, writes, kWindow, 1e3 * write_sum / static_cast<double>(writes), 1e3 * write_max,
          1e3 * write_cpu_max, rest_s);
    }
  }

#if TAKEBACK_HAVE_FAISS
  if (!args.faiss) return;
  const auto* codes = reinterpret_cast<const std::uint8_t*>(hashes.data());
  for (int kind = 0; kind < 2; ++kind) {
    const auto [rss0, hwm0] = Memory();
    std::unique_ptr<faiss::IndexBinary> index;
    std::string name;
    if (kind == 0) {
      auto mh = std::make_unique<faiss::IndexBinaryMultiHash>(256, 16, 16);
      mh->nflip = 1;  // 16 x 16-bit tables, one flipped bit: exact at radius 31
      name = "FAISS MultiHash(16x16)";
      index = std::move(mh);
    } else {
      index = std::make_unique<faiss::IndexBinaryFlat>(256);
      name = "FAISS BinaryFlat";
    }
    omp_set_num_threads(2);
    auto start = Clock::now();
    const double cpu0 = ProcessCpuSeconds();
    index->add(static_cast<faiss::IndexBinary::idx_t>(n), codes);
    const double build_s = Seconds(start);
    const double build_cpu = ProcessCpuSeconds() - cpu0;
    const auto [rss1, hwm1] = Memory();
    const std::size_t count = std::min(kind == 0 ? args.faiss_queries : args.faiss_flat_queries, queries.size());
    auto one = [&](std::size_t i) {
      faiss::RangeSearchResult result(1);
      index->range_search(1, reinterpret_cast<const std::uint8_t*>(queries[i].words.data()), kRadius + 1, &result);
    };
    omp_set_num_threads(1);
    const Rate qps1 = Throughput(count, 1, one);
    const Rate qps2 = Throughput(count, 2, one);
    // FAISS's radius is strict (distance < radius), hence kRadius + 1 above.
    std::size_t faiss_found = 0;
    std::size_t truth = 0;
    for (std::size_t i = 0; i < recall_set.size(); ++i) {
      faiss::RangeSearchResult result(1);
      index->range_search(1, reinterpret_cast<const std::uint8_t*>(recall_set[i].words.data()), kRadius + 1, &result);
      faiss_found += result.lims[1];
      truth += flat_truth[i].size();
      if (kind == 1 && i >= args.faiss_flat_queries) break;
    }
    PrintRow(name, build_s, build_cpu, rss1 - rss0, hwm1, qps1, qps2);
    std::printf("   [%zu queries; matches %zu vs Flat's %zu on the recall set%s]\n", count, faiss_found, truth,
                kind == 1 ? " prefix" : "");
  }
#endif
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--sizes") {
      args.sizes = ParseSizes(next());
    } else if (a == "--queries") {
      args.queries = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--flat-queries") {
      args.flat_queries = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--faiss-queries") {
      args.faiss_queries = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--faiss-flat-queries") {
      args.faiss_flat_queries = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--mih") {
      args.mih = next();
    } else if (a == "--recall-planted") {
      args.recall_planted = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--no-faiss") {
      args.faiss = false;
    } else if (a == "--snapshot") {
      args.snapshot_dir = next();
    } else {
      std::fprintf(stderr,
                   "usage: index_bench [--sizes N,N] [--queries Q] [--flat-queries Q] [--faiss-queries Q] "
                   "[--faiss-flat-queries Q] [--recall-planted Q] [--mih DESCRIPTION] [--no-faiss] [--snapshot DIR]\n");
      return 2;
    }
  }
  std::printf("index_bench: kernel %s, %u hardware threads, load average %s\n",
              std::string(takeback::index::KernelName()).c_str(), std::thread::hardware_concurrency(),
              LoadAverage().c_str());
  for (std::size_t n : args.sizes) RunOne(n, args);
  std::printf("\nload average at the end: %s\n", LoadAverage().c_str());
  return 0;
}
