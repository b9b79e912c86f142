// Everything in Takeback that touches dlib: the HOG face detector, the
// 68-point shape predictor and the face-recognition ResNet. dlib throws;
// every entry point here catches and returns a Status.
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <dlib/dnn.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include "face/face.h"
#include "face/fhog.h"
#include "face/resnet.h"
#include "face/tfjs_weights.h"

namespace takeback::face {
namespace {

// dlib's face-recognition ResNet as published with dlib (29 conv layers,
// 150x150 RGB input minus the mean colour divided by 256, 128-d output).
// Batch normalisation was folded into per-channel affine layers for
// inference.
namespace rn {
using dlib::add_prev1;
using dlib::add_prev2;
using dlib::affine;
using dlib::avg_pool;
using dlib::con;
using dlib::relu;
using dlib::skip1;
using dlib::tag1;
using dlib::tag2;

template <int N, template <typename> class Norm, int Stride, typename Sub>
using Block = Norm<con<N, 3, 3, 1, 1, relu<Norm<con<N, 3, 3, Stride, Stride, Sub>>>>>;
template <int N, typename Sub>
using Res = relu<add_prev1<Block<N, affine, 1, tag1<Sub>>>>;
// Stride-2 block; the shortcut is a 2x2 average pool, zero-padded in depth.
template <int N, typename Sub>
using ResDown = relu<add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<Block<N, affine, 2, tag1<Sub>>>>>>>;

template <typename Sub>
using Level0 = ResDown<256, Sub>;
template <typename Sub>
using Level1 = Res<256, Res<256, ResDown<256, Sub>>>;
template <typename Sub>
using Level2 = Res<128, Res<128, ResDown<128, Sub>>>;
template <typename Sub>
using Level3 = Res<64, Res<64, Res<64, ResDown<64, Sub>>>>;
template <typename Sub>
using Level4 = Res<32, Res<32, Res<32, Sub>>>;

using Network = dlib::loss_metric<dlib::fc_no_bias<
    kDescriptorSize, dlib::avg_pool_everything<Level0<Level1<Level2<Level3<Level4<dlib::max_pool<
                         3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, dlib::input_rgb_image_sized<kChipSize>>>>>>>>>>>>>;
}  // namespace rn

using RgbImage = dlib::matrix<dlib::rgb_pixel>;

constexpr int kMinSide = 16;           // smaller images cannot hold a detectable face
constexpr double kChipPadding = 0.25;  // dlib's get_face_chip_details default

Status CheckImage(const media::Image& image) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) *
                                 static_cast<std::size_t>(image.channels)) {
    return InvalidArgument("face: malformed image (need 8-bit grey or RGB pixels matching width x height)");
  }
  return Status::Ok();
}

// dlib's rgb_pixel is three bytes, red first: an RGB image's rows are
// interleaved RGB bytes.
static_assert(sizeof(dlib::rgb_pixel) == 3);

RgbImage ToDlib(const media::Image& image) {
  RgbImage out(image.height, image.width);
  const std::size_t n = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
  if (n == 0) return out;
  const std::uint8_t* p = image.pixels.data();
  dlib::rgb_pixel* q = &out(0, 0);
  if (image.channels == 3) {
    std::memcpy(static_cast<void*>(q), p, 3 * n);
  } else {
    for (std::size_t i = 0; i < n; ++i) q[i] = dlib::rgb_pixel(p[i], p[i], p[i]);
  }
  return out;
}

media::Image FromDlib(const RgbImage& in) {
  media::Image out;
  out.width = static_cast<int>(in.nc());
  out.height = static_cast<int>(in.nr());
  out.channels = 3;
  out.pixels.reserve(static_cast<std::size_t>(out.width) * static_cast<std::size_t>(out.height) * 3);
  for (long y = 0; y < in.nr(); ++y) {
    for (long x = 0; x < in.nc(); ++x) {
      out.pixels.push_back(in(y, x).red);
      out.pixels.push_back(in(y, x).green);
      out.pixels.push_back(in(y, x).blue);
    }
  }
  return out;
}

