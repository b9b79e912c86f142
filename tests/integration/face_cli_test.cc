// Faces (issue 5): the real `takeback faces` on CMYK and grey images (the
// shared ../shared/testdata/pdq/images/modes files, and CMYK and grey copies
// of a face photo made with ImageMagick's `convert` when it is installed),
// --chips, a mix of good and bad inputs, and missing models. Needs the model
// files (scripts/fetch-models); skips with a message when they or the test
// data are absent.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace {

namespace fs = std::filesystem;
using takeback::testing::ReadFile;
using takeback::testing::RunResult;
using takeback::testing::ShellQuote;

const fs::path kTestdata = fs::path(TAKEBACK_TESTDATA_DIR);
const fs::path kFaceDir = kTestdata / "face";
const fs::path kModesDir = kTestdata / "pdq" / "images" / "modes";
const fs::path kModelDir = fs::path(TAKEBACK_MODEL_DIR);
const fs::path kLandmarks = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
constexpr int kTimeoutSeconds = 120;

// The JSON object of each output line.
std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> values;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    values.push_back(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return values;
}

double Distance(const nlohmann::json& a, const nlohmann::json& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = a[i].get<double>() - b[i].get<double>();
    sum += d * d;
  }
  return std::sqrt(sum);
}

class FaceCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::is_directory(kFaceDir) || !fs::is_directory(kModesDir)) {
      GTEST_SKIP() << "test data not found under " << kTestdata;
    }
    if (!fs::exists(kModelDir / "face_recognition_model-weights_manifest.json") || !fs::exists(kLandmarks)) {
      GTEST_SKIP() << "face models unavailable (run scripts/fetch-models; Debian libdlib-data)";
    }
    std::string templ = (fs::temp_directory_path() / "takeback_face_cli_XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    tmp_ = templ;
  }

  void TearDown() override {
    std::error_code ec;
    if (!tmp_.empty()) fs::remove_all(tmp_, ec);
  }

  // Runs `takeback faces` with the repository's models and `args`.
  RunResult Faces(const std::vector<std::string>& args, bool with_models = true) {
    std::string cmd = "timeout " + std::to_string(kTimeoutSeconds) + " " + ShellQuote(TAKEBACK_BIN) + " faces";
    if (with_models) cmd += " --model-dir " + ShellQuote(kModelDir.string());
    for (const std::string& arg : args) cmd += " " + ShellQuote(arg);
    cmd += " </dev/null >" + ShellQuote((tmp_ / ".stdout").string()) + " 2>" + ShellQuote((tmp_ / ".stderr").string());
    const int status = std::system(cmd.c_str());  // NOLINT(cert-env33-c): the binary as a user runs it
    RunResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = ReadFile(tmp_ / ".stdout");
    result.err = ReadFile(tmp_ / ".stderr");
    EXPECT_NE(result.exit_code, 124) << "takeback timed out: " << cmd;
    return result;
  }

  // CMYK and grey copies of a face photo, made with ImageMagick; empty when
  // `convert` is not installed.
  std::vector<std::string> ConvertedCopies(const fs::path& source) {
    if (std::system("command -v convert >/dev/null 2>&1") != 0) return {};  // NOLINT(cert-env33-c)
    std::vector<std::string> out;
    for (const auto& [name, args] : std::vector<std::pair<std::string, std::string>>{
             {"cmyk.jpg", "-colorspace CMYK"}, {"grey.jpg", "-colorspace Gray"}, {"grey.png", "-colorspace Gray"}}) {
      const fs::path dest = tmp_ / name;
      const std::string cmd = "convert " + ShellQuote(source.string()) + " " + args + " " + ShellQuote(dest.string());
      EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;  // NOLINT(cert-env33-c)
      out.push_back(dest.string());
    }
    return out;
  }

  fs::path tmp_;
};

