// Runs the built `takeback` on videos: the shared vPDQ samples
// (../shared/testdata/vpdq), clips and broken files made in the test with the
// `ffmpeg` tool. Covers `takeback hash` on videos and `takeback compare`.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace takeback {
namespace {

namespace fs = std::filesystem;
using takeback::testing::Lines;
using takeback::testing::ReadFile;
using takeback::testing::RunResult;
using takeback::testing::ShellQuote;
using takeback::testing::WriteFile;

const fs::path kVpdqDir = fs::path(TAKEBACK_TESTDATA_DIR) / "vpdq";
const fs::path kVideos = kVpdqDir / "videos";
constexpr int kTimeoutSeconds = 60;  // a hang fails the test instead of the whole run

bool HaveFfmpeg() { return std::system("ffmpeg -version >/dev/null 2>&1") == 0; }  // NOLINT(cert-env33-c)

std::string Video(const std::string& name) { return (kVideos / (name + ".mp4")).string(); }

// One temporary directory for the whole suite: the clips and broken files
// are made once.
class VideoCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string templ = (fs::temp_directory_path() / "takeback_video_XXXXXX").string();
    if (::mkdtemp(templ.data()) != nullptr) suite_dir = templ;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!suite_dir.empty()) fs::remove_all(suite_dir, ec);
  }

  void SetUp() override {
    ASSERT_FALSE(suite_dir.empty());
    if (!fs::exists(kVideos / "chair-20-sd-bar.mp4")) {
      GTEST_SKIP() << "vPDQ test data not found under " << kVpdqDir.string() << " (set TAKEBACK_TESTDATA_DIR)";
    }
    if (!HaveFfmpeg()) GTEST_SKIP() << "the ffmpeg tool is not installed (Debian package ffmpeg)";
  }

  static std::string Tmp(const std::string& name) { return (suite_dir / name).string(); }

  // Runs ffmpeg quietly; a failure fails the test.
  static void Ffmpeg(const std::string& args) {
    const std::string cmd = "ffmpeg -nostdin -y -hide_banner -loglevel error " + args + " 2>" +
                            ShellQuote((suite_dir / ".ffmpeg.log").string());
    const int status = std::system(cmd.c_str());  // NOLINT(cert-env33-c)
    ASSERT_EQ(status, 0) << cmd << "\n" << ReadFile(suite_dir / ".ffmpeg.log");
  }

  // Makes `name` once per suite with `args` (ffmpeg arguments ending with the output).
  static std::string Make(const std::string& name, const std::string& args) {
    std::string path = Tmp(name);
    if (!fs::exists(path)) Ffmpeg(args + " " + ShellQuote(path));
    return path;
  }

  // The registered side: every frame of a sample. The reference's file is
  // used as the saved hash, since `takeback hash` reproduces it byte for byte
  // (VpdqDirWritesTheReferenceFileByteForByte, tests/golden/vpdq_golden_test);
  // it keeps this suite from decoding the same videos again and again.
  static std::string BankHash(const std::string& name) { return (kVpdqDir / "expected" / (name + ".txt")).string(); }

  static RunResult Run(const std::vector<std::string>& args) {
    std::string cmd = "timeout " + std::to_string(kTimeoutSeconds) + " " + ShellQuote(TAKEBACK_BIN);
    for (const std::string& arg : args) cmd += " " + ShellQuote(arg);
    cmd += " </dev/null >" + ShellQuote((suite_dir / ".stdout").string()) + " 2>" +
           ShellQuote((suite_dir / ".stderr").string());
    const int status = std::system(cmd.c_str());  // NOLINT(cert-env33-c)
    RunResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = ReadFile(suite_dir / ".stdout");
    result.err = ReadFile(suite_dir / ".stderr");
    EXPECT_NE(result.exit_code, 124) << "takeback timed out: " << cmd;
    EXPECT_NE(result.exit_code, -1) << "takeback was killed by a signal: " << cmd;
    return result;
  }

  // `takeback compare` in JSON; returns the parsed object (null on error).
  static nlohmann::json Compare(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"compare", "--json"};
    full.insert(full.end(), args.begin(), args.end());
    const RunResult r = Run(full);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    if (!j.is_discarded()) {
      EXPECT_EQ(r.exit_code, j.value("match", false) ? 0 : 1);
    }
    return j;
  }

  // A clip of chair-20-sd-bar re-encoded with x264, cut at a fractional offset.
  static std::string Clip(const std::string& start, const std::string& extra = "") {
    return Make("clip-" + start + extra.substr(0, extra.find(' ')) + ".mp4",
                "-ss " + start + " -i " + ShellQuote(Video("chair-20-sd-bar")) + " -t 8 " + extra +
                    " -an -c:v libx264 -preset ultrafast -crf 23");
  }

  static fs::path suite_dir;
};