// The image turned counter-clockwise by quarter_turns * 90 degrees (exact).
RgbImage Rotate(const RgbImage& in, int quarter_turns) {
  const long h = in.nr();
  const long w = in.nc();
  RgbImage out;
  if (quarter_turns == 2) {
    out.set_size(h, w);
    for (long r = 0; r < h; ++r)
      for (long c = 0; c < w; ++c) out(r, c) = in(h - 1 - r, w - 1 - c);
    return out;
  }
  out.set_size(w, h);
  for (long r = 0; r < w; ++r) {
    for (long c = 0; c < h; ++c) out(r, c) = quarter_turns == 1 ? in(c, w - 1 - r) : in(h - 1 - c, r);
  }
  return out;
}

// A box found in the image rotated counter-clockwise by quarter_turns, in
// the unrotated image's coordinates (w x h).
Box Unrotate(const Box& b, int quarter_turns, int w, int h) {
  switch (quarter_turns) {
    case 1:
      return {.left = w - b.bottom, .top = b.left, .right = w - b.top, .bottom = b.right};
    case 2:
      return {.left = w - b.right, .top = h - b.bottom, .right = w - b.left, .bottom = h - b.top};
    case 3:
      return {.left = b.top, .top = h - b.right, .right = b.bottom, .bottom = h - b.left};
    default:
      return b;
  }
}

double Overlap(const dlib::rectangle& a, const dlib::rectangle& b) {
  const double inter = static_cast<double>(a.intersect(b).area());
  const double smaller = static_cast<double>(std::min(a.area(), b.area()));
  return smaller > 0 ? inter / smaller : 0.0;
}

struct Found {
  dlib::rectangle rect;  // in the working image
  double score = 0;
};

// HOG detection on the image upscaled 2x, boxes in `img`'s coordinates.
std::vector<Found> DetectUpscaled(dlib::frontal_face_detector& detector, const RgbImage& img, double adjust_threshold) {
  RgbImage up(img.nr() * 2, img.nc() * 2);
  dlib::resize_image(img, up, dlib::interpolate_bilinear());
  std::vector<dlib::rect_detection> dets;
  detector(up, dets, adjust_threshold);
  std::vector<Found> found;
  for (const auto& d : dets) {
    const dlib::rectangle r(d.rect.left() / 2, d.rect.top() / 2, d.rect.right() / 2, d.rect.bottom() / 2);
    found.push_back({r, d.detection_confidence});
  }
  return found;
}

// The pyramid levels the upscaled pass scans: on the 2x image, dlib's
// pyramid_down<6> levels have scales 2, 5/3, 25/18, 125/108, 0.96, ... of
// the input, finding faces of about 40, 48, 58, 69, 83, ... pixels. From the
// fifth level on they repeat what the native pass (80 pixels and up) already
// scans, at a fifth of the pass's cost, so the pass stops after four.
constexpr unsigned long kUpscaledLevels = 4;
// dlib's default for scan_fhog_pyramid: as many levels as the image allows.
constexpr int kAllLevels = 1000;

fhog::PlanarImage ToPlanar(const RgbImage& img) {
  if (img.size() == 0) {
    fhog::PlanarImage out;
    out.Allocate(static_cast<int>(img.nc()), static_cast<int>(img.nr()));
    return out;
  }
  return fhog::ToPlanar(reinterpret_cast<const std::uint8_t*>(&img(0, 0)), static_cast<int>(img.nc()),
                        static_cast<int>(img.nr()), 3);
}

dlib::rectangle ToDlibRect(const fhog::Rect& r) { return dlib::rectangle(r.left, r.top, r.right, r.bottom); }

// Two detectors, one per pass: a dlib detector keeps per-call state, so the
// passes cannot share one when they run on two threads.
struct Detectors {
  dlib::frontal_face_detector* native;
  dlib::frontal_face_detector* upscaled;
};

// The native and upscaled passes' detections, highest score first;
// overlapping detections (one box mostly inside the other) keep the higher
// score.
std::vector<Found> MergePasses(std::vector<Found> all);

