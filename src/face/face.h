// Faces (issue 5): find a person's face in images she never had, such as a
// deepfake that carries her face on someone else's body.
//
// Pipeline: dlib's HOG frontal face detector (with an upscaled pass for small
// faces, a bounded downscale for huge images, and 90/180/270 degree rotations
// when nothing is found upright) -> dlib's 68-point shape predictor, aligned
// 150x150 chips -> dlib's face-recognition ResNet, 128-d descriptors. Two
// descriptors of the same person lie about 0.4 apart (Euclidean), different
// people usually over 0.6. A match is a lead for human review, never proof.
//
// src/face is the only folder that uses dlib; no dlib type appears here.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "media/image.h"

namespace takeback::face {

inline constexpr int kDescriptorSize = 128;
inline constexpr int kChipSize = 150;  // aligned chips are kChipSize x kChipSize RGB

using Descriptor = std::array<float, kDescriptorSize>;

// Euclidean distance between two descriptors.
float DescriptorDistance(const Descriptor& a, const Descriptor& b);

// Two faces whose descriptors lie at most this far apart are reported as a
// possible match: a lead for human review (review_required), never proof and
// never a takedown by itself. Chosen below dlib's published 0.6 because
// photos of different East Asian women were measured 0.55-0.60 apart; a
// victim registers several photos and a candidate is scored by its minimum
// distance to them, which brings true matches (about 0.3-0.45) further under
// it. Calibration and its limits: docs/BENCHMARKS.md, "Faces (issue 5)";
// docs/formats/face.md, "Known weakness".
inline constexpr float kDefaultFaceMatchThreshold = 0.5F;

// The smallest distance from `candidate` to any of `registered` (a person's
// several registered photos), or +infinity when `registered` is empty.
float MinimumDistance(const Descriptor& candidate, std::span<const Descriptor> registered);

// Where the models live. The defaults are Debian's libdlib-data file and the
// files scripts/fetch-models puts in models/ (relative to the working
// directory); the environment variable TAKEBACK_MODEL_DIR, when set, replaces
// "models" in the defaults (see DefaultModelPaths).
struct ModelPaths {
  std::string shape_predictor = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  std::string recognition_manifest = "models/face_recognition_model-weights_manifest.json";
  // Empty: the file the manifest names, in the manifest's folder.
  std::string recognition_weights;
};

// ModelPaths with TAKEBACK_MODEL_DIR applied.
ModelPaths DefaultModelPaths();

// Axis-aligned box in the input image's pixel coordinates; right and bottom
// are exclusive. May extend past the image edges (dlib boxes do).
struct Box {
  int left = 0;
  int top = 0;
  int right = 0;
  int bottom = 0;
};

// Which implementation of dlib's HOG frontal face detector runs. Both use
// dlib's trained filters and find the same faces (src/face/fhog_test.cc
// checks boxes and scores against dlib's on the test photos); Takeback's own
// (src/face/fhog.h) is several times faster and the default, dlib's is kept
// as the reference.
enum class DetectorKind { kTakeback, kDlib };

// "takeback" or "dlib".
const char* DetectorName(DetectorKind kind);

struct DetectOptions {
  DetectorKind detector = DetectorKind::kTakeback;
  // Images with more pixels than this are downscaled (aspect kept) before
  // detection, which bounds time and memory on huge images.
  std::int64_t max_detect_pixels = 4'000'000;
  // Also detect on the image upscaled 2x, for faces under ~80 px, when the
  // upscaled image has at most this many pixels. 0 disables the pass.
  std::int64_t max_upscaled_pixels = 4'000'000;
  // Share the pyramid levels of the native and the upscaled pass out between
  // two threads when the machine has more than one core: the same faces in
  // less wall time, about the same CPU time. Turn off when the caller
  // already keeps every core busy.
  bool parallel_passes = true;
  // When nothing is found upright, also try the image rotated by 90, 180 and
  // 270 degrees (the first rotation with a face wins), at native scale only.
  bool try_rotations = true;
  // Added to the detector's threshold: negative finds more (and more false)
  // faces. dlib's default is 0.
  double adjust_threshold = 0.0;
  // At most this many faces per image are aligned and embedded (the highest
  // scoring ones); `truncated` says when more were found.
  int max_faces = 256;
  // Keep each face's aligned chip in Face::chip.
  bool keep_chips = false;
};

struct Face {
  Box box;           // in the input image's coordinates (rotation undone)
  double score = 0;  // HOG detector confidence; > 0 is a detection
  int rotation = 0;  // 0, 90, 180 or 270: the counter-clockwise rotation of the image it was found in
  Descriptor descriptor{};
  media::Image chip;  // kChipSize x kChipSize RGB when DetectOptions::keep_chips
};

struct FaceResult {
  std::vector<Face> faces;  // highest score first
  bool truncated = false;   // more than max_faces were found
};

// Detector, aligner and embedder with their models loaded. Thread-safety:
// one FaceAnalyzer is not safe for concurrent calls (dlib's network keeps
// per-call state); use one per thread.
class FaceAnalyzer {
 public:
  virtual ~FaceAnalyzer() = default;

  // Loads the shape predictor and the recognition network. Errors:
  // kNotFound (a model file is missing; the message says how to fetch it),
  // kCorrupt (a model file is damaged or not what it claims to be).
  static Result<std::unique_ptr<FaceAnalyzer>> Open(const ModelPaths& paths);

  // Finds, aligns and embeds the faces of an 8-bit grey or RGB image. An
  // image with no face gives an empty result, not an error. Errors:
  // kInvalidArgument (malformed Image).
  virtual Result<FaceResult> Analyze(const media::Image& image, const DetectOptions& options) = 0;

  // Embeds one aligned kChipSize x kChipSize RGB chip (as Face::chip).
  virtual Result<Descriptor> Embed(const media::Image& chip) = 0;
};

// Detection only (no model files needed): the boxes and scores Analyze would
// align, highest score first.
struct Detection {
  Box box;
  double score = 0;
  int rotation = 0;
};
Result<std::vector<Detection>> DetectFaces(const media::Image& image, const DetectOptions& options);

}  // namespace takeback::face
