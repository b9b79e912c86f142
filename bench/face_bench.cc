// Prints the face figures quoted in docs/BENCHMARKS.md ("Faces (issue 5)"):
//  (a) HOG detection, ms per megapixel, on each photo of
//      ../shared/testdata/face, rotations off, for Takeback's detector
//      (src/face/fhog.h) and dlib's: native scale only; with the 2x upscaled
//      pass (images up to 1 MP get it) on one thread; for Takeback's also
//      with the pyramid levels shared out between two threads;
//  (b) embedding one aligned chip, ms per face, with OpenBLAS on 1 and 2
//      threads (set in-process with openblas_set_num_threads when the BLAS
//      that dlib linked has it; otherwise the thread count is whatever
//      OPENBLAS_NUM_THREADS says, and the bench says so), for Takeback's
//      forward pass (src/face/resnet.h, what FaceAnalyzer uses) and dlib's
//      network with the same weights.
// Usage: face_bench [--seconds S] [--takeback-only] [--model-dir DIR] [IMAGE_OR_DIR...]
// (--takeback-only: Takeback's detector and embedder only, not dlib's, for a
// quick run.)
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "common/file.h"
#include "face/face.h"
#include "face/fhog.h"
#include "face/resnet.h"
#include "face/tfjs_weights.h"
#include "media/image.h"