// HOG detection on `img` and, when allowed, on it upscaled 2x (on a second
// thread when allowed); overlapping detections (one box mostly inside the
// other) keep the higher score.
std::vector<Found> DetectIn(const Detectors& detectors, const RgbImage& img, const DetectOptions& options) {
  const std::int64_t up_pixels = 4 * static_cast<std::int64_t>(img.nr()) * img.nc();
  const bool upscale = options.max_upscaled_pixels > 0 && up_pixels <= options.max_upscaled_pixels;
  std::future<std::vector<Found>> upscaled;
  if (upscale && options.parallel_passes && std::thread::hardware_concurrency() > 1) {
    try {
      upscaled = std::async(std::launch::async, DetectUpscaled, std::ref(*detectors.upscaled), std::cref(img),
                            options.adjust_threshold);
    } catch (const std::system_error&) {
      // No thread to be had: the pass runs on this one below.
    }
  }
  std::vector<Found> all;
  std::vector<dlib::rect_detection> dets;
  (*detectors.native)(img, dets, options.adjust_threshold);
  for (const auto& d : dets) all.push_back({d.rect, d.detection_confidence});
  if (upscale) {
    // get() waits for the other thread and rethrows what it threw.
    const std::vector<Found> up =
        upscaled.valid() ? upscaled.get() : DetectUpscaled(*detectors.upscaled, img, options.adjust_threshold);
    all.insert(all.end(), up.begin(), up.end());
  }
  return MergePasses(std::move(all));
}

// The same with Takeback's detector: both passes' pyramid levels shared out
// between two threads when allowed.
std::vector<Found> DetectInOwn(const RgbImage& img, const DetectOptions& options) {
  const std::int64_t up_pixels = 4 * static_cast<std::int64_t>(img.nr()) * img.nc();
  const bool upscale = options.max_upscaled_pixels > 0 && up_pixels <= options.max_upscaled_pixels;
  const fhog::PlanarImage planar = ToPlanar(img);
  std::vector<fhog::Pass> passes = {{.image = &planar, .upscale_2x = false, .max_levels = kAllLevels}};
  if (upscale) {
    passes.push_back({.image = &planar, .upscale_2x = true, .max_levels = static_cast<int>(kUpscaledLevels)});
  }
  const int threads = options.parallel_passes && std::thread::hardware_concurrency() > 1 ? 2 : 1;
  const std::vector<std::vector<fhog::Detection>> found =
      fhog::DetectPasses(fhog::FrontalFaceModel(), passes, options.adjust_threshold, threads);
  std::vector<Found> all;
  for (const fhog::Detection& d : found[0]) all.push_back({ToDlibRect(d.rect), d.score});
  if (upscale) {
    // Boxes in the input's coordinates, halved as the dlib pass halves them.
    for (const fhog::Detection& d : found[1]) {
      all.push_back({dlib::rectangle(d.rect.left / 2, d.rect.top / 2, d.rect.right / 2, d.rect.bottom / 2), d.score});
    }
  }
  return MergePasses(std::move(all));
}

std::vector<Found> MergePasses(std::vector<Found> all) {
  std::stable_sort(all.begin(), all.end(), [](const Found& a, const Found& b) { return a.score > b.score; });
  std::vector<Found> kept;
  for (const Found& f : all) {
    const bool dup =
        std::any_of(kept.begin(), kept.end(), [&](const Found& k) { return Overlap(k.rect, f.rect) > 0.5; });
    if (!dup) kept.push_back(f);
  }
  return kept;
}

struct WorkingImage {
  RgbImage img;      // possibly downscaled, possibly rotated
  double scale = 1;  // working pixels per input pixel
  int quarter_turns = 0;
};

// Detection across the downscale bound and the rotations. Fills `work` with
// the image the returned boxes refer to.
std::vector<Found> DetectAll(const Detectors& detectors, RgbImage input, const DetectOptions& options,
                             WorkingImage& work) {
  const double pixels = static_cast<double>(input.nr()) * static_cast<double>(input.nc());
  RgbImage base;
  double scale = 1;
  if (options.max_detect_pixels > 0 && pixels > static_cast<double>(options.max_detect_pixels)) {
    scale = std::sqrt(static_cast<double>(options.max_detect_pixels) / pixels);
    base.set_size(std::max(1L, std::lround(static_cast<double>(input.nr()) * scale)),
                  std::max(1L, std::lround(static_cast<double>(input.nc()) * scale)));
    dlib::resize_image(input, base, dlib::interpolate_bilinear());
  } else {
    base = std::move(input);  // taken by value: no copy of the pixels
  }
  const int turns = options.try_rotations ? 4 : 1;
  for (int t = 0; t < turns; ++t) {
    RgbImage rotated = t == 0 ? RgbImage() : Rotate(base, t);
    // Rotated copies are a fallback, searched at native scale only: their
    // upscaled passes found small false faces in textures (dogs' fur).
    DetectOptions pass = options;
    if (t != 0) pass.max_upscaled_pixels = 0;
    const RgbImage& img = t == 0 ? base : rotated;
    std::vector<Found> found =
        options.detector == DetectorKind::kDlib ? DetectIn(detectors, img, pass) : DetectInOwn(img, pass);
    if (!found.empty() || t == turns - 1) {
      work.img = t == 0 ? std::move(base) : std::move(rotated);
      work.scale = scale;
      work.quarter_turns = t;
      return found;
    }
  }
  return {};
}

