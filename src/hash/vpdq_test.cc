#include "hash/vpdq.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace takeback::hash {
namespace {

PdqHash HashWithBits(int first, int count) {
  PdqHash h;
  for (int k = first; k < first + count; ++k) h.SetBit(k % 256);
  return h;
}

VpdqFrame Frame(std::int64_t n, const PdqHash& h, int quality = 100) {
  return {n, quality, h, static_cast<double>(n) / 30.0};
}

TEST(VpdqText, FormatsLikeTheReference) {
  const PdqHash h = *PdqHash::FromHex("e42926b9cb58d261383b699f0ff2e1076fe6183dff4986d82ca36da48034fc54");
  EXPECT_EQ(FormatVpdqLine({1, 100, h, 1.0 / 30.0}),
            "1,100,e42926b9cb58d261383b699f0ff2e1076fe6183dff4986d82ca36da48034fc54,0.033");
  EXPECT_EQ(FormatVpdqLine({612, 87, h, 20.4}).substr(0, 7), "612,87,");
}

TEST(VpdqText, RoundTripsAndRejectsGarbage) {
  const std::vector<VpdqFrame> frames = {Frame(0, HashWithBits(0, 10)), Frame(1, HashWithBits(5, 40), 42)};
  Result<std::vector<VpdqFrame>> parsed = ParseVpdqText("# comment\n" + FormatVpdqText(frames) + "\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2U);
  EXPECT_EQ((*parsed)[1].hash, frames[1].hash);
  EXPECT_EQ((*parsed)[1].quality, 42);
  EXPECT_NEAR((*parsed)[1].timestamp, 0.033, 1e-9);
  for (const char* bad :
       {"1,100,abc,0.0", "1,100", "x,100,e42926b9cb58d261383b699f0ff2e1076fe6183dff4986d82ca36da48034fc54,0",
        "1,101,e42926b9cb58d261383b699f0ff2e1076fe6183dff4986d82ca36da48034fc54,0",
        "1,100,e42926b9cb58d261383b699f0ff2e1076fe6183dff4986d82ca36da48034fc54,0,extra",
        "1,100,e42926b9cb58d261383b699f0ff2e1076fe6183dff4986d82ca36da48034fc54,nan"}) {
    Result<std::vector<VpdqFrame>> r = ParseVpdqText(std::string("0,100,") + std::string(64, 'a') + ",0.000\n" + bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
    EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();
  }
}

TEST(VpdqJson, RoundTrips) {
  const std::vector<VpdqFrame> frames = {Frame(0, HashWithBits(0, 10)), Frame(7, HashWithBits(100, 3), 49)};
  const std::string json = FormatVpdqJson(frames);
  Result<std::vector<VpdqFrame>> parsed = ParseVpdqJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2U);
  EXPECT_EQ((*parsed)[1].frame_number, 7);
  EXPECT_EQ((*parsed)[1].hash, frames[1].hash);
  Result<std::vector<VpdqFrame>> wrapped = ParseVpdqJson(R"({"path":"a.mp4","vpdq":)" + json + "}");
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(wrapped->size(), 2U);
  EXPECT_FALSE(ParseVpdqJson("{").ok());
  EXPECT_FALSE(ParseVpdqJson("{\"vpdq\":[{\"frame\":1}]}").ok());
  EXPECT_FALSE(ParseVpdqJson("{\"x\":1}").ok());
}

TEST(VpdqMatch, SharesQualityUniqueAndVerdict) {
  const PdqHash a = HashWithBits(0, 100);
  const PdqHash b = HashWithBits(128, 100);  // far from a
  const PdqHash a31 = HashWithBits(0, 131);  // 31 bits from a
  const PdqHash a32 = HashWithBits(0, 132);  // 32 bits from a
  // Query: a (twice: counted once), b. Target: a31 only.
  const std::vector<VpdqFrame> query = {Frame(0, a), Frame(1, a), Frame(2, b)};
  const std::vector<VpdqFrame> target = {Frame(0, a31)};
  VpdqMatchResult r = MatchVpdq(query, target, {});
  EXPECT_EQ(r.query_frames, 2U);
  EXPECT_DOUBLE_EQ(r.query_percent, 50.0);
  EXPECT_DOUBLE_EQ(r.target_percent, 100.0);
  EXPECT_TRUE(r.match);  // either share >= 80
  VpdqMatchOptions strict;
  strict.target_threshold = 101;
  EXPECT_FALSE(MatchVpdq(query, target, strict).match);
  // 32 bits is over the default distance.
  r = MatchVpdq(query, std::vector<VpdqFrame>{Frame(0, a32)}, {});
  EXPECT_DOUBLE_EQ(r.target_percent, 0.0);
  EXPECT_FALSE(r.match);
  // Low-quality frames are ignored; nothing left is 0% and no match.
  r = MatchVpdq(query, std::vector<VpdqFrame>{Frame(0, a, 49)}, {});
  EXPECT_EQ(r.target_frames, 0U);
  EXPECT_FALSE(r.match);
}

TEST(VpdqPruner, DropsNearDuplicatesOfTheLastKeptFrame) {
  VpdqPruner pruner(4);
  EXPECT_TRUE(pruner.Keep(Frame(0, HashWithBits(0, 10))));
  EXPECT_FALSE(pruner.Keep(Frame(1, HashWithBits(0, 14))));  // 4 bits from frame 0
  EXPECT_FALSE(pruner.Keep(Frame(2, HashWithBits(0, 13))));
  EXPECT_TRUE(pruner.Keep(Frame(3, HashWithBits(0, 15))));  // 5 bits from frame 0
  VpdqPruner none(-1);
  EXPECT_TRUE(none.Keep(Frame(0, HashWithBits(0, 10))));
  EXPECT_TRUE(none.Keep(Frame(1, HashWithBits(0, 10))));
}

TEST(VpdqHashFrame, TinyFramesHaveQualityZero) {
  const std::vector<std::uint8_t> pixels(std::size_t{48}, 128);  // 4x4 RGB
  const PdqResult r = VpdqHashFrame({pixels.data(), 4, 4, 3, 12});
  EXPECT_EQ(r.quality, 0);
}

TEST(StreamingDigests, EqualsOneShotDigests) {
  std::vector<std::uint8_t> data(100000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  StreamingDigests s;
  s.Update(std::span(data).first(1234));
  s.Update(std::span(data).subspan(1234));
  const FileDigests a = s.Finish();
  const FileDigests b = ComputeDigests(data);
  EXPECT_EQ(a.md5, b.md5);
  EXPECT_EQ(a.sha256, b.sha256);
}

}  // namespace
}  // namespace takeback::hash
