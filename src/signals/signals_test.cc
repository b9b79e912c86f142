#include "signals/signals.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace takeback::signals {
namespace {

namespace fs = std::filesystem;

const fs::path kTestdata = TAKEBACK_TESTDATA_DIR;

Signal PdqSignal() {
  Signal s;
  s.type = SignalType::kPdq;
  s.pdq = *hash::PdqHash::FromHex("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22");
  s.quality = 100;
  s.label = "photo 1";
  return s;
}

TEST(SignalJsonTest, RoundTripsEveryType) {
  std::vector<Signal> all;
  all.push_back(PdqSignal());
  Signal md5;
  md5.type = SignalType::kMd5;
  md5.md5[0] = 0xab;
  md5.md5[15] = 0x01;
  all.push_back(md5);
  Signal sha;
  sha.type = SignalType::kSha256;
  sha.sha256[31] = 0xff;
  all.push_back(sha);
  Signal vpdq;
  vpdq.type = SignalType::kVpdq;
  vpdq.frames.push_back({0, 100, PdqSignal().pdq, 0.0});
  vpdq.frames.push_back({30, 87, PdqSignal().pdq, 1.0});
  all.push_back(vpdq);
  Signal face;
  face.type = SignalType::kFace;
  for (int i = 0; i < face::kDescriptorSize; ++i) face.descriptor[static_cast<std::size_t>(i)] = 0.01F * i - 0.5F;
  all.push_back(face);

  for (const Signal& s : all) {
    const std::string json = FormatSignalJson(s);
    Result<Signal> back = ParseSignalJson(json);
    ASSERT_TRUE(back.ok()) << json << " " << back.status().ToString();
    EXPECT_EQ(back->type, s.type);
    EXPECT_EQ(back->label, s.label);
    EXPECT_EQ(FormatSignalJson(*back), json);
  }
  EXPECT_EQ(FormatSignalJson(all[0]),
            R"({"type":"pdq","hash":"f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22","quality":100,)"
            R"("label":"photo 1"})");
  EXPECT_EQ(ParseSignalJson(FormatSignalJson(all[3]))->frames, all[3].frames);
}

TEST(SignalJsonTest, RejectsMalformedSignalsNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", "object"},
      {"{\"hash\":\"00\"}", "type"},
      {"{\"type\":\"sha1\",\"hash\":\"00\"}", "unknown signal type"},
      {"{\"type\":\"pdq\",\"hash\":\"abc\",\"quality\":50}", "64 hex"},
      {"{\"type\":\"pdq\",\"hash\":\"" + std::string(64, '0') + "\",\"quality\":101}", "quality"},
      {"{\"type\":\"pdq\",\"hash\":\"" + std::string(64, '0') + "\"}", "quality"},
      {"{\"type\":\"md5\",\"hash\":\"" + std::string(64, '0') + "\"}", "32 hex"},
      {"{\"type\":\"sha256\",\"hash\":\"" + std::string(63, '0') + "g\"}", "64 hex"},
      {"{\"type\":\"vpdq\",\"frames\":[]}", "no frames"},
      {"{\"type\":\"vpdq\",\"frames\":[{\"frame\":0}]}", "frames"},
      {"{\"type\":\"face\",\"descriptor\":[1,2,3]}", "128"},
      {"{\"type\":\"md5\",\"hash\":\"" + std::string(32, '0') + "\",\"label\":7}", "label"},
      {"{\"type\":", "JSON"},
  };
  for (const auto& [json, needle] : cases) {
    Result<Signal> s = ParseSignalJson(json);
    ASSERT_FALSE(s.ok()) << json;
    EXPECT_EQ(s.status().code(), ErrorCode::kCorrupt) << json;
    EXPECT_NE(s.status().message().find(needle), std::string::npos) << json << " -> " << s.status().message();
  }
}