Box ToInputBox(const dlib::rectangle& r, const WorkingImage& work, int input_w, int input_h) {
  const auto scaled = [&](long v) { return static_cast<int>(std::lround(static_cast<double>(v) / work.scale)); };
  // dlib rectangles are inclusive; Box is exclusive on the right and bottom.
  const Box rotated{.left = scaled(r.left()),
                    .top = scaled(r.top()),
                    .right = scaled(r.right() + 1),
                    .bottom = scaled(r.bottom() + 1)};
  return Unrotate(rotated, work.quarter_turns, input_w, input_h);
}

dlib::frontal_face_detector MakeUpscaledDetector() {
  const dlib::frontal_face_detector full = dlib::get_frontal_face_detector();
  dlib::frontal_face_detector::image_scanner_type scanner;  // not copyable: copy its settings
  scanner.copy_configuration(full.get_scanner());
  scanner.set_max_pyramid_levels(kUpscaledLevels);
  std::vector<dlib::frontal_face_detector::feature_vector_type> weights;
  for (unsigned long i = 0; i < full.num_detectors(); ++i) weights.push_back(full.get_w(i));
  return dlib::frontal_face_detector(scanner, full.get_overlap_tester(), weights);
}

Detectors ThreadDetectors() {
  thread_local dlib::frontal_face_detector native = dlib::get_frontal_face_detector();
  thread_local dlib::frontal_face_detector upscaled = MakeUpscaledDetector();
  return {&native, &upscaled};
}

// A chip's interleaved RGB bytes (dlib's rgb_pixel is three bytes, red first).
std::span<const std::uint8_t> ChipBytes(const RgbImage& chip) {
  if (chip.size() == 0) return {};
  return {reinterpret_cast<const std::uint8_t*>(&chip(0, 0)), static_cast<std::size_t>(chip.size()) * 3};
}