fs::path VideoCliTest::suite_dir;

void ExpectMatch(const nlohmann::json& j, bool match, const std::string& what) {
  EXPECT_EQ(j.value("match", !match), match) << what << ": " << j.dump();
  std::printf("compare %-62s query %6.2f%%  target %6.2f%%  %s\n", what.c_str(), j.value("query_percent", -1.0),
              j.value("target_percent", -1.0), j.value("match", false) ? "match" : "no match");
}

// ---------------------------------------------------------------- hash

TEST_F(VideoCliTest, HashPrintsReferenceLinesAndDigests) {
  const RunResult r = Run({"hash", Video("pattern-sd-grey-bar")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 207U);
  EXPECT_EQ(lines[0].rfind("vpdq,206,", 0), 0U) << lines[0];
  const std::vector<std::string> expected = Lines(ReadFile(kVpdqDir / "expected" / "pattern-sd-grey-bar.txt"));
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(lines[i + 1], expected[i]) << "frame " << i;

  // JSON: digests equal the coreutils tools' and the frames the reference's.
  const RunResult j = Run({"hash", "--json", Video("pattern-sd-grey-bar")});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const nlohmann::json v = nlohmann::json::parse(j.out);
  EXPECT_EQ(v["type"], "video");
  EXPECT_EQ(v["format"], "mp4");
  EXPECT_EQ(v["width"], 480);
  EXPECT_EQ(v["height"], 720);
  EXPECT_EQ(v["truncated"], false);
  ASSERT_EQ(v["vpdq"].size(), 206U);
  EXPECT_EQ(v["vpdq"][1]["pdq"], expected[1].substr(6, 64));
  FILE* pipe = ::popen(("md5sum " + ShellQuote(Video("pattern-sd-grey-bar"))).c_str(), "r");  // NOLINT
  ASSERT_NE(pipe, nullptr);
  char buf[128] = {};
  ASSERT_NE(std::fgets(buf, sizeof(buf), pipe), nullptr);
  ::pclose(pipe);
  EXPECT_EQ(v["md5"], std::string(buf).substr(0, 32));
}

TEST_F(VideoCliTest, VpdqDirWritesTheReferenceFileByteForByte) {
  fs::create_directories(suite_dir / "bank");
  const RunResult r = Run({"hash", "-q", "--vpdq-dir", Tmp("bank"), Video("chair-20-sd-bar")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 1U);  // the header line only
  EXPECT_EQ(ReadFile(suite_dir / "bank" / "chair-20-sd-bar.txt"), ReadFile(BankHash("chair-20-sd-bar")));
}

TEST_F(VideoCliTest, ContainersAreRecognisedByContentNotName) {
  const std::string src = ShellQuote(Video("chair-20-sd-bar"));
  const std::vector<std::pair<std::string, std::string>> files = {
      {"mkv.jpg", "-t 1 -i " + src + " -an -c:v mpeg4 -f matroska"},
      {"webm.png", "-t 0.5 -i " + src + " -an -vf scale=120:-2 -c:v libvpx -deadline realtime -f webm"},
      {"avi.txt", "-t 1 -i " + src + " -an -c:v mjpeg -f avi"},
      {"mov.bin", "-t 1 -i " + src + " -an -c:v mpeg4 -f mov"},
      {"anim.jpg", "-t 1 -i " + src + " -vf fps=5,scale=120:-2 -f gif"},
  };
  for (const auto& [name, args] : files) {
    const std::string path = Make(name, args);
    const RunResult r = Run({"hash", path});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.out.rfind("vpdq,", 0), 0U) << name << ": " << r.out.substr(0, 200);
    EXPECT_GT(Lines(r.out).size(), 2U) << name;
  }
  // A one-frame GIF is an image: the usual PDQ,QUALITY,PATH line.
  const std::string still_gif = Make("still.gif", "-ss 2 -i " + src + " -frames:v 1 -vf scale=120:-2");
  const RunResult r = Run({"hash", still_gif});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("vpdq,"), std::string::npos);
  EXPECT_EQ(r.out.find(','), 64U) << r.out;
}

