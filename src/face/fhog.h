// Takeback's own HOG face detector (issue 5): the same detector as dlib's
// frontal_face_detector (the same trained filters, copied out of dlib at
// start-up by src/face/dlib_face.cc), re-implemented for speed: planar RGB,
// AVX2 gradients and filters where the CPU has them, the same arithmetic as
// dlib's x86-64 baseline build elsewhere. Internal to src/face.
//
// What it reproduces (dlib 19.24, read in /usr/include/dlib):
//  - the pyramid: pyramid_down<6> (each level floor(5/6) of the previous,
//    bilinear resize_image), levels while the next is at least
//    min_level_width x min_level_height;
//  - extract_fhog_features with cell size 8: per pixel the colour channel with
//    the strongest gradient, 18 signed orientations, bilinear votes into 8x8
//    cells, 4 block normalisations truncated at 0.2, 18 + 9 + 4 = 31 features;
//  - the filters applied as dlib applies them: the separable (rank-reduced)
//    row/column filters of each of the 5 detectors;
//  - detections at or above each detector's bias (plus the caller's
//    adjustment), score = response - bias, boxes mapped back to the image
//    exactly as dlib maps them, and dlib's greedy non-max suppression.
// Scores differ from dlib's only by float summation order (about 1e-5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace takeback::face::fhog {

inline constexpr int kPlanes = 31;

// One 8-bit RGB image stored as three planes (R, G, B), each width x height.
struct PlanarImage {
  int width = 0;
  int height = 0;
  // 3 * width * height: all R, then G, then B; Resize's AVX2 kernel also
  // wants kSlack bytes after them (Allocate adds them), and reads only the
  // planes without them.
  std::vector<std::uint8_t> pixels;
  static constexpr std::size_t kSlack = 32;
  void Allocate(int w, int h) {
    width = w;
    height = h;
    pixels.assign(3 * static_cast<std::size_t>(w) * static_cast<std::size_t>(h) + kSlack, 0);
  }
  const std::uint8_t* plane(int c) const {
    return pixels.data() + static_cast<std::size_t>(c) * static_cast<std::size_t>(width) * height;
  }
  std::uint8_t* plane(int c) {
    return pixels.data() + static_cast<std::size_t>(c) * static_cast<std::size_t>(width) * height;
  }
};

// From interleaved grey (1 channel) or RGB (3 channels) pixels.
PlanarImage ToPlanar(const std::uint8_t* pixels, int width, int height, int channels);

// dlib's resize_image(in, out, interpolate_bilinear()) for RGB images,
// reproduced to the bit (including its float arithmetic and truncation).
PlanarImage Resize(const PlanarImage& in, int out_width, int out_height);

// The trained detector, as dlib's frontal_face_detector holds it.
struct SeparableFilter {
  std::vector<float> row;  // applied along x (filter_cols taps)
  std::vector<float> col;  // applied along y (filter_rows taps)
};
struct Filter {
  double bias = 0;                                   // detection threshold
  std::vector<std::vector<SeparableFilter>> planes;  // kPlanes lists, possibly empty
};
struct Model {
  int cell_size = 8;
  int filter_rows = 10;  // detection window in cells (padding 0)
  int filter_cols = 10;
  int min_level_width = 64;
  int min_level_height = 64;
  double iou_thresh = 0;  // dlib test_box_overlap
  double percent_covered_thresh = 0;
  std::vector<Filter> filters;
};

// dlib's frontal_face_detector, copied out of dlib once (thread-safe) by
// src/face/dlib_face.cc; the separable filters are those dlib builds with
// scan_fhog_pyramid::build_fhog_filterbank.
const Model& FrontalFaceModel();

// A detection box in dlib's convention: inclusive corners.
struct Rect {
  long left = 0;
  long top = 0;
  long right = -1;
  long bottom = -1;
};
struct Detection {
  Rect rect;
  double score = 0;  // response minus the detector's bias; > 0 is a face
  int filter = 0;    // which of the model's filters found it
};

// Counters for the benchmark: how much work a call did.
struct Stats {
  int levels = 0;
  std::int64_t pixels = 0;  // summed over the pyramid levels
  std::int64_t cells = 0;
};

// Detects faces in `image` over at most `max_levels` pyramid levels;
// detections scoring at least -adjust_threshold, after non-max suppression,
// highest score first. Never throws on small images (returns nothing).
std::vector<Detection> Detect(const Model& model, const PlanarImage& image, int max_levels, double adjust_threshold,
                              Stats* stats = nullptr);

// One pyramid to scan: `image` itself or, with upscale_2x, the image
// resized to twice its width and height (dlib's resize_image, bilinear) as
// level 0; at most `max_levels` levels. Boxes are in level 0's coordinates.
struct Pass {
  const PlanarImage* image = nullptr;
  bool upscale_2x = false;
  int max_levels = 1000;
};

// Detect for several passes at once, each pass's detections as Detect
// returns them. With threads > 1 two threads share the work: a second
// thread builds the later passes' pyramids (the first pass's when there is
// one), the calling thread the first pass's, and each level is scanned as
// soon as it is built, the largest ready level first, so that both threads
// finish together. The same detections, less wall time, about the same CPU
// time. Runs on the calling thread alone when no second thread can be
// started.
std::vector<std::vector<Detection>> DetectPasses(const Model& model, const std::vector<Pass>& passes,
                                                 double adjust_threshold, int threads, Stats* stats = nullptr);

// dlib's orientation bin (0..17) of each gradient (gx[i], gy[i]), as the
// detector chooses it (the AVX2 kernel's way when UsingAvx2()); for tests.
void OrientationBins(const int* gx, const int* gy, std::size_t n, int* bins);

// True when the AVX2/FMA kernels run: the CPU has them, TAKEBACK_NO_AVX2=1
// is not set in the environment, and SetAvx2Enabled(false) was not called.
bool UsingAvx2();

// Turns the AVX2 kernels off (false) or back on where the CPU has them
// (true), for tests and benchmarks that compare the two; returns the
// previous setting of UsingAvx2().
bool SetAvx2Enabled(bool enabled);

}  // namespace takeback::face::fhog