class DlibFaceAnalyzer final : public FaceAnalyzer {
 public:
  Status Load(const ModelPaths& paths) {
    // The recognition weights first: they are small, so a bad file fails fast.
    Result<std::vector<TfjsTensor>> weights = LoadTfjsWeights(paths.recognition_manifest, paths.recognition_weights);
    if (!weights.ok()) return weights.status();
    Result<std::unique_ptr<Embedder>> embedder = MakeTakebackEmbedder(*weights, paths.recognition_manifest);
    if (!embedder.ok()) return embedder.status();
    embedder_ = std::move(*embedder);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(paths.shape_predictor, ec)) {
      return NotFound("face landmark model " + paths.shape_predictor +
                      " not found (Debian package libdlib-data installs it)");
    }
    try {
      dlib::deserialize(paths.shape_predictor) >> predictor_;
    } catch (const std::exception& e) {
      return Corrupt("face landmark model " + paths.shape_predictor + " is damaged: " + e.what());
    }
    if (predictor_.num_parts() != 68) {
      return Corrupt("face landmark model " + paths.shape_predictor + " is not a 68-point model");
    }
    return Status::Ok();
  }

  Result<FaceResult> Analyze(const media::Image& image, const DetectOptions& options) override {
    TAKEBACK_RETURN_IF_ERROR(CheckImage(image));
    try {
      FaceResult result;
      if (image.width < kMinSide || image.height < kMinSide) return result;
      WorkingImage work;
      std::vector<Found> found = DetectAll({&detector_, &up_detector_}, ToDlib(image), options, work);
      const std::size_t limit = static_cast<std::size_t>(std::max(0, options.max_faces));
      if (found.size() > limit) {
        found.resize(limit);
        result.truncated = true;
      }
      std::vector<RgbImage> chips(found.size());
      for (std::size_t i = 0; i < found.size(); ++i) {
        const dlib::full_object_detection shape = predictor_(work.img, found[i].rect);
        dlib::extract_image_chip(work.img, dlib::get_face_chip_details(shape, kChipSize, kChipPadding), chips[i]);
      }
      for (std::size_t i = 0; i < found.size(); ++i) {
        Face face;
        face.box = ToInputBox(found[i].rect, work, image.width, image.height);
        face.score = found[i].score;
        face.rotation = 90 * work.quarter_turns;
        Result<Descriptor> descriptor = embedder_->Embed(ChipBytes(chips[i]));
        if (!descriptor.ok()) return descriptor.status();
        face.descriptor = *descriptor;
        if (options.keep_chips) face.chip = FromDlib(chips[i]);
        result.faces.push_back(std::move(face));
      }
      return result;
    } catch (const std::bad_alloc&) {
      return TooLarge("face: out of memory analysing a " + std::to_string(image.width) + "x" +
                      std::to_string(image.height) + " image");
    } catch (const std::exception& e) {
      return Internal(std::string("face: dlib failed: ") + e.what());
    }
  }

  Result<Descriptor> Embed(const media::Image& chip) override {
    TAKEBACK_RETURN_IF_ERROR(CheckImage(chip));
    if (chip.width != kChipSize || chip.height != kChipSize) {
      return InvalidArgument("face: a chip must be " + std::to_string(kChipSize) + "x" + std::to_string(kChipSize));
    }
    if (chip.channels == 3) return embedder_->Embed(chip.pixels);
    const RgbImage rgb = ToDlib(chip);  // grey to RGB
    return embedder_->Embed(ChipBytes(rgb));
  }

 private:
  dlib::frontal_face_detector detector_ = dlib::get_frontal_face_detector();
  dlib::frontal_face_detector up_detector_ = MakeUpscaledDetector();
  dlib::shape_predictor predictor_;
  std::unique_ptr<Embedder> embedder_;
};

// dlib's own network (rn::Network), the reference Takeback's forward pass
// (resnet.h) is compared with.
class DlibEmbedder final : public Embedder {
 public:
  Result<Descriptor> Embed(std::span<const std::uint8_t> rgb) override {
    constexpr std::size_t kBytes = 3 * static_cast<std::size_t>(kChipSize) * kChipSize;
    if (rgb.size() != kBytes) {
      return InvalidArgument("face: a chip must be " + std::to_string(kChipSize) + "x" + std::to_string(kChipSize) +
                             " RGB (" + std::to_string(kBytes) + " bytes), got " + std::to_string(rgb.size()));
    }
    try {
      RgbImage chip(kChipSize, kChipSize);
      std::memcpy(static_cast<void*>(&chip(0, 0)), rgb.data(), kBytes);
      const dlib::matrix<float, 0, 1> v = network_(chip);
      Descriptor d{};
      for (int i = 0; i < kDescriptorSize; ++i) d[static_cast<std::size_t>(i)] = v(i);
      return d;
    } catch (const std::exception& e) {
      return Internal(std::string("face: dlib failed: ") + e.what());
    }
  }