TEST(SignalSetTest, WritesAndReadsBackWithPrivatePermissions) {
  SignalSet set;
  set.case_ref = "case-7";
  set.watch_terms = {"김지은", "01012345678"};
  set.signals.push_back(PdqSignal());
  set.created = NowRfc3339();
  set.tool = "takeback test";
  ASSERT_EQ(set.created.size(), 20U);
  const fs::path dir = fs::temp_directory_path() / ("signals_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "case.json").string();
  ASSERT_TRUE(WriteSignalSet(path, set).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  Result<SignalSet> back = ReadSignalSet(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->case_ref, "case-7");
  EXPECT_EQ(back->watch_terms, set.watch_terms);
  ASSERT_EQ(back->signals.size(), 1U);
  EXPECT_EQ(back->signals[0].pdq, set.signals[0].pdq);
  EXPECT_EQ(back->created, set.created);

  // Not a signal set, a newer version, a bad signal: named errors.
  std::ofstream(dir / "other.json") << R"({"format":"something","version":1,"signals":[]})";
  EXPECT_EQ(ReadSignalSet((dir / "other.json").string()).status().code(), ErrorCode::kCorrupt);
  std::ofstream(dir / "v2.json") << R"({"format":"takeback-signals","version":2,"signals":[]})";
  EXPECT_EQ(ReadSignalSet((dir / "v2.json").string()).status().code(), ErrorCode::kUnsupported);
  std::ofstream(dir / "bad.json") << R"({"format":"takeback-signals","version":1,"signals":[{"type":"md5"}]})";
  Result<SignalSet> bad = ReadSignalSet((dir / "bad.json").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("signal 0"), std::string::npos) << bad.status().message();
  EXPECT_EQ(ReadSignalSet((dir / "missing.json").string()).status().code(), ErrorCode::kNotFound);
  fs::remove_all(dir);
}

TEST(MakeSignalsTest, HashesImagesAndVideosAndReportsBadFiles) {
  const fs::path image = kTestdata / "pdq/images/bridge-1-original.jpg";
  const fs::path video = kTestdata / "vpdq/videos/chair-orig-22-sd-bar.mp4";
  if (!fs::exists(image) || !fs::exists(video)) GTEST_SKIP() << "no test data at " << kTestdata;
  const fs::path dir = fs::temp_directory_path() / ("signals_make_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "junk.jpg") << "this is not an image";
  MakeOptions options;
  options.faces = false;
  options.video.max_frames = 120;  // enough to check density; keeps the test fast under ASan
  const std::vector<std::string> files = {image.string(), video.string(), (dir / "junk.jpg").string(),
                                          (dir / "absent.jpg").string()};
  Result<std::vector<FileSignals>> made = MakeSignals(files, options);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  ASSERT_EQ(made->size(), 4U);
  const FileSignals& photo = (*made)[0];
  ASSERT_TRUE(photo.status.ok()) << photo.status.ToString();
  ASSERT_EQ(photo.signals.size(), 3U);
  EXPECT_EQ(photo.signals[0].type, SignalType::kPdq);
  EXPECT_GE(photo.signals[0].quality, 50);
  EXPECT_EQ(photo.signals[0].label, "photo 1");
  EXPECT_EQ(photo.signals[1].type, SignalType::kMd5);
  EXPECT_EQ(photo.signals[2].type, SignalType::kSha256);
  // The reference hash of this photo (../shared/testdata/pdq/expected.tsv).
  std::ifstream expected(kTestdata / "pdq/expected.tsv");
  std::string line;
  bool found = false;
  while (std::getline(expected, line)) {
    if (line.find("bridge-1-original.jpg") != std::string::npos) {
      EXPECT_NE(line.find(photo.signals[0].pdq.ToHex()), std::string::npos) << line;
      found = true;
    }
  }
  EXPECT_TRUE(found);
  const FileSignals& clip = (*made)[1];
  ASSERT_TRUE(clip.status.ok()) << clip.status.ToString();
  EXPECT_TRUE(clip.video);
  ASSERT_EQ(clip.signals.size(), 3U);
  EXPECT_EQ(clip.signals[0].type, SignalType::kVpdq);
  EXPECT_GT(clip.signals[0].frames.size(), 30U);  // dense: of 120 frames, only near-duplicates pruned (1 fps: 4)
  ASSERT_EQ(clip.notes.size(), 1U);               // the frame budget was reached: said, not hidden
  EXPECT_NE(clip.notes[0].find("first 120 frames"), std::string::npos) << clip.notes[0];
  EXPECT_EQ(clip.signals[0].label, "video 1");
  EXPECT_FALSE((*made)[2].status.ok());
  EXPECT_TRUE((*made)[2].signals.empty());
  EXPECT_EQ((*made)[3].status.code(), ErrorCode::kNotFound);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace takeback::signals