namespace {

using takeback::bench::LoadAverage;
using takeback::bench::ProcessCpuSeconds;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using takeback::face::DetectFaces;
using takeback::face::DetectOptions;
using takeback::face::DetectorKind;
using takeback::face::FaceAnalyzer;

// Milliseconds per call: wall clock, and CPU time of the whole process (all
// threads). On a shared, loaded machine the CPU time is the steadier figure
// for single-threaded work; only the wall time shows what a second thread
// buys.
struct Timing {
  double wall_ms = 0;
  double cpu_ms = 0;
};

// Runs `fn` at least twice and for about `seconds`, after one warm-up call.
template <typename Fn>
Timing MsPerCall(double seconds, Fn fn) {
  fn();
  long n = 0;
  const auto start = Clock::now();
  const double cpu_start = ProcessCpuSeconds();
  double elapsed = 0;
  do {
    fn();
    ++n;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds || n < 2);
  const double calls = static_cast<double>(n);
  return {.wall_ms = 1000.0 * elapsed / calls, .cpu_ms = 1000.0 * (ProcessCpuSeconds() - cpu_start) / calls};
}

struct Photo {
  std::string name;
  takeback::media::Image image;
};

std::vector<Photo> LoadPhotos(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      for (const auto& e : fs::directory_iterator(in)) {
        if (e.is_regular_file() && e.path().extension() == ".jpg") files.push_back(e.path().string());
      }
    } else {
      files.push_back(in);
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<Photo> photos;
  for (const std::string& f : files) {
    auto bytes = takeback::ReadFileLimited(f, 64U << 20U);
    if (!bytes.ok()) continue;
    auto image = takeback::media::DecodeImage(*bytes, {});
    if (!image.ok()) {
      std::fprintf(stderr, "face_bench: %s: %s\n", f.c_str(), image.status().ToString().c_str());
      continue;
    }
    photos.push_back({fs::path(f).filename().string(), std::move(*image)});
  }
  return photos;
}

// CPU model, hardware threads and the load average, for the figures' context.
std::string ReadProcFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string MachineFacts() {
  std::string model = "unknown CPU";
  const std::string s = ReadProcFile("/proc/cpuinfo");
  const std::size_t at = s.find("model name");
  if (at != std::string::npos) {
    const std::size_t colon = s.find(':', at);
    model = s.substr(colon + 2, s.find('\n', colon) - colon - 2);
  }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " hardware threads, load average " +
         LoadAverage();
}

using SetThreadsFn = void (*)(int);
using GetConfigFn = char* (*)();

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  std::string model_dir;
  std::vector<std::string> inputs;
  bool takeback_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--takeback-only") {
      takeback_only = true;
    } else if (a == "--model-dir" && i + 1 < argc) {
      model_dir = argv[++i];
    } else {
      inputs.push_back(a);
    }
  }
  if (inputs.empty()) {
    const char* td = std::getenv("TAKEBACK_TESTDATA_DIR");
    inputs.push_back(std::string(td != nullptr ? td : TAKEBACK_TESTDATA_DIR) + "/face");
  }
  const std::vector<Photo> photos = LoadPhotos(inputs);
  if (photos.empty()) {
    std::fprintf(stderr, "face_bench: no JPEG photos in the inputs\n");
    return 1;
  }

  std::printf("Face benchmark, %.1f s per figure; %s\n", seconds, MachineFacts().c_str());
  std::printf("(a) detection, rotations off, per photo: wall ms / CPU ms per call\n");
  std::printf("    T = Takeback's detector (src/face/fhog.h, %s kernels), D = dlib's (DetectorKind::kDlib)\n",
              takeback::face::fhog::UsingAvx2() ? "AVX2/FMA" : "portable");
  std::printf("    native:   native scale only, single thread\n");
  std::printf("    nat/2t:   the same, its pyramid levels shared out between two threads\n");
  std::printf("    up/1t:    with the 2x upscaled pass (default limit: 4x pixels <= 4000000), one thread\n");
  std::printf(
      "    up/2t:    the same, both passes' pyramid levels shared out between two threads "
      "(DetectOptions::parallel_passes, the default)\n");
  struct Variant {
    const char* name;
    DetectOptions options;
    double wall_ms = 0;
    double cpu_ms = 0;
  };
  std::vector<Variant> variants;
  // T native, T nat/2t, T up/1t, T up/2t, then (unless --takeback-only)
  // D native, D up/1t.
  for (const auto kind : {DetectorKind::kTakeback, DetectorKind::kDlib}) {
    const bool own = kind == DetectorKind::kTakeback;
    if (!own && takeback_only) continue;
    DetectOptions o;
    o.detector = kind;
    o.try_rotations = false;
    o.max_upscaled_pixels = 0;
    o.parallel_passes = false;
    variants.push_back({own ? "T native" : "D native", o});
    if (own) {
      o.parallel_passes = true;
      variants.push_back({"T nat/2t", o});
      o.parallel_passes = false;
    }
    o.max_upscaled_pixels = DetectOptions{}.max_upscaled_pixels;
    variants.push_back({own ? "T up/1t" : "D up/1t", o});
    if (own) {
      o.parallel_passes = true;
      variants.push_back({"T up/2t", o});
    }
  }
  std::printf("    %-23s %9s %5s %5s", "photo", "size", "MP", "faces");
  for (const Variant& v : variants) std::printf(" %15s", v.name);
  std::printf("\n");
  double total_mp = 0;
  for (const Photo& p : photos) {
    const double mp = static_cast<double>(p.image.width) * p.image.height / 1e6;
    std::string cells;
    std::vector<std::size_t> faces(variants.size());
    for (std::size_t i = 0; i < variants.size(); ++i) {
      Variant& v = variants[i];
      std::size_t n = 0;
      const Timing t = MsPerCall(seconds, [&] { n = DetectFaces(p.image, v.options)->size(); });
      v.wall_ms += t.wall_ms;
      v.cpu_ms += t.cpu_ms;
      faces[i] = n;
      char cell[40];
      std::snprintf(cell, sizeof cell, " %7.1f/%7.1f", t.wall_ms, t.cpu_ms);
      cells += cell;
    }
    // Both detectors must find the same faces; say so when they do not.
    bool same = faces.size() >= 4 && faces[0] == faces[1] && faces[2] == faces[3];
    if (faces.size() == 6) same = same && faces[0] == faces[4] && faces[2] == faces[5];
    char size[32];
    std::snprintf(size, sizeof size, "%dx%d", p.image.width, p.image.height);
    char found[32];
    std::snprintf(found, sizeof found, "%zu/%zu%s", faces[0], faces[2], same ? "" : "!");
    std::printf("    %-23s %9s %5.2f %5s%s\n", p.name.c_str(), size, mp, found, cells.c_str());
    total_mp += mp;
  }
  std::printf(
      "    all %zu photos, %.2f MP (faces: found natively / with the upscaled pass; ! = the detectors differ)\n",
      photos.size(), total_mp);
  std::printf("    %-45s", "wall ms per MP:");
  for (const Variant& v : variants) std::printf(" %15.1f", v.wall_ms / total_mp);
  std::printf("\n    %-45s", "CPU ms per MP:");
  for (const Variant& v : variants) std::printf(" %15.1f", v.cpu_ms / total_mp);
  if (variants.size() == 6) {
    std::printf("\n    %-45s", "CPU ms per MP, dlib / Takeback:");
    std::printf(" %15.2fx %15s %14.2fx\n", variants[4].cpu_ms / variants[0].cpu_ms, "",
                variants[5].cpu_ms / variants[2].cpu_ms);
  } else {
    std::printf("\n");
  }
  std::printf("    load average after (a): %s\n", LoadAverage().c_str());

  takeback::face::ModelPaths paths = takeback::face::DefaultModelPaths();
  if (!model_dir.empty()) {
    paths.recognition_manifest = (fs::path(model_dir) / "face_recognition_model-weights_manifest.json").string();
  }
  auto analyzer = FaceAnalyzer::Open(paths);
  if (!analyzer.ok()) {
    std::printf("(b) embedding skipped: %s (run scripts/fetch-models, or pass --model-dir)\n",
                analyzer.status().ToString().c_str());
    return 0;
  }
  // One real aligned chip: the first face found in the photos.
  DetectOptions keep;
  keep.keep_chips = true;
  takeback::media::Image chip;
  for (const Photo& p : photos) {
    auto r = (*analyzer)->Analyze(p.image, keep);
    if (r.ok() && !r->faces.empty()) {
      chip = r->faces.front().chip;
      std::printf("(b) embedding one 150x150 chip (first face of %s), ms per face\n", p.name.c_str());
      break;
    }
  }
  if (chip.pixels.empty()) {
    std::printf("(b) embedding skipped: no face found in the photos\n");
    return 0;
  }
  // dlib links the system BLAS; on Debian with libopenblas0-pthread that is
  // OpenBLAS, whose thread count can be changed at run time.
  const auto set_threads = reinterpret_cast<SetThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  const auto get_config = reinterpret_cast<GetConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  if (get_config != nullptr) std::printf("    BLAS: OpenBLAS %s\n", get_config());
  const auto embed = [&] {
    if (!(*analyzer)->Embed(chip).ok()) std::abort();
  };
  if (set_threads == nullptr) {
    const char* env = std::getenv("OPENBLAS_NUM_THREADS");
    std::printf("    openblas_set_num_threads not found (not OpenBLAS?); OPENBLAS_NUM_THREADS=%s\n",
                env != nullptr ? env : "(unset)");
    const Timing t = MsPerCall(seconds, embed);
    std::printf("    %.1f ms per face (CPU %.1f ms)\n", t.wall_ms, t.cpu_ms);
    return 0;
  }
  for (const int threads : {1, 2}) {
    set_threads(threads);
    const Timing t = MsPerCall(seconds, embed);
    std::printf("    FaceAnalyzer::Embed, openblas_set_num_threads(%d): %.1f ms per face (CPU %.1f ms, all threads)\n",
                threads, t.wall_ms, t.cpu_ms);
  }
  // The two implementations of the network side by side (src/face/resnet.h).
  auto weights = takeback::face::LoadTfjsWeights(paths.recognition_manifest, paths.recognition_weights);
  if (!weights.ok()) return 0;
  using takeback::face::EmbedderKind;
  for (const EmbedderKind kind : {EmbedderKind::kTakeback, EmbedderKind::kDlib}) {
    if (kind == EmbedderKind::kDlib && takeback_only) continue;
    auto embedder = takeback::face::MakeEmbedder(kind, *weights, paths.recognition_manifest);
    if (!embedder.ok()) {
      std::printf("    %s embedder: %s\n", takeback::face::EmbedderName(kind), embedder.status().ToString().c_str());
      continue;
    }
    for (const int threads : {1, 2}) {
      set_threads(threads);
      const Timing t = MsPerCall(seconds, [&] {
        if (!(*embedder)->Embed(chip.pixels).ok()) std::abort();
      });
      std::printf("    %-8s network, openblas_set_num_threads(%d): %.1f ms per face (CPU %.1f ms, all threads)\n",
                  takeback::face::EmbedderName(kind), threads, t.wall_ms, t.cpu_ms);
    }
  }
  std::printf("    load average after (b): %s\n", LoadAverage().c_str());
  return 0;
}