TEST_F(FaceCliTest, CmykAndGreyImagesOfTheTestData) {
  // The modes images hold no face: each is decoded (CMYK, grey, grey with
  // alpha, 1-bit) and reported with an empty face list, not an error.
  const std::vector<std::string> files = {(kModesDir / "CMYK.jpg").string(), (kModesDir / "L.png").string(),
                                          (kModesDir / "LA.png").string(), (kModesDir / "1.png").string()};
  const RunResult r = Faces({"--no-rotate", files[0], files[1], files[2], files[3]});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), files.size()) << r.out;
  for (std::size_t i = 0; i < files.size(); ++i) {
    ASSERT_TRUE(lines[i].is_object()) << r.out;
    EXPECT_EQ(lines[i].value("path", ""), files[i]);
    EXPECT_FALSE(lines[i].contains("error")) << lines[i].dump();
    EXPECT_EQ(lines[i].value("width", 0), 1600) << files[i];
    EXPECT_EQ(lines[i].value("height", 0), 1004) << files[i];
    EXPECT_TRUE(lines[i]["faces"].is_array() && lines[i]["faces"].empty()) << lines[i].dump();
    EXPECT_EQ(lines[i].value("truncated", true), false);
  }
}

TEST_F(FaceCliTest, CmykAndGreyCopiesOfAFaceMatchTheColourOriginal) {
  const fs::path source = kFaceDir / "swap-donor-B.jpg";
  const std::vector<std::string> copies = ConvertedCopies(source);
  if (copies.empty()) GTEST_SKIP() << "ImageMagick's convert is not installed";
  std::vector<std::string> args = {"--chips", tmp_.string(), source.string()};
  args.insert(args.end(), copies.begin(), copies.end());
  const RunResult r = Faces(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 1 + copies.size()) << r.out;
  for (const nlohmann::json& line : lines) ASSERT_TRUE(line.is_object() && line["faces"].size() == 1) << line.dump();
  const nlohmann::json& original = lines[0]["faces"][0];
  ASSERT_EQ(original["descriptor"].size(), 128U);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const nlohmann::json& face = lines[i]["faces"][0];
    SCOPED_TRACE(lines[i].value("path", ""));
    EXPECT_EQ(face["box"], original["box"]);
    EXPECT_EQ(face["rotation"], 0);
    // The same face: far closer than the 0.5 match threshold (measured
    // 0.04 for CMYK, 0.13 for grey, which loses the colour).
    EXPECT_LT(Distance(face["descriptor"], original["descriptor"]), 0.25);
  }
  // --chips: each face's aligned chip, a 150x150 binary PPM.
  for (const nlohmann::json& line : lines) {
    const std::string chip = line["faces"][0].value("chip", "");
    ASSERT_FALSE(chip.empty()) << line.dump();
    const std::string ppm = ReadFile(chip);
    const std::string header = "P6\n150 150\n255\n";
    ASSERT_EQ(ppm.size(), header.size() + 150 * 150 * 3) << chip;
    EXPECT_EQ(ppm.substr(0, header.size()), header) << chip;
  }
}

TEST_F(FaceCliTest, BadInputsAmongGoodOnesAndMissingModels) {
  const std::string bad = (tmp_ / "not-an-image.jpg").string();
  std::ofstream(bad) << "this is not a JPEG";
  const std::string good = (kFaceDir / "swap-result-B-on-A.jpg").string();
  RunResult r = Faces({bad, good, (tmp_ / "missing.jpg").string()});
  EXPECT_EQ(r.exit_code, 1);
  std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 3U) << r.out;
  EXPECT_TRUE(lines[0].contains("error")) << lines[0].dump();
  EXPECT_EQ(lines[1].value("path", ""), good);
  EXPECT_EQ(lines[1]["faces"].size(), 1U) << lines[1].dump();
  EXPECT_EQ(lines[2]["error"].value("code", ""), "not_found") << lines[2].dump();
  EXPECT_NE(r.err.find("missing.jpg"), std::string::npos) << r.err;

  r = Faces({"--model-dir", (tmp_ / "no-models").string(), good}, /*with_models=*/false);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("fetch-models"), std::string::npos) << r.err;
}

