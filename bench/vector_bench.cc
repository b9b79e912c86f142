// Prints the vector-index figures quoted in docs/BENCHMARKS.md ("Faces
// (issue 5)", vector search): exact searches per second over 128-d
// descriptors at 100k and 1M stored vectors, for Takeback's "Flat" scan and
// FAISS's IndexFlatL2 ("FaissFlat"), on 1 and 2 threads.
//
// Data: synthetic face-descriptor-like vectors (no million real faces are at
// hand): "people" drawn around a shared mean, "photos" drawn around each
// person, scaled so that photos of one person lie about 0.35-0.45 apart and
// different people about 0.8-0.9 apart, as dlib descriptors do. Queries are
// new photos of stored people (half) and of strangers (half).
// Workloads: range search at the default face threshold (0.55) one query at
// a time and in batches of 256; 10-NN in batches; and a worst case, a range
// so large that every vector qualifies, which defeats the early exit.
// Usage: vector_bench [--sizes 100000,1000000] [--seconds S] [--no-faiss]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "index/vector/vector_index.h"

namespace {

using Clock = std::chrono::steady_clock;
using takeback::index::MakeVectorIndex;
using takeback::index::VectorIndex;

constexpr int kDim = 128;
constexpr float kThreshold = 0.55F;  // face::kDefaultFaceMatchThreshold at the time of writing
constexpr std::size_t kBatch = 256;

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

struct Data {
  std::vector<float> stored;
  std::vector<float> queries;
};

Data MakeData(std::size_t n, std::size_t nq, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> mean_g(0.0F, 0.12F);
  std::normal_distribution<float> person_g(0.0F, 0.047F);
  std::normal_distribution<float> photo_g(0.0F, 0.018F);
  std::vector<float> mean(kDim);
  for (float& m : mean) m = mean_g(rng);
  const std::size_t photos_per_person = 4;
  const std::size_t people = (n + photos_per_person - 1) / photos_per_person;
  std::vector<float> person(kDim);
  Data d;
  d.stored.reserve(n * kDim);
  std::vector<std::vector<float>> some_people;  // for the queries
  for (std::size_t p = 0; p < people; ++p) {
    for (int i = 0; i < kDim; ++i)
      person[static_cast<std::size_t>(i)] = mean[static_cast<std::size_t>(i)] + person_g(rng);
    if (some_people.size() < nq / 2) some_people.push_back(person);
    for (std::size_t k = 0; k < photos_per_person && d.stored.size() < n * kDim; ++k) {
      for (int i = 0; i < kDim; ++i) d.stored.push_back(person[static_cast<std::size_t>(i)] + photo_g(rng));
    }
  }
  for (std::size_t q = 0; q < nq; ++q) {
    if (q % 2 == 0 && q / 2 < some_people.size()) {
      person = some_people[q / 2];
    } else {
      for (int i = 0; i < kDim; ++i)
        person[static_cast<std::size_t>(i)] = mean[static_cast<std::size_t>(i)] + person_g(rng);
    }
    for (int i = 0; i < kDim; ++i) d.queries.push_back(person[static_cast<std::size_t>(i)] + photo_g(rng));
  }
  return d;
}

struct Rate {
  double wall_qps = 0;
  double cpu_qps = 0;  // queries per CPU-second of the whole process
  double found = 0;    // neighbours per query
};

// Runs batches of queries (each call answers `per_call` queries) for about
// `seconds`, at least one call after a warm-up.
template <typename Fn>
Rate Measure(double seconds, std::size_t per_call, Fn fn) {
  fn();
  std::size_t calls = 0;
  std::size_t found = 0;
  const auto start = Clock::now();
  const double cpu0 = CpuSeconds();
  double elapsed = 0;
  do {
    found += fn();
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  const double q = static_cast<double>(calls * per_call);
  return {q / elapsed, q / (CpuSeconds() - cpu0), static_cast<double>(found) / q};
}

void Print(const char* kind, const char* what, int threads, const Rate& r) {
  std::printf("  %-10s %-34s %dt  %9.1f q/s wall  %9.1f q/CPU-s  %7.2f found/query\n", kind, what, threads, r.wall_qps,
              r.cpu_qps, r.found);
  std::fflush(stdout);
}

void Run(VectorIndex& index, const Data& data, double seconds, const char* kind) {
  const std::size_t nq = data.queries.size() / kDim;
  std::size_t next = 0;
  auto one = [&](std::size_t q) { return std::span<const float>(data.queries.data() + q * kDim, kDim); };
  std::vector<takeback::index::VectorNeighbor> out;
  Print(kind, "range 0.55, one query per call", 1, Measure(seconds, 1, [&] {
          const auto s = index.RangeSearch(one(next++ % nq), kThreshold, &out);
          return s.ok() ? out.size() : 0;
        }));
  for (int threads : {1, 2}) {
    Print(kind, "range 0.55, batches of 256", threads, Measure(seconds, kBatch, [&] {
            auto r = index.RangeSearchBatch(std::span(data.queries).first(kBatch * kDim), kThreshold, threads);
            return r.ok() ? r->neighbors.size() : 0;
          }));
  }
  for (int threads : {1, 2}) {
    Print(kind, "10-NN, batches of 256", threads, Measure(seconds, kBatch, [&] {
            auto r = index.KnnBatch(std::span(data.queries).first(kBatch * kDim), 10, threads);
            return r.ok() ? r->neighbors.size() : 0;
          }));
  }
  Print(kind, "worst case: range 100 (all match)", 2, Measure(seconds, 32, [&] {
          auto r = index.RangeSearchBatch(std::span(data.queries).first(32 * kDim), 100.0F, 2);
          return r.ok() ? r->neighbors.size() : 0;
        }));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {100'000, 1'000'000};
  double seconds = 3;
  bool faiss = takeback::index::HaveFaiss();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::string list = argv[++i];
      for (std::size_t pos = 0; pos <= list.size();) {
        const std::size_t comma = std::min(list.find(',', pos), list.size());
        sizes.push_back(std::stoull(list.substr(pos, comma - pos)));
        pos = comma + 1;
      }
    } else if (a == "--no-faiss") {
      faiss = false;
    } else {
      std::fprintf(stderr, "usage: vector_bench [--sizes N,N...] [--seconds S] [--no-faiss]\n");
      return 2;
    }
  }
  std::printf("Vector index benchmark: %s, %u hardware threads, kernel %s, %.1f s per figure\n", CpuModel().c_str(),
              std::thread::hardware_concurrency(), std::string(takeback::index::VectorKernelName()).c_str(), seconds);
  std::printf("load average before: %s\n", LoadAverage().c_str());
  for (std::size_t n : sizes) {
    const Data data = MakeData(n, 1024, 42);
    std::printf("%zu stored 128-d vectors (%.0f MiB of floats)\n", n, static_cast<double>(n) * kDim * 4 / 1048576.0);
    std::vector<std::uint64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = i;
    for (const char* kind : {"Flat", "FaissFlat"}) {
      if (std::string(kind) == "FaissFlat" && !faiss) continue;
      auto index = MakeVectorIndex(kind, kDim);
      if (!index.ok()) {
        std::fprintf(stderr, "%s\n", index.status().ToString().c_str());
        return 1;
      }
      const auto t0 = Clock::now();
      const auto st = (*index)->Add(ids, data.stored);
      if (!st.ok()) {
        std::fprintf(stderr, "%s\n", st.ToString().c_str());
        return 1;
      }
      std::printf("  %-10s built in %.2f s\n", kind, std::chrono::duration<double>(Clock::now() - t0).count());
      Run(**index, data, seconds, kind);
    }
  }
  std::printf("load average after: %s\n", LoadAverage().c_str());
  return 0;
}
