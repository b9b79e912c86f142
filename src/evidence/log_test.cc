#include "evidence/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace takeback::evidence {
namespace {

namespace fs = std::filesystem;

Entry MakeEntry(int i) {
  Entry e;
  e.sha256 = HashHex(Sha256({}));
  e.size = static_cast<std::uint64_t>(i);
  e.media_type = "image/png";
  e.source.kind = "path";
  e.source.path = "/data/" + std::to_string(i) + ".png";
  e.captured_time = "2026-11-25T09:00:00Z";
  e.captured_by = "tester";
  e.tool = "takeback test";
  return e;
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("evlog_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Dir() const { return dir_.string(); }
  std::string EntriesPath() const { return (dir_ / "entries").string(); }
  fs::path dir_;
};

TEST_F(LogTest, AppendCommitReopen) {
  Hash root{};
  {
    Result<std::unique_ptr<EvidenceLog>> log = EvidenceLog::Open(Dir());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (int i = 0; i < 10; ++i) ASSERT_EQ(*(*log)->Append(MakeEntry(i)), static_cast<std::uint64_t>(i));
    EXPECT_EQ((*log)->committed_size(), 0U);
    EXPECT_EQ((*log)->ReadEntry(3)->source.path, "/data/3.png");  // pending entries are readable
    ASSERT_TRUE((*log)->Commit().ok());
    EXPECT_EQ((*log)->committed_size(), 10U);
    root = *(*log)->tree().Root(10);
    // A second opener is refused while this one lives.
    EXPECT_FALSE(EvidenceLog::Open(Dir()).ok());
    ASSERT_TRUE((*log)->Append(MakeEntry(99)).ok());  // never committed
  }
  Result<std::unique_ptr<EvidenceLog>> log = EvidenceLog::Open(Dir());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->size(), 10U);
  EXPECT_EQ(*(*log)->tree().Root(10), root);
  EXPECT_EQ((*log)->ReadEntry(7)->source.path, "/data/7.png");
  EXPECT_EQ((*log)->recovered_tail_bytes(), 0U);
}

TEST_F(LogTest, TornTailIsCutAndReported) {
  {
    auto log = EvidenceLog::Open(Dir());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Append(MakeEntry(i)).ok());
    ASSERT_TRUE((*log)->Commit().ok());
  }
  const auto full = fs::file_size(EntriesPath());
  for (const std::uintmax_t cut : {std::uintmax_t{3}, std::uintmax_t{40}}) {
    fs::resize_file(EntriesPath(), full - cut);
    auto log = EvidenceLog::Open(Dir());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_EQ((*log)->size(), 4U);
    EXPECT_GT((*log)->recovered_tail_bytes(), 0U);
    ASSERT_TRUE((*log)->Append(MakeEntry(4)).ok());
    ASSERT_TRUE((*log)->Commit().ok());
  }
  // A zero-filled tail (what some file systems leave after a crash).
  { std::ofstream(EntriesPath(), std::ios::app | std::ios::binary) << std::string(100, '\0'); }
  auto log = EvidenceLog::Open(Dir());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->size(), 5U);
  EXPECT_EQ((*log)->recovered_tail_bytes(), 100U);
}

TEST_F(LogTest, DamageInsideIsCorruptAndNamed) {
  {
    auto log = EvidenceLog::Open(Dir());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Append(MakeEntry(i)).ok());
    ASSERT_TRUE((*log)->Commit().ok());
  }
  const auto size_before = fs::file_size(EntriesPath());
  {
    std::fstream f(EntriesPath(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(60);  // inside record 0's JSON
    f.put('X');
  }
  const auto log = EvidenceLog::Open(Dir());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(log.status().message().find("record 0 at byte 8: checksum mismatch"), std::string::npos)
      << log.status().message();
  EXPECT_EQ(fs::file_size(EntriesPath()), size_before);  // nothing was cut
}

TEST_F(LogTest, RefusesInvalidEntry) {
  auto log = EvidenceLog::Open(Dir());
  Entry e = MakeEntry(1);
  e.sha256 = "nope";
  EXPECT_FALSE((*log)->Append(e).ok());
  EXPECT_EQ((*log)->size(), 0U);
}

}  // namespace
}  // namespace takeback::evidence
