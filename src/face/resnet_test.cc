// Takeback's forward pass of the face-recognition ResNet (resnet.h) against
// dlib's network with the same weights, on real aligned chips of
// ../shared/testdata/face, and its handling of bad weights and bad chips.
// The agreement with the reference JavaScript is
// tests/golden/face_golden_test.cc's job.
#include "face/resnet.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "face/face.h"
#include "face/tfjs_weights.h"
#include "media/image.h"

namespace takeback::face {
namespace {

namespace fs = std::filesystem;

const fs::path kFaceDir = fs::path(TAKEBACK_TESTDATA_DIR) / "face";
const fs::path kManifest = fs::path(TAKEBACK_MODEL_DIR) / "face_recognition_model-weights_manifest.json";

// Both run the same float32 arithmetic in a different order (the affine
// folded into the weights, another summation order in the GEMMs); measured
// ~1e-6 per component. Descriptors of different people lie ~0.6 apart.
constexpr float kMaxComponentDelta = 2e-5F;

// A chip's pixels with a different colour per pixel, for the synthetic tests.
std::vector<std::uint8_t> PatternChip(unsigned seed) {
  std::vector<std::uint8_t> rgb(3 * static_cast<std::size_t>(kChipSize) * kChipSize);
  unsigned v = seed;
  for (std::uint8_t& b : rgb) {
    v = v * 1664525U + 1013904223U;
    b = static_cast<std::uint8_t>(v >> 24U);
  }
  return rgb;
}

class ResNetTest : public ::testing::Test {
 protected:
  // The weights are read once for all tests (seconds under ASan).
  static void SetUpTestSuite() {
    Result<std::vector<TfjsTensor>> w = LoadTfjsWeights(kManifest.string(), "");
    suite_loaded = w.ok();
    if (w.ok()) {
      suite_weights = std::move(*w);
    } else {
      suite_load_error = w.status().ToString();
    }
  }
  static void TearDownTestSuite() { suite_weights.clear(); }
  void SetUp() override {
    if (!suite_loaded) GTEST_SKIP() << "face models unavailable (run scripts/fetch-models): " << suite_load_error;
  }