  Status LoadNetwork(const std::vector<TfjsTensor>& weights, const std::string& manifest) {
    try {
      // Per-channel affine layers (batch norm folded), not dlib's default
      // per-activation mode; then a dummy pass allocates every parameter.
      dlib::visit_computational_layers(network_, [](auto& l) -> void {
        if constexpr (std::is_same_v<std::decay_t<decltype(l)>, dlib::affine_>) l = dlib::affine_(dlib::CONV_MODE);
      });
      RgbImage blank(kChipSize, kChipSize);
      blank = dlib::rgb_pixel(0, 0, 0);
      network_(blank);
      std::vector<dlib::tensor*> convs;
      std::vector<dlib::affine_*> affines;
      dlib::tensor* fc = nullptr;
      dlib::visit_computational_layers(network_, [&](auto& l) -> void {
        using L = std::decay_t<decltype(l)>;
        if constexpr (std::is_same_v<L, dlib::affine_>) {
          affines.push_back(&l);  // its parameters are not "layer params" (not trained)
        } else if constexpr (requires { l.get_num_outputs(); }) {
          fc = &l.get_layer_params();
        } else if constexpr (requires { l.num_filters(); }) {
          convs.push_back(&l.get_layer_params());
        }
      });
      // visit order is output to input; the manifest lists input to output.
      std::reverse(convs.begin(), convs.end());
      std::reverse(affines.begin(), affines.end());
      const std::size_t expected = 4 * convs.size() + 1;
      if (convs.size() != 29 || affines.size() != 29 || fc == nullptr || weights.size() != expected) {
        return Corrupt(manifest + ": has " + std::to_string(weights.size()) + " weights; the face-recognition " +
                       "ResNet needs " + std::to_string(expected));
      }
      for (std::size_t i = 0; i < convs.size(); ++i) {
        TAKEBACK_RETURN_IF_ERROR(CopyConv(weights[4 * i], weights[4 * i + 1], *convs[i]));
        TAKEBACK_RETURN_IF_ERROR(CopyAffine(weights[4 * i + 2], weights[4 * i + 3], *affines[i]));
      }
      const TfjsTensor& w = weights.back();
      if (w.values.size() != fc->size() || w.shape.size() != 2) {
        return Corrupt("face model weight " + w.name + " has the wrong shape for the final layer");
      }
      std::copy(w.values.begin(), w.values.end(), fc->host());  // [in][out] in both
      return Status::Ok();
    } catch (const std::exception& e) {
      return Internal(std::string("face: building the recognition network failed: ") + e.what());
    }
  }

  // tfjs conv filters are [h][w][in][out]; dlib wants [out][in][h][w], then the biases.
  static Status CopyConv(const TfjsTensor& filters, const TfjsTensor& bias, dlib::tensor& params) {
    if (filters.shape.size() != 4 || bias.shape.size() != 1) {
      return Corrupt("face model weight " + filters.name + " is not a conv filter bank");
    }
    const std::size_t kh = static_cast<std::size_t>(filters.shape[0]);
    const std::size_t kw = static_cast<std::size_t>(filters.shape[1]);
    const std::size_t in = static_cast<std::size_t>(filters.shape[2]);
    const std::size_t out = static_cast<std::size_t>(filters.shape[3]);
    if (bias.values.size() != out || params.size() != kh * kw * in * out + out) {
      return Corrupt("face model weight " + filters.name + " does not fit the network's layer");
    }
    float* p = params.host();
    for (std::size_t o = 0; o < out; ++o)
      for (std::size_t i = 0; i < in; ++i)
        for (std::size_t y = 0; y < kh; ++y)
          for (std::size_t x = 0; x < kw; ++x) *p++ = filters.values[((y * kw + x) * in + i) * out + o];
    std::copy(bias.values.begin(), bias.values.end(), p);
    return Status::Ok();
  }

  static Status CopyAffine(const TfjsTensor& gamma, const TfjsTensor& beta, dlib::affine_& layer) {
    auto g = layer.get_gamma();
    auto b = layer.get_beta();
    if (gamma.values.size() != g.size() || beta.values.size() != b.size()) {
      return Corrupt("face model weight " + gamma.name + " does not fit the network's layer");
    }
    std::copy(gamma.values.begin(), gamma.values.end(), g.host());
    std::copy(beta.values.begin(), beta.values.end(), b.host());
    return Status::Ok();
  }

 private:
  rn::Network network_;
};

}  // namespace

float DescriptorDistance(const Descriptor& a, const Descriptor& b) {
  float sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(sum);
}

ModelPaths DefaultModelPaths() {
  ModelPaths paths;
  if (const char* dir = std::getenv("TAKEBACK_MODEL_DIR"); dir != nullptr && *dir != '\0') {
    paths.recognition_manifest = (std::filesystem::path(dir) / "face_recognition_model-weights_manifest.json").string();
  }
  return paths;
}