TEST_F(VideoCliTest, SparseSamplingAndPruning) {
  const RunResult fps = Run({"hash", "--fps", "1", Video("chair-20-sd-bar")});
  ASSERT_EQ(fps.exit_code, 0) << fps.err;
  const std::vector<std::string> lines = Lines(fps.out);
  ASSERT_EQ(lines.size(), 22U);  // header + one frame per second of 20.5 s
  EXPECT_EQ(lines[2].rfind("30,", 0), 0U) << lines[2];
  // Seeking gives the same frames (constant frame rate, exact timestamps).
  const RunResult seek = Run({"hash", "--fps", "1", "--seek", Video("chair-20-sd-bar")});
  ASSERT_EQ(seek.exit_code, 0) << seek.err;
  EXPECT_EQ(seek.out, fps.out);
  const RunResult key = Run({"hash", "--keyframes", Video("chair-20-sd-bar")});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  EXPECT_EQ(Lines(key.out).size(), 12U);  // a key frame every 2 s
  const RunResult pruned = Run({"hash", "--prune", "8", Video("pattern-sd-grey-bar")});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_LT(Lines(pruned.out).size(), 207U);
  EXPECT_GT(Lines(pruned.out).size(), 7U);
  EXPECT_EQ(Run({"hash", "--seek", Video("chair-20-sd-bar")}).exit_code, 2);
  EXPECT_EQ(Run({"hash", "--fps", "0", Video("chair-20-sd-bar")}).exit_code, 2);
  EXPECT_EQ(Run({"hash", "--fps", "1", "--every-frame", Video("chair-20-sd-bar")}).exit_code, 2);
}

// ---------------------------------------------------------------- compare

TEST_F(VideoCliTest, ChairVariantsMatchOtherContentDoesNot) {
  // End to end, two videos hashed here (the most different pair).
  ExpectMatch(Compare({Video("chair-22-with-small-logo-bar"), Video("chair-20-sd-bar")}), true,
              "chair-22-with-small-logo-bar.mp4 vs chair-20-sd-bar.mp4");
  const std::string base = BankHash("chair-20-sd-bar");
  for (const char* other : {"chair-22-sd-grey-bar", "chair-22-with-small-logo-bar", "chair-orig-22-sd-bar"}) {
    ExpectMatch(Compare({base, BankHash(other)}), true, std::string("chair-20 vs ") + other);
    ExpectMatch(Compare({BankHash(other), base}), true, std::string(other) + " vs chair-20");
  }
  for (const char* other : {"pattern-sd-grey-bar", "doorknob-hd-no-bar"}) {
    ExpectMatch(Compare({base, BankHash(other)}), false, std::string("chair-20 vs ") + other);
    ExpectMatch(Compare({BankHash("chair-orig-22-sd-bar"), BankHash(other)}), false,
                std::string("chair-orig-22 vs ") + other);
  }
}

TEST_F(VideoCliTest, ClipsCutAtFractionalOffsetsMatchTheFullVideo) {
  const std::string full = BankHash("chair-20-sd-bar");
  for (const std::string start : {"3.7", "11.35"}) {
    const std::string clip = Clip(start);
    // Every frame on both sides, in both directions.
    ExpectMatch(Compare({clip, full}), true, "clip@" + start + " vs full");
    ExpectMatch(Compare({full, clip}), true, "full vs clip@" + start);
    // Sparse query sampling against the dense registered hash.
    ExpectMatch(Compare({"--fps", "1", clip, full}), true, "clip@" + start + " --fps 1 vs full");
    ExpectMatch(Compare({"--fps", "0.5", "--seek", clip, full}), true, "clip@" + start + " --fps 0.5 --seek vs full");
    ExpectMatch(Compare({"--keyframes", clip, full}), true, "clip@" + start + " --keyframes vs full");
    // Other content does not match the clip.
    ExpectMatch(Compare({clip, BankHash("pattern-sd-grey-bar")}), false, "clip@" + start + " vs pattern");
  }
  // Re-scaled and re-encoded harder.
  const std::string small = Clip("5.3", "-vf scale=240:-2 -crf 32");
  ExpectMatch(Compare({small, full}), true, "clip@5.3 240px crf 32 vs full");
}