// --detector: dlib's code and Takeback's find the same face with the same
// box and score (to 1e-3); an unknown name is a usage error.
TEST_F(FaceCliTest, DetectorChoiceFindsTheSameFace) {
  const std::string photo = (kFaceDir / "messi5.jpg").string();
  RunResult ours = Faces({"--detector", "takeback", photo});
  RunResult dlib = Faces({"--detector", "dlib", photo});
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  ASSERT_EQ(dlib.exit_code, 0) << dlib.err;
  const std::vector<nlohmann::json> a = JsonLines(ours.out);
  const std::vector<nlohmann::json> b = JsonLines(dlib.out);
  ASSERT_EQ(a.size(), 1U);
  ASSERT_EQ(b.size(), 1U);
  ASSERT_EQ(a[0]["faces"].size(), 1U) << ours.out;
  ASSERT_EQ(b[0]["faces"].size(), 1U) << dlib.out;
  EXPECT_EQ(a[0]["faces"][0]["box"], b[0]["faces"][0]["box"]);
  EXPECT_NEAR(a[0]["faces"][0]["score"].get<double>(), b[0]["faces"][0]["score"].get<double>(), 1e-3);

  RunResult bad = Faces({"--detector", "cnn", photo});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--detector must be takeback or dlib"), std::string::npos) << bad.err;
}

// --match: the face-swap deepfake against the donor's and the target's
// photos registered separately; every face match carries review_required
// and its distance; a --match photo without a face is a usage error.
TEST_F(FaceCliTest, MatchReportsDistanceAndAlwaysRequiresReview) {
  const std::string donor = (kFaceDir / "swap-donor-B.jpg").string();
  const std::string target = (kFaceDir / "swap-target-A.jpg").string();
  const std::string swap = (kFaceDir / "swap-result-B-on-A.jpg").string();
  const std::string other = (kFaceDir / "messi5.jpg").string();
  RunResult r = Faces({"--match", donor, swap, other});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 2U) << r.out;
  ASSERT_EQ(lines[0]["faces"].size(), 1U) << lines[0].dump();
  const nlohmann::json swap_to_donor = lines[0]["faces"][0]["match"];
  EXPECT_EQ(swap_to_donor.value("closest", ""), donor);
  EXPECT_EQ(swap_to_donor.value("matched", false), true) << swap_to_donor.dump();
  EXPECT_EQ(swap_to_donor.value("review_required", false), true);
  EXPECT_DOUBLE_EQ(swap_to_donor.value("threshold", 0.0), 0.5);
  const double d_donor = swap_to_donor.value("distance", 9.0);
  EXPECT_GT(d_donor, 0.3);
  EXPECT_LT(d_donor, 0.5);
  ASSERT_EQ(lines[1]["faces"].size(), 1U) << lines[1].dump();
  EXPECT_EQ(lines[1]["faces"][0]["match"].value("matched", true), false) << lines[1].dump();
  EXPECT_EQ(lines[1]["faces"][0]["match"].value("review_required", false), true);

  // The target A's photo: A's head, B's face; no match at the default.
  r = Faces({"--match", target, swap});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 1U) << r.out;
  const nlohmann::json swap_to_target = lines[0]["faces"][0]["match"];
  EXPECT_EQ(swap_to_target.value("matched", true), false) << swap_to_target.dump();
  EXPECT_GT(swap_to_target.value("distance", 0.0), d_donor + 0.1);
  // Both registered: the minimum, the donor, wins; a looser threshold is echoed.
  r = Faces({"--match", target, "--match", donor, "--threshold", "0.7", swap});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 1U) << r.out;
  const nlohmann::json both = lines[0]["faces"][0]["match"];
  EXPECT_EQ(both.value("closest", ""), donor);
  EXPECT_DOUBLE_EQ(both.value("distance", 0.0), d_donor);
  EXPECT_NEAR(both.value("threshold", 0.0), 0.7, 1e-6);

  r = Faces({"--match", (kFaceDir / "dogs.jpg").string(), swap});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("no face"), std::string::npos) << r.err;
  r = Faces({"--threshold", "0.4", swap});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--threshold needs --match"), std::string::npos) << r.err;
  r = Faces({"--match", donor, "--threshold", "-1", swap});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