namespace {
// One BLAS thread per FaceAnalyzer: the embedding gains nothing from a
// second OpenBLAS thread on this machine type (docs/BENCHMARKS.md, "Faces"),
// and callers that keep every core busy (the scan runs one photo per core)
// lost about a fifth of their CPU time to idle OpenBLAS threads spinning in
// sched_yield. OPENBLAS_NUM_THREADS, when set, still decides. Found by name
// at run time: the BLAS dlib links may not be OpenBLAS.
void UseOneBlasThread() {
  static const bool done = [] {
    if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr || std::getenv("OMP_NUM_THREADS") != nullptr) return true;
    using SetThreads = void (*)(int);
    if (void* f = dlsym(RTLD_DEFAULT, "openblas_set_num_threads"); f != nullptr) {
      reinterpret_cast<SetThreads>(f)(1);
    }
    return true;
  }();
  (void)done;
}
}  // namespace

Result<std::unique_ptr<Embedder>> MakeDlibEmbedder(const std::vector<TfjsTensor>& weights, const std::string& source) {
  try {
    auto embedder = std::make_unique<DlibEmbedder>();
    TAKEBACK_RETURN_IF_ERROR(embedder->LoadNetwork(weights, source));
    return std::unique_ptr<Embedder>(std::move(embedder));
  } catch (const std::exception& e) {
    return Internal(std::string("face: building dlib's recognition network failed: ") + e.what());
  }
}

Result<std::unique_ptr<FaceAnalyzer>> FaceAnalyzer::Open(const ModelPaths& paths) {
  UseOneBlasThread();
  try {
    auto analyzer = std::make_unique<DlibFaceAnalyzer>();
    TAKEBACK_RETURN_IF_ERROR(analyzer->Load(paths));
    return std::unique_ptr<FaceAnalyzer>(std::move(analyzer));
  } catch (const std::exception& e) {
    return Internal(std::string("face: loading models failed: ") + e.what());
  }
}

Result<std::vector<Detection>> DetectFaces(const media::Image& image, const DetectOptions& options) {
  TAKEBACK_RETURN_IF_ERROR(CheckImage(image));
  try {
    std::vector<Detection> out;
    if (image.width < kMinSide || image.height < kMinSide) return out;
    WorkingImage work;
    for (const Found& f : DetectAll(ThreadDetectors(), ToDlib(image), options, work)) {
      out.push_back({ToInputBox(f.rect, work, image.width, image.height), f.score, 90 * work.quarter_turns});
    }
    return out;
  } catch (const std::exception& e) {
    return Internal(std::string("face: detection failed: ") + e.what());
  }
}

const char* DetectorName(DetectorKind kind) { return kind == DetectorKind::kDlib ? "dlib" : "takeback"; }

namespace fhog {

namespace {
Model CopyFrontalFaceModel() {
  const dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
  const auto& scanner = detector.get_scanner();
  Model model;
  model.cell_size = static_cast<int>(scanner.get_cell_size());
  const long padding = static_cast<long>(scanner.get_padding());
  model.filter_rows = static_cast<int>(scanner.get_detection_window_height() / scanner.get_cell_size() + 2 * padding);
  model.filter_cols = static_cast<int>(scanner.get_detection_window_width() / scanner.get_cell_size() + 2 * padding);
  model.min_level_width = static_cast<int>(scanner.get_min_pyramid_layer_width());
  model.min_level_height = static_cast<int>(scanner.get_min_pyramid_layer_height());
  model.iou_thresh = detector.get_overlap_tester().get_iou_thresh();
  model.percent_covered_thresh = detector.get_overlap_tester().get_percent_covered_thresh();
  for (unsigned long i = 0; i < detector.num_detectors(); ++i) {
    const auto bank = scanner.build_fhog_filterbank(detector.get_w(i));
    Filter filter;
    filter.bias = detector.get_w(i)(static_cast<long>(scanner.get_num_dimensions()));
    filter.planes.resize(bank.row_filters.size());
    for (std::size_t p = 0; p < bank.row_filters.size(); ++p) {
      for (std::size_t j = 0; j < bank.row_filters[p].size(); ++j) {
        SeparableFilter f;
        const auto& row = bank.row_filters[p][j];
        const auto& col = bank.col_filters[p][j];
        f.row.assign(row.begin(), row.end());
        f.col.assign(col.begin(), col.end());
        filter.planes[p].push_back(std::move(f));
      }
    }
    model.filters.push_back(std::move(filter));
  }
  return model;
}
}  // namespace

const Model& FrontalFaceModel() {
  static const Model model = CopyFrontalFaceModel();
  return model;
}

}  // namespace fhog

}  // namespace takeback::face