TEST_F(VideoCliTest, UploadContainingARegisteredVideoMatches) {
  // Other footage (pattern) around a registered clip: the query share is
  // low, the target (registered) share is what matches.
  const std::string clip = Clip("3.7");
  const std::string pattern = Video("pattern-sd-grey-bar");
  const std::string compilation =
      Make("compilation.mp4", "-i " + ShellQuote(pattern) + " -i " + ShellQuote(clip) + " -i " + ShellQuote(pattern) +
                                  " -filter_complex '[0:v]setsar=1[a];[1:v]setsar=1[b];[2:v]setsar=1[c];"
                                  "[a][b][c]concat=n=3:v=1:a=0' -an -c:v libx264 -preset ultrafast -crf 23");
  const nlohmann::json j = Compare({compilation, clip});
  ExpectMatch(j, true, "pattern+clip@3.7+pattern vs clip@3.7");
  EXPECT_LT(j.value("query_percent", 100.0), 80.0);
  EXPECT_GE(j.value("target_percent", 0.0), 80.0);
}

TEST_F(VideoCliTest, StillFramesMatchVideosBothWays) {
  const std::string full = BankHash("chair-20-sd-bar");
  const std::string still =
      Make("still.png", "-ss 5.5 -i " + ShellQuote(Video("chair-20-sd-bar")) + " -frames:v 1 -update 1");
  const std::string jpeg =
      Make("still.jpg", "-ss 13.2 -i " + ShellQuote(Video("chair-orig-22-sd-bar")) + " -frames:v 1 -update 1 -q:v 5");
  ExpectMatch(Compare({still, full}), true, "still@5.5 png vs full");
  ExpectMatch(Compare({jpeg, full}), true, "still@13.2 of chair-orig jpeg vs chair-20 full");
  // A video (upload) against a registered photo.
  ExpectMatch(Compare({Clip("3.7"), still}), true, "clip@3.7 vs registered still@5.5");
  ExpectMatch(Compare({still, BankHash("pattern-sd-grey-bar")}), false, "still vs pattern");
  // A saved image hash line works as an input too.
  const RunResult line = Run({"hash", still});
  ASSERT_EQ(line.exit_code, 0) << line.err;
  WriteFile(suite_dir / "still.pdq", line.out);
  ExpectMatch(Compare({Tmp("still.pdq"), full}), true, "still hash line vs full");
}

