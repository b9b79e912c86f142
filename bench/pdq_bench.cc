// Prints PDQ throughput figures quoted in docs/BENCHMARKS.md:
//  (a) hashing already-decoded 512x512 RGB pixels, single thread;
//  (b) decode + hash of JPEG files (the testdata photos by default),
//      single thread, file bytes already in memory.
// Usage: pdq_bench [--seconds S] [JPEG_OR_DIR...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/file.h"
#include "hash/pdq.h"
#include "media/image.h"

namespace {

using Clock = std::chrono::steady_clock;
using takeback::hash::PdqDihedralHashPixels;
using takeback::hash::PdqHashPixels;
using takeback::hash::PixelView;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Calls per second of this thread's CPU time (what one core does when it is
// not shared; the headline figure) and per second of wall time (lower when
// other processes compete for the cores). Both are printed; the machine's
// load average is printed at the start and the end.
struct Rates {
  double cpu = 0;
  double wall = 0;
};

// Runs `fn` repeatedly for about `seconds` of CPU time.
template <typename Fn>
Rates Rate(double seconds, Fn fn) {
  // Warm up caches and the dispatcher.
  for (int i = 0; i < 3; ++i) fn(i);
  long n = 0;
  const auto start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  double cpu = 0;
  do {
    fn(static_cast<int>(n));
    ++n;
    cpu = ThreadCpuSeconds() - cpu_start;
  } while (cpu < seconds);
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  return {static_cast<double>(n) / cpu, static_cast<double>(n) / wall};
}

void PrintLoad(const char* when) {
  double load[3] = {};
  if (getloadavg(load, 3) == 3) std::printf("load average %s: %.2f %.2f %.2f\n", when, load[0], load[1], load[2]);
}

std::vector<std::uint8_t> NoisyPicture(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * h * 3);
  int v = 128;
  for (auto& p : px) {
    v = std::clamp(v + static_cast<int>(rng() % 9) - 4, 0, 255);
    p = static_cast<std::uint8_t>(v);
  }
  return px;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3.0;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      inputs.push_back(a);
    }
  }
  if (inputs.empty()) {
    const char* td = std::getenv("TAKEBACK_TESTDATA_DIR");
    inputs.push_back(std::string(td != nullptr ? td : "../shared/testdata") + "/pdq/images");
  }

  std::printf("PDQ benchmark, single thread, %.1f CPU-seconds per figure; rates per second of thread CPU time\n",
              seconds);
  PrintLoad("at start");

  // (a) already-decoded 512x512 pixels.
  const auto px = NoisyPicture(512, 512, 1);
  const PixelView view{px.data(), 512, 512, 3, 512 * 3};
  volatile int sink = 0;
  const Rates a = Rate(seconds, [&](int) { sink = sink + PdqHashPixels(view).quality; });
  std::printf("(a) hash 512x512 RGB pixels:            %8.0f hashes/s  (%.3f ms each; wall %.0f/s)\n", a.cpu,
              1000.0 / a.cpu, a.wall);
  const Rates ad = Rate(seconds, [&](int) { sink = sink + PdqDihedralHashPixels(view).quality; });
  std::printf("(a') 8 dihedral hashes, 512x512 pixels: %8.0f images/s  (%.3f ms each; wall %.0f/s)\n", ad.cpu,
              1000.0 / ad.cpu, ad.wall);

  // (b) decode + hash of JPEG files held in memory, in two groups: small
  // photos (under 0.5 MP, like the reference's published figure) and all.
  struct Group {
    const char* name;
    std::vector<std::vector<std::uint8_t>> files;
    std::uint64_t pixels = 0;
  };
  Group small{"small JPEGs (< 0.5 MP)", {}, 0};
  Group all{"all JPEGs", {}, 0};
  for (const std::string& in : inputs) {
    std::vector<std::filesystem::path> paths;
    if (std::filesystem::is_directory(in)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(in)) paths.push_back(e.path());
    } else {
      paths.emplace_back(in);
    }
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      const std::string ext = p.extension().string();
      if (ext != ".jpg" && ext != ".jpeg") continue;
      auto bytes = takeback::ReadFileLimited(p.string(), 64U << 20U);
      if (!bytes.ok()) continue;
      auto img = takeback::media::DecodeImage(*bytes, {});
      if (!img.ok()) {
        std::fprintf(stderr, "skip %s: %s\n", p.c_str(), img.status().ToString().c_str());
        continue;
      }
      const auto n = static_cast<std::uint64_t>(img->width) * img->height;
      if (n < 500'000) {
        small.pixels += n;
        small.files.push_back(*bytes);
      }
      all.pixels += n;
      all.files.push_back(std::move(*bytes));
    }
  }
  double all_rate = 1.0;
  for (const Group* g : {&small, &all}) {
    if (g->files.empty()) {
      std::printf("(b) %s: skipped, none found in the inputs\n", g->name);
      continue;
    }
    const Rates b = Rate(seconds, [&](int i) {
      const auto& f = g->files[static_cast<std::size_t>(i) % g->files.size()];
      auto img = takeback::media::DecodeImage(f, {});
      const PixelView v{img->pixels.data(), img->width, img->height, img->channels,
                        static_cast<std::size_t>(img->width) * img->channels};
      sink = sink + PdqHashPixels(v).quality;
    });
    std::printf("(b) decode+hash, %-24s %3zu files, mean %5.2f MP: %8.1f images/s (wall %.1f/s)\n", g->name,
                g->files.size(), static_cast<double>(g->pixels) / 1e6 / static_cast<double>(g->files.size()), b.cpu,
                b.wall);
    if (g == &all) all_rate = b.cpu;
  }

  // (c) the optional fast path (--fast): DCT-domain downscaled JPEG decoding,
  // at a few minimum sides; distances only over hashes of quality >= 50
  // (below that the reference says not to trust a hash anyway).
  if (!all.files.empty()) {
    const auto hash_of = [](const takeback::media::Image& img) {
      return PdqHashPixels(
          {img.pixels.data(), img.width, img.height, img.channels, static_cast<std::size_t>(img.width) * img.channels});
    };
    for (int min_side : {512, 256, 128}) {
      takeback::media::DecodeOptions fast;
      fast.jpeg_fast_min_side = min_side;
      const Rates c = Rate(seconds, [&](int i) {
        const auto& f = all.files[static_cast<std::size_t>(i) % all.files.size()];
        auto img = takeback::media::DecodeImage(f, fast);
        sink = sink + hash_of(*img).quality;
      });
      std::vector<int> distances;
      for (const auto& f : all.files) {
        const auto exact = hash_of(*takeback::media::DecodeImage(f, {}));
        if (exact.quality < 50) continue;
        const auto quick = hash_of(*takeback::media::DecodeImage(f, fast));
        distances.push_back(takeback::hash::HammingDistance(exact.hash, quick.hash));
      }
      std::sort(distances.begin(), distances.end());
      std::printf("(c) fast decode (min side %3d) + hash, all JPEGs:            %8.1f images/s (x%.2f; wall %.1f/s)\n",
                  min_side, c.cpu, c.cpu / all_rate, c.wall);
      std::printf("    distance to exact over %zu JPEGs of quality >= 50: median %d, max %d; all:", distances.size(),
                  distances[distances.size() / 2], distances.back());
      for (int d : distances) std::printf(" %d", d);
      std::printf("\n");
    }
  }
  PrintLoad("at end");
  return 0;
}
