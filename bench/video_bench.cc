// Video hashing throughput: seconds of video hashed per second of wall time,
// single thread (decoder threads = 1), for an SD and an HD sample, for dense
// (bank: every frame) hashing and sparse (query) sampling, decoding every
// frame vs seeking vs key frames only. Prints the figures docs/BENCHMARKS.md
// quotes.
//
//   video_bench [VIDEO_DIR] [REPEATS]
// VIDEO_DIR defaults to ../shared/testdata/vpdq/videos.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "hash/vpdq.h"
#include "media/video.h"

namespace {

using takeback::media::VideoFrame;
using takeback::media::VideoOptions;
using takeback::media::VideoReader;

struct Run {
  double wall = 0;
  double video_seconds = 0;
  std::size_t hashed = 0;
  std::uint64_t decoded = 0;
  std::uint64_t seeks = 0;
};

bool HashOnce(const std::string& path, const VideoOptions& options, int prune, Run& run) {
  const auto start = std::chrono::steady_clock::now();
  auto reader = VideoReader::OpenFile(path, options);
  if (!reader.ok()) {
    (void)std::fprintf(stderr, "%s: %s\n", path.c_str(), reader.status().ToString().c_str());
    return false;
  }
  takeback::hash::VpdqPruner pruner(prune);
  VideoFrame frame;
  std::size_t kept = 0;
  while (true) {
    auto more = (*reader)->Next(frame);
    if (!more.ok() || !*more) break;
    const auto r = takeback::hash::VpdqHashFrame({frame.data, frame.width, frame.height, frame.channels, frame.stride});
    if (pruner.Keep({frame.frame_number, r.quality, r.hash, frame.timestamp})) ++kept;
  }
  run.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& info = (*reader)->info();
  run.video_seconds = static_cast<double>((*reader)->stats().frames_decoded) / info.frame_rate;
  if (options.keyframes_only || options.seek || options.sample_fps > 0) run.video_seconds = info.duration_seconds;
  run.hashed = kept;
  run.decoded = (*reader)->stats().frames_decoded;
  run.seeks = (*reader)->stats().seeks;
  return true;
}

struct Mode {
  const char* name;
  VideoOptions options;
  int prune;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : TAKEBACK_TESTDATA_DIR "/vpdq/videos";
  const int repeats = argc > 2 ? std::max(1, static_cast<int>(std::strtol(argv[2], nullptr, 10))) : 3;
  const std::vector<std::pair<const char*, std::string>> videos = {
      {"SD 480x720 h264 20.5 s", dir + "/chair-20-sd-bar.mp4"},
      {"HD 1280x720 h264 4.0 s", dir + "/doorknob-hd-no-bar.mp4"},
  };
  std::vector<Mode> modes;
  auto add = [&](const char* name, double fps, bool seek, bool key, bool exact, int prune) {
    VideoOptions o;
    o.sample_fps = fps;
    o.seek = seek;
    o.keyframes_only = key;
    o.exact_scaler = exact;
    o.threads = 1;
    modes.push_back({name, o, prune});
  };
  add("decode only (no hashing)", 1e-6, false, false, true, -1);
  add("dense bank: every frame, exact", 0, false, false, true, -1);
  add("dense bank: every frame, exact, --prune 4", 0, false, false, true, 4);
  add("dense bank: every frame, SIMD scaler", 0, false, false, false, -1);
  add("sparse query 1 fps, decode all", 1, false, false, true, -1);
  add("sparse query 1 fps, --seek", 1, true, false, true, -1);
  add("sparse query 0.5 fps, --seek", 0.5, true, false, true, -1);
  add("sparse query key frames (<= 1 fps)", 1, false, true, true, -1);
  std::printf("video_bench: single thread (decoder threads 1), best of %d runs\n", repeats);
  std::printf("%-24s %-42s %9s %8s %8s %6s %9s\n", "video", "mode", "x realtm", "decoded", "hashed", "seeks",
              "ms/hash");
  for (const auto& [label, path] : videos) {
    for (const Mode& mode : modes) {
      Run best;
      best.wall = 1e30;
      for (int i = 0; i < repeats; ++i) {
        Run run;
        if (!HashOnce(path, mode.options, mode.prune, run)) return 1;
        if (run.wall < best.wall) best = run;
      }
      std::printf("%-24s %-42s %8.1fx %8llu %8zu %6llu %9.2f\n", label, mode.name, best.video_seconds / best.wall,
                  static_cast<unsigned long long>(best.decoded), best.hashed,
                  static_cast<unsigned long long>(best.seeks),
                  best.hashed > 0 ? 1000.0 * best.wall / static_cast<double>(best.hashed) : 0.0);
    }
  }
  return 0;
}