TEST_F(VideoCliTest, CompareTextOutputAndThresholds) {
  const std::string full = BankHash("chair-20-sd-bar");
  const RunResult r = Run({"compare", full, BankHash("chair-orig-22-sd-bar")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 5U) << r.out;
  EXPECT_EQ(lines[2].rfind("query frames found in target: ", 0), 0U);
  EXPECT_EQ(lines[3].rfind("target frames found in query: ", 0), 0U);
  EXPECT_EQ(lines[4], "verdict: match");
  // Thresholds over 100% can never be met.
  const RunResult strict = Run({"compare", "--query-threshold", "100", "--target-threshold", "100", "--distance", "0",
                                full, BankHash("chair-orig-22-sd-bar")});
  EXPECT_EQ(strict.exit_code, 1) << strict.out;
  EXPECT_NE(strict.out.find("verdict: no match"), std::string::npos);
  EXPECT_EQ(Run({"compare", full}).exit_code, 2);
  EXPECT_EQ(Run({"compare", "--distance", "x", full, full}).exit_code, 2);
}

// ---------------------------------------------------------------- bad input

TEST_F(VideoCliTest, BrokenVideosGetAClearErrorNeverACrash) {
  const std::string src = ReadFile(Video("chair-20-sd-bar"));
  // Zero-length, truncated (moov or not), corrupt header, garbage after ftyp.
  WriteFile(suite_dir / "empty.mp4", "");
  WriteFile(suite_dir / "truncated.mp4", src.substr(0, src.size() / 3));
  std::string corrupt = src;
  for (std::size_t i = 40; i < 4000 && i < corrupt.size(); ++i) corrupt[i] = static_cast<char>(i * 131);
  WriteFile(suite_dir / "corrupt-header.mp4", corrupt);
  WriteFile(suite_dir / "ftyp-only.mp4", src.substr(0, 32));
  const std::string mkv = Make("whole.mkv", "-t 3 -i " + ShellQuote(Video("chair-20-sd-bar")) + " -an -c:v mpeg4");
  const std::string mkv_bytes = ReadFile(mkv);
  WriteFile(suite_dir / "truncated.mkv", mkv_bytes.substr(0, mkv_bytes.size() / 2));
  std::string mkv_garbage = mkv_bytes;
  for (std::size_t i = mkv_garbage.size() / 3; i < mkv_garbage.size(); i += 7) mkv_garbage[i] ^= 0x5A;
  WriteFile(suite_dir / "damaged.mkv", mkv_garbage);
  const std::string audio = Make("audio-only.m4a", "-f lavfi -i sine=frequency=440:duration=1 -c:a aac");

  struct Case {
    std::string file;
    int exit_code;
    std::string message;  // in stderr
  };
  const std::vector<Case> cases = {
      {"empty.mp4", 1, "empty file"},
      {"corrupt-header.mp4", 1, "takeback: "},
      {"ftyp-only.mp4", 1, "takeback: "},
      {"audio-only.m4a", 1, "no video stream"},
  };
  for (const Case& c : cases) {
    const RunResult r = Run({"hash", Tmp(c.file)});
    EXPECT_EQ(r.exit_code, c.exit_code) << c.file << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.file << ": " << r.err;
    std::printf("bad input %-20s exit %d  %s", c.file.c_str(), r.exit_code, r.err.c_str());
  }
  // A truncated or damaged stream gives the frames that decode (a bounded
  // result), or a clear error; never a crash or a hang.
  for (const char* file : {"truncated.mp4", "truncated.mkv", "damaged.mkv"}) {
    const RunResult r = Run({"hash", Tmp(file)});
    EXPECT_TRUE(r.exit_code == 0 || (r.exit_code == 1 && r.err.find("takeback: ") == 0)) << file << r.err;
    std::printf("bad input %-20s exit %d  %zu lines  %s\n", file, r.exit_code, Lines(r.out).size(),
                r.err.substr(0, r.err.find('\n')).c_str());
  }
  const RunResult json = Run({"hash", "--json", Tmp("audio-only.m4a")});
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_NE(json.out.find("\"code\":\"unsupported\""), std::string::npos) << json.out;
}

TEST_F(VideoCliTest, AbsurdDimensionsAreRefusedBeforeDecoding) {
  // An MJPEG AVI whose every frame claims 65000 x 65000 pixels (the JPEG
  // start-of-frame markers are patched; the decoder takes the size from them).
  std::string avi = ReadFile(
      Make("small.avi", "-t 0.2 -i " + ShellQuote(Video("chair-20-sd-bar")) + " -an -vf scale=64:64 -c:v mjpeg"));
  int patched = 0;
  for (std::size_t at = avi.find("\xFF\xC0"); at != std::string::npos; at = avi.find("\xFF\xC0", at + 2)) {
    if (at + 9 > avi.size()) break;
    for (std::size_t k = 5; k < 9; ++k) avi[at + k] = static_cast<char>(k % 2 == 1 ? 0xFD : 0xE8);  // 65000
    ++patched;
  }
  ASSERT_GT(patched, 0);
  WriteFile(suite_dir / "huge.avi", avi);
  const RunResult r = Run({"hash", Tmp("huge.avi")});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(r.err.find("too_large") != std::string::npos || r.err.find("corrupt") != std::string::npos) << r.err;
  std::printf("bad input huge.avi           exit %d  %s", r.exit_code, r.err.c_str());
  // The pixel limit is configurable.
  const RunResult limited = Run({"hash", "--max-pixels", "1000", Tmp("small.avi")});
  EXPECT_EQ(limited.exit_code, 1);
  EXPECT_NE(limited.err.find("too_large"), std::string::npos) << limited.err;
}

TEST_F(VideoCliTest, LongVideosStopAtTheFrameAndTimeBudgets) {
  // 10 minutes of 64x64 video (18000 frames).
  const std::string long_video =
      Make("long.mkv", "-f lavfi -i testsrc2=size=64x64:rate=30:duration=600 -c:v mpeg4 -q:v 31");
  const RunResult frames = Run({"hash", "--max-frames", "500", long_video});
  EXPECT_EQ(frames.exit_code, 0) << frames.err;
  EXPECT_EQ(Lines(frames.out).size(), 501U);
  EXPECT_NE(frames.err.find("warning: stopped at the frame budget (500 frames)"), std::string::npos) << frames.err;
  const RunResult json = Run({"hash", "--json", "--max-frames", "100", long_video});
  EXPECT_NE(json.out.find("\"truncated\":true"), std::string::npos);
  const RunResult time = Run({"hash", "--max-seconds", "0.2", "--every-frame", long_video});
  EXPECT_EQ(time.exit_code, 0) << time.err;
  EXPECT_NE(time.err.find("warning: stopped at the time budget"), std::string::npos) << time.err;
  EXPECT_LT(Lines(time.out).size(), 18001U);
}

}  // namespace
}  // namespace takeback
