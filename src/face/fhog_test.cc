// Quick unit tests of Takeback's HOG detector (fhog.h): the resize, small
// and degenerate images, grey input, the faces the face tests rely on, and
// the AVX2 kernels against the portable ones. The full comparison with
// dlib's detector is fhog_dlib_test.cc.
#include "face/fhog.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "face/face.h"
#include "media/image.h"

namespace takeback::face {
namespace {

namespace fs = std::filesystem;

const fs::path kFaceDir = fs::path(TAKEBACK_TESTDATA_DIR) / "face";

Result<media::Image> Load(const std::string& name) {
  std::ifstream in(kFaceDir / name, std::ios::binary);
  if (!in) return NotFound(name);
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return media::DecodeImage(bytes, media::DecodeOptions{});
}

TEST(FhogFaces, TheFacesTheFaceTestsExpect) {
  if (!fs::is_directory(kFaceDir)) GTEST_SKIP() << "test data not found at " << kFaceDir;
  const auto count = [](const char* name) -> long {
    Result<media::Image> image = Load(name);
    if (!image.ok()) return -1;
    Result<std::vector<Detection>> found = DetectFaces(*image, DetectOptions{});
    return found.ok() ? static_cast<long>(found->size()) : -1;
  };
  EXPECT_EQ(count("messi5.jpg"), 1);  // only the upscaled pass finds it
  EXPECT_EQ(count("bald_guys.jpg"), 24);
  EXPECT_EQ(count("dogs.jpg"), 0);
  EXPECT_EQ(count("swap-result-B-on-A.jpg"), 1);
}

// The AVX2 kernels and the portable ones: the same boxes, scores within
// float summation order (fused multiply-adds in the filters).
TEST(FhogFaces, Avx2AndPortableKernelsAgree) {
  if (!fs::is_directory(kFaceDir)) GTEST_SKIP() << "test data not found at " << kFaceDir;
  if (!fhog::SetAvx2Enabled(true)) GTEST_SKIP() << "no AVX2/FMA on this CPU (or TAKEBACK_NO_AVX2 set)";
  Result<media::Image> image = Load("2008_001322.jpg");
  ASSERT_TRUE(image.ok());
  const fhog::PlanarImage planar = fhog::ToPlanar(image->pixels.data(), image->width, image->height, image->channels);
  const auto fast = fhog::Detect(fhog::FrontalFaceModel(), planar, 1000, -1.0);
  fhog::SetAvx2Enabled(false);
  const auto portable = fhog::Detect(fhog::FrontalFaceModel(), planar, 1000, -1.0);
  fhog::SetAvx2Enabled(true);
  ASSERT_GE(fast.size(), 3U);  // its three faces, and weaker detections at -1
  ASSERT_EQ(fast.size(), portable.size());
  for (std::size_t i = 0; i < fast.size(); ++i) {
    EXPECT_EQ(fast[i].rect.left, portable[i].rect.left);
    EXPECT_EQ(fast[i].rect.top, portable[i].rect.top);
    EXPECT_EQ(fast[i].rect.right, portable[i].rect.right);
    EXPECT_EQ(fast[i].rect.bottom, portable[i].rect.bottom);
    EXPECT_NEAR(fast[i].score, portable[i].score, 1e-4);
  }
}

// The resize reproduces dlib's exactly: a 2x upscale then the pyramid's 5/6
// steps keep a flat image flat and keep its size arithmetic.
TEST(FhogResize, SizesAndFlatImages) {
  fhog::PlanarImage flat;
  flat.width = 37;
  flat.height = 23;
  flat.pixels.assign(3 * 37 * 23, 200);
  const fhog::PlanarImage up = fhog::Resize(flat, 74, 46);
  ASSERT_EQ(up.width, 74);
  ASSERT_EQ(up.height, 46);
  ASSERT_EQ(up.pixels.size(), 3U * 74 * 46 + fhog::PlanarImage::kSlack);
  // dlib truncates 199.99998 to 199 in places; every pixel is 199 or 200.
  EXPECT_TRUE(std::all_of(up.pixels.begin(), up.pixels.begin() + 3 * 74 * 46,
                          [](std::uint8_t v) { return v == 199 || v == 200; }));
  const fhog::PlanarImage one = fhog::Resize(flat, 1, 1);
  ASSERT_EQ(one.width, 1);
  EXPECT_EQ(one.pixels[0], 200);
  const fhog::PlanarImage none = fhog::Resize(flat, 0, 5);
  EXPECT_EQ(none.width * none.height, 0);
  // A pixel buffer shorter than width x height is not read.
  fhog::PlanarImage bad = flat;
  bad.pixels.resize(10);
  const fhog::PlanarImage from_bad = fhog::Resize(bad, 20, 20);
  EXPECT_TRUE(std::all_of(from_bad.pixels.begin(), from_bad.pixels.end(), [](std::uint8_t v) { return v == 0; }));
}

TEST(FhogDetect, DegenerateImagesFindNothing) {
  const fhog::Model& model = fhog::FrontalFaceModel();
  ASSERT_EQ(model.filters.size(), 5U);
  for (const auto& [w, h] :
       std::vector<std::pair<int, int>>{{1, 1}, {2, 2}, {16, 16}, {17, 400}, {3000, 9}, {80, 80}}) {
    fhog::PlanarImage img;
    img.width = w;
    img.height = h;
    img.pixels.assign(3 * static_cast<std::size_t>(w) * h, 0);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>((i * 7919) % 251);
    EXPECT_TRUE(fhog::Detect(model, img, 1000, 0.0).empty()) << w << "x" << h;
  }
  fhog::PlanarImage empty;
  EXPECT_TRUE(fhog::Detect(model, empty, 1000, 0.0).empty());
}

// Two threads share out the levels of both passes: exactly the detections
// and the work of one thread, and each pass as Detect alone finds it.
TEST(FhogDetect, TwoThreadsFindWhatOneFinds) {
  if (!fs::is_directory(kFaceDir)) GTEST_SKIP() << "test data not found at " << kFaceDir;
  Result<media::Image> image = Load("2008_001322.jpg");
  ASSERT_TRUE(image.ok());
  const fhog::PlanarImage planar = fhog::ToPlanar(image->pixels.data(), image->width, image->height, image->channels);
  const fhog::Model& model = fhog::FrontalFaceModel();
  const std::vector<fhog::Pass> passes = {{.image = &planar, .upscale_2x = false, .max_levels = 1000},
                                          {.image = &planar, .upscale_2x = true, .max_levels = 4}};
  fhog::Stats one_stats;
  fhog::Stats two_stats;
  const auto one = fhog::DetectPasses(model, passes, -0.5, 1, &one_stats);
  const auto two = fhog::DetectPasses(model, passes, -0.5, 2, &two_stats);
  ASSERT_EQ(one.size(), 2U);
  ASSERT_EQ(two.size(), 2U);
  EXPECT_EQ(one_stats.levels, two_stats.levels);
  EXPECT_EQ(one_stats.pixels, two_stats.pixels);
  EXPECT_EQ(one_stats.cells, two_stats.cells);
  // 4 upscaled levels plus the native pyramid; the upscaled level 0 has 4x the pixels.
  EXPECT_GT(one_stats.levels, 4);
  EXPECT_GT(one_stats.pixels, 5LL * image->width * image->height);
  const fhog::PlanarImage up = fhog::Resize(planar, 2 * planar.width, 2 * planar.height);
  const std::vector<fhog::Detection> alone[2] = {fhog::Detect(model, planar, 1000, -0.5),
                                                 fhog::Detect(model, up, 4, -0.5)};
  EXPECT_GE(alone[0].size(), 3U);  // its three faces at least
  EXPECT_GE(alone[1].size(), 1U);
  for (std::size_t p = 0; p < 2; ++p) {
    ASSERT_EQ(one[p].size(), two[p].size()) << "pass " << p;
    ASSERT_EQ(one[p].size(), alone[p].size()) << "pass " << p;
    for (std::size_t i = 0; i < one[p].size(); ++i) {
      for (const auto* other : {&two[p][i], &alone[p][i]}) {
        EXPECT_EQ(one[p][i].rect.left, other->rect.left);
        EXPECT_EQ(one[p][i].rect.top, other->rect.top);
        EXPECT_EQ(one[p][i].rect.right, other->rect.right);
        EXPECT_EQ(one[p][i].rect.bottom, other->rect.bottom);
        EXPECT_EQ(one[p][i].score, other->score);
        EXPECT_EQ(one[p][i].filter, other->filter);
      }
    }
  }
}

// The two threads take levels as the pyramids are being built (the helper
// builds the later passes' pyramids, this thread the first's): any number of
// passes, one of them empty, several calls in a row, always what one thread
// finds.
TEST(FhogDetect, TwoThreadsAnyPassesSameAsOne) {
  if (!fs::is_directory(kFaceDir)) GTEST_SKIP() << "test data not found at " << kFaceDir;
  Result<media::Image> a = Load("swap-result-B-on-A.jpg");
  Result<media::Image> b = Load("messi5.jpg");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  const fhog::PlanarImage pa = fhog::ToPlanar(a->pixels.data(), a->width, a->height, a->channels);
  const fhog::PlanarImage pb = fhog::ToPlanar(b->pixels.data(), b->width, b->height, b->channels);
  const fhog::PlanarImage empty;
  const fhog::Model& model = fhog::FrontalFaceModel();
  const std::vector<std::vector<fhog::Pass>> cases = {
      {{.image = &pa, .upscale_2x = false, .max_levels = 1000}},
      {{.image = &pb, .upscale_2x = true, .max_levels = 4}},
      {{.image = &pb, .upscale_2x = true, .max_levels = 4},
       {.image = &empty, .upscale_2x = true, .max_levels = 4},
       {.image = &pa, .upscale_2x = false, .max_levels = 1000},
       {.image = &pa, .upscale_2x = true, .max_levels = 2}},
  };
  for (std::size_t n = 0; n < cases.size(); ++n) {
    fhog::Stats one_stats;
    const auto one = fhog::DetectPasses(model, cases[n], -0.5, 1, &one_stats);
    ASSERT_EQ(one.size(), cases[n].size());
    EXPECT_GT(one_stats.levels, 0);
    std::size_t found = 0;
    for (const auto& pass : one) found += pass.size();
    EXPECT_GT(found, 0U) << "case " << n;  // each case has a face (messi5's needs the upscaled pass)
    for (int round = 0; round < 3; ++round) {
      fhog::Stats two_stats;
      const auto two = fhog::DetectPasses(model, cases[n], -0.5, 2, &two_stats);
      ASSERT_EQ(two.size(), one.size());
      EXPECT_EQ(two_stats.levels, one_stats.levels);
      EXPECT_EQ(two_stats.pixels, one_stats.pixels);
      for (std::size_t p = 0; p < one.size(); ++p) {
        ASSERT_EQ(two[p].size(), one[p].size()) << "case " << n << " pass " << p;
        for (std::size_t i = 0; i < one[p].size(); ++i) {
          EXPECT_EQ(two[p][i].rect.left, one[p][i].rect.left);
          EXPECT_EQ(two[p][i].rect.top, one[p][i].rect.top);
          EXPECT_EQ(two[p][i].rect.right, one[p][i].rect.right);
          EXPECT_EQ(two[p][i].rect.bottom, one[p][i].rect.bottom);
          EXPECT_EQ(two[p][i].score, one[p][i].score);
        }
      }
    }
  }
}

// The AVX2 kernel chooses a gradient's orientation from 4 dot products
// instead of dlib's 9 (mirrored directions paired): the same bin as the
// portable code (dlib's loop) for every gradient 8-bit pixels can have.
TEST(FhogOrientation, SameChoiceAsDlibForEveryGradient) {
  std::vector<int> gx;
  std::vector<int> gy;
  for (int y = -255; y <= 255; ++y) {
    for (int x = -255; x <= 255; ++x) {
      gx.push_back(x);
      gy.push_back(y);
    }
  }
  std::vector<int> fast(gx.size(), -1);
  std::vector<int> portable(gx.size(), -1);
  const bool had_avx2 = fhog::SetAvx2Enabled(true);
  const bool avx2 = fhog::UsingAvx2();
  fhog::OrientationBins(gx.data(), gy.data(), gx.size(), fast.data());
  fhog::SetAvx2Enabled(false);
  fhog::OrientationBins(gx.data(), gy.data(), gx.size(), portable.data());
  fhog::SetAvx2Enabled(had_avx2);
  if (!avx2) GTEST_SKIP() << "no AVX2/FMA on this CPU (or TAKEBACK_NO_AVX2 set): only the portable bins computed";
  std::size_t differ = 0;
  for (std::size_t i = 0; i < gx.size(); ++i) {
    ASSERT_GE(portable[i], 0);
    ASSERT_LT(portable[i], 18);
    if (fast[i] != portable[i]) {
      if (++differ <= 10) {
        ADD_FAILURE() << "gradient (" << gx[i] << ", " << gy[i] << "): AVX2 bin " << fast[i] << ", dlib's "
                      << portable[i];
      }
    }
  }
  EXPECT_EQ(differ, 0U);
  // A few bins by hand.
  const int hx[] = {10, 0, -10, 0, 10, -10};
  const int hy[] = {0, 10, 0, 0, 10, 10};
  int hb[6];
  fhog::OrientationBins(hx, hy, 6, hb);
  EXPECT_EQ(hb[0], 0);  // along direction 0
  EXPECT_EQ(hb[1], 4);  // (0, 1): directions 4 and 5 tie, dlib keeps 4
  EXPECT_EQ(hb[2], 9);  // direction 0 reversed
  EXPECT_EQ(hb[3], 0);  // nothing beats 0
  EXPECT_EQ(hb[4], 2);  // 45 degrees: direction 2 (40 degrees)
  EXPECT_EQ(hb[5], 7);  // 135 degrees: direction 7 (140 degrees)
}

// Interleaved RGB to planes, with the AVX2 shuffles and without, on a size
// that leaves a tail of pixels for the scalar loop.
TEST(FhogPlanar, ChannelsLandInTheirPlanes) {
  const int w = 37;
  const int h = 11;
  std::vector<std::uint8_t> rgb(3 * static_cast<std::size_t>(w) * h);
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>((i * 7919 + i / 3) % 256);
  for (const bool avx2 : {true, false}) {
    const bool before = fhog::SetAvx2Enabled(avx2);
    const fhog::PlanarImage planar = fhog::ToPlanar(rgb.data(), w, h, 3);
    fhog::SetAvx2Enabled(before);
    ASSERT_EQ(planar.width, w);
    ASSERT_EQ(planar.height, h);
    for (int c = 0; c < 3; ++c) {
      for (std::size_t i = 0; i < static_cast<std::size_t>(w) * h; ++i) {
        ASSERT_EQ(planar.plane(c)[i], rgb[3 * i + static_cast<std::size_t>(c)])
            << "channel " << c << " pixel " << i << (avx2 ? " (AVX2 if the CPU has it)" : " (portable)");
      }
    }
  }
}

TEST(FhogDetect, GreyAndRgbGiveTheSameOnGreyPixels) {
  std::vector<std::uint8_t> grey(200 * 150);
  for (std::size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<std::uint8_t>((i * 31 + i / 200 * 17) % 256);
  std::vector<std::uint8_t> rgb;
  for (std::uint8_t v : grey) rgb.insert(rgb.end(), {v, v, v});
  const fhog::PlanarImage a = fhog::ToPlanar(grey.data(), 200, 150, 1);
  const fhog::PlanarImage b = fhog::ToPlanar(rgb.data(), 200, 150, 3);
  EXPECT_EQ(a.pixels, b.pixels);
  const auto da = fhog::Detect(fhog::FrontalFaceModel(), a, 1000, -1.5);
  const auto db = fhog::Detect(fhog::FrontalFaceModel(), b, 1000, -1.5);
  ASSERT_EQ(da.size(), db.size());
  for (std::size_t i = 0; i < da.size(); ++i) EXPECT_EQ(da[i].score, db[i].score);
}

}  // namespace
}  // namespace takeback::face
