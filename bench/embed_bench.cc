// Face embedding only (issue 5): ms per face for one implementation of the
// recognition network at one OpenBLAS thread count, on the aligned chip of
// the first face found in the test photos (or a synthetic chip with
// --synthetic). Small enough to run under `perf record` and profile the
// network alone; face_bench (b) prints the figures docs/BENCHMARKS.md quotes.
// Usage: embed_bench [--embedder takeback|dlib] [--threads N] [--seconds S] [--synthetic] [--model-dir DIR]
#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "common/file.h"
#include "face/face.h"
#include "face/resnet.h"
#include "face/tfjs_weights.h"
#include "media/image.h"

namespace {

using takeback::bench::LoadAverage;
using takeback::bench::ProcessCpuSeconds;

namespace fs = std::filesystem;
using takeback::face::EmbedderKind;

// The chip of the first face in the test photos, or an empty image.
takeback::media::Image FirstChip(const takeback::face::ModelPaths& paths) {
  auto analyzer = takeback::face::FaceAnalyzer::Open(paths);
  if (!analyzer.ok()) return {};
  const char* td = std::getenv("TAKEBACK_TESTDATA_DIR");
  const fs::path dir = fs::path(td != nullptr ? td : TAKEBACK_TESTDATA_DIR) / "face";
  for (const char* name : {"2008_001322.jpg", "messi5.jpg"}) {
    auto bytes = takeback::ReadFileLimited((dir / name).string(), 64U << 20U);
    if (!bytes.ok()) continue;
    auto image = takeback::media::DecodeImage(*bytes, {});
    if (!image.ok()) continue;
    takeback::face::DetectOptions keep;
    keep.keep_chips = true;
    auto r = (*analyzer)->Analyze(*image, keep);
    if (r.ok() && !r->faces.empty()) return r->faces.front().chip;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  EmbedderKind kind = EmbedderKind::kTakeback;
  int threads = 1;
  double seconds = 3;
  bool synthetic = false;
  takeback::face::ModelPaths paths = takeback::face::DefaultModelPaths();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--embedder" && i + 1 < argc) {
      const std::string v = argv[++i];
      if (v != "takeback" && v != "dlib") {
        std::fprintf(stderr, "embed_bench: --embedder takes takeback or dlib, not '%s'\n", v.c_str());
        return 2;
      }
      kind = v == "dlib" ? EmbedderKind::kDlib : EmbedderKind::kTakeback;
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--synthetic") {
      synthetic = true;
    } else if (a == "--model-dir" && i + 1 < argc) {
      paths.recognition_manifest = (fs::path(argv[++i]) / "face_recognition_model-weights_manifest.json").string();
    } else {
      std::fprintf(stderr,
                   "usage: embed_bench [--embedder takeback|dlib] [--threads N] [--seconds S] [--synthetic] "
                   "[--model-dir DIR]\n");
      return 2;
    }
  }
  auto weights = takeback::face::LoadTfjsWeights(paths.recognition_manifest, paths.recognition_weights);
  if (!weights.ok()) {
    std::fprintf(stderr, "embed_bench: %s\n", weights.status().ToString().c_str());
    return 1;
  }
  std::vector<std::uint8_t> chip(3 * static_cast<std::size_t>(takeback::face::kChipSize) * takeback::face::kChipSize);
  if (synthetic) {
    for (std::size_t i = 0; i < chip.size(); ++i) chip[i] = static_cast<std::uint8_t>((i * 37U) % 251U);
  } else {
    const takeback::media::Image c = FirstChip(paths);
    if (c.pixels.size() != chip.size()) {
      std::fprintf(stderr, "embed_bench: no face chip from the test photos (try --synthetic)\n");
      return 1;
    }
    chip = c.pixels;
  }
  auto embedder = takeback::face::MakeEmbedder(kind, *weights, paths.recognition_manifest);
  if (!embedder.ok()) {
    std::fprintf(stderr, "embed_bench: %s\n", embedder.status().ToString().c_str());
    return 1;
  }
  using SetThreadsFn = void (*)(int);
  const auto set_threads = reinterpret_cast<SetThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set_threads != nullptr) set_threads(threads);
  if (!(*embedder)->Embed(chip).ok()) return 1;  // warm-up: buffers, BLAS threads
  long n = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ProcessCpuSeconds();
  double elapsed = 0;
  do {
    if (!(*embedder)->Embed(chip).ok()) return 1;
    ++n;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds || n < 2);
  std::printf("%s network, %d OpenBLAS thread(s)%s: %.2f ms per face, CPU %.2f ms, %ld faces; load average %s\n",
              takeback::face::EmbedderName(kind), threads, set_threads == nullptr ? " (not OpenBLAS?)" : "",
              1000 * elapsed / static_cast<double>(n),
              1000 * (ProcessCpuSeconds() - cpu_start) / static_cast<double>(n), n, LoadAverage().c_str());
  return 0;
}