  static bool suite_loaded;
  static std::vector<TfjsTensor> suite_weights;
  static std::string suite_load_error;
  const std::vector<TfjsTensor>& weights_ = suite_weights;
};

bool ResNetTest::suite_loaded = false;
std::vector<TfjsTensor> ResNetTest::suite_weights;
std::string ResNetTest::suite_load_error;

// The aligned chips of the test photos' faces, as FaceAnalyzer cuts them.
std::vector<media::Image> RealChips(FaceAnalyzer& analyzer) {
  std::vector<media::Image> chips;
  // Two small photos with four faces between them (detection dominates
  // this test's time under ASan).
  for (const char* name : {"2008_001322.jpg", "swap-target-A.jpg"}) {
    std::ifstream in(kFaceDir / name, std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Result<media::Image> image = media::DecodeImage(bytes, media::DecodeOptions{});
    if (!image.ok()) continue;
    DetectOptions options;
    options.keep_chips = true;
    options.try_rotations = false;
    options.max_upscaled_pixels = 0;  // the faces here are large; keeps the test fast under ASan
    Result<FaceResult> r = analyzer.Analyze(*image, options);
    if (!r.ok()) continue;
    for (Face& f : r->faces) chips.push_back(std::move(f.chip));
  }
  return chips;
}

TEST_F(ResNetTest, AgreesWithDlibsNetworkOnRealChips) {
  if (!fs::is_directory(kFaceDir)) GTEST_SKIP() << "test data not found at " << kFaceDir;
  ModelPaths paths;
  paths.recognition_manifest = kManifest.string();
  Result<std::unique_ptr<FaceAnalyzer>> analyzer = FaceAnalyzer::Open(paths);
  ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
  const std::vector<media::Image> chips = RealChips(**analyzer);
  ASSERT_GE(chips.size(), 4U) << "the test photos hold at least four faces";

  Result<std::unique_ptr<Embedder>> ours = MakeEmbedder(EmbedderKind::kTakeback, weights_, kManifest.string());
  Result<std::unique_ptr<Embedder>> dlib = MakeEmbedder(EmbedderKind::kDlib, weights_, kManifest.string());
  ASSERT_TRUE(ours.ok()) << ours.status().ToString();
  ASSERT_TRUE(dlib.ok()) << dlib.status().ToString();
  float max_delta = 0;
  for (std::size_t i = 0; i < chips.size(); ++i) {
    SCOPED_TRACE("chip " + std::to_string(i));
    Result<Descriptor> a = (*ours)->Embed(chips[i].pixels);
    Result<Descriptor> b = (*dlib)->Embed(chips[i].pixels);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    for (std::size_t j = 0; j < a->size(); ++j) max_delta = std::max(max_delta, std::fabs((*a)[j] - (*b)[j]));
    // The analyzer's own descriptor of the chip is Takeback's.
    Result<Descriptor> via_analyzer = (*analyzer)->Embed(chips[i]);
    ASSERT_TRUE(via_analyzer.ok()) << via_analyzer.status().ToString();
    EXPECT_EQ(*via_analyzer, *a);
  }
  // Different faces give different descriptors (not a constant output).
  EXPECT_GT(DescriptorDistance(*(*ours)->Embed(chips[0].pixels), *(*ours)->Embed(chips[1].pixels)), 0.3F);
  std::cout << chips.size() << " real chips: max |takeback - dlib| per component " << max_delta << "\n";
  EXPECT_LE(max_delta, kMaxComponentDelta);
}

TEST_F(ResNetTest, AgreesWithDlibsNetworkOnSyntheticChips) {
  Result<std::unique_ptr<Embedder>> ours = MakeTakebackEmbedder(weights_, kManifest.string());
  // The path CPUs without AVX2 and FMA take (im2col + BLAS sgemm).
  Result<std::unique_ptr<Embedder>> portable = MakeTakebackEmbedder(weights_, kManifest.string(), false);
  Result<std::unique_ptr<Embedder>> dlib = MakeDlibEmbedder(weights_, kManifest.string());
  ASSERT_TRUE(ours.ok()) << ours.status().ToString();
  ASSERT_TRUE(portable.ok()) << portable.status().ToString();
  ASSERT_TRUE(dlib.ok()) << dlib.status().ToString();
  std::vector<std::vector<std::uint8_t>> inputs = {PatternChip(1), PatternChip(2)};
  inputs.emplace_back(3 * static_cast<std::size_t>(kChipSize) * kChipSize, 0);    // black
  inputs.emplace_back(3 * static_cast<std::size_t>(kChipSize) * kChipSize, 255);  // white
  float max_delta = 0;
  float max_portable_delta = 0;
  for (const auto& rgb : inputs) {
    Result<Descriptor> a = (*ours)->Embed(rgb);
    Result<Descriptor> b = (*dlib)->Embed(rgb);
    Result<Descriptor> p = (*portable)->Embed(rgb);
    ASSERT_TRUE(a.ok() && b.ok() && p.ok());
    for (std::size_t j = 0; j < a->size(); ++j) {
      max_delta = std::max(max_delta, std::fabs((*a)[j] - (*b)[j]));
      max_portable_delta = std::max(max_portable_delta, std::fabs((*p)[j] - (*b)[j]));
    }
    // Buffers reused across calls: the same input gives the same output.
    Result<Descriptor> again = (*ours)->Embed(rgb);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *a);
  }
  std::cout << "synthetic chips: max |takeback - dlib| per component " << max_delta << " (portable path "
            << max_portable_delta << ")\n";
  EXPECT_LE(max_delta, kMaxComponentDelta);
  EXPECT_LE(max_portable_delta, kMaxComponentDelta);
}

TEST_F(ResNetTest, RejectsChipsOfTheWrongSize) {
  Result<std::unique_ptr<Embedder>> ours = MakeTakebackEmbedder(weights_, kManifest.string());
  ASSERT_TRUE(ours.ok()) << ours.status().ToString();
  const std::vector<std::uint8_t> small(std::size_t{3} * 10 * 10, 7);
  Result<Descriptor> d = (*ours)->Embed(small);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("150x150"), std::string::npos) << d.status().ToString();
  EXPECT_FALSE((*ours)->Embed({}).ok());
}

TEST_F(ResNetTest, RejectsWeightsOfAnotherNetwork) {
  for (const EmbedderKind kind : {EmbedderKind::kTakeback, EmbedderKind::kDlib}) {
    SCOPED_TRACE(EmbedderName(kind));
    // One tensor missing.
    std::vector<TfjsTensor> fewer(weights_.begin(), weights_.end() - 1);
    Result<std::unique_ptr<Embedder>> e = MakeEmbedder(kind, fewer, "test.json");
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), ErrorCode::kCorrupt);
    EXPECT_NE(e.status().message().find("test.json"), std::string::npos) << e.status().ToString();
    // A filter bank of the wrong shape, with as many values as the right one.
    std::vector<TfjsTensor> reshaped = weights_;
    // The first convolution of level 3 (the 8th): [3,3,32,64] -> [3,3,64,32].
    std::swap(reshaped[28].shape[2], reshaped[28].shape[3]);
    e = MakeEmbedder(kind, reshaped, "test.json");
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), ErrorCode::kCorrupt) << e.status().ToString();
  }
  // Nothing at all.
  Result<std::unique_ptr<Embedder>> none = MakeTakebackEmbedder({}, "empty.json");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace takeback::face
