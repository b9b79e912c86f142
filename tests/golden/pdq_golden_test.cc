// Every row of ../shared/testdata/pdq/expected.tsv and expected-dihedral.tsv
// (Meta's reference pdq-photo-hasher output) must be reproduced bit for bit,
// by the library and by `takeback hash`.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/file.h"
#include "hash/pdq.h"
#include "media/image.h"

namespace takeback {
namespace {

namespace fs = std::filesystem;

const fs::path kPdqDir = fs::path(TAKEBACK_TESTDATA_DIR) / "pdq";

struct Row {
  std::string file;
  std::vector<std::string> fields;
};

// Reads a tab-separated file with a header line.
std::vector<Row> ReadTsv(const fs::path& path) {
  std::vector<Row> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream ss(line);
    Row row;
    std::getline(ss, row.file, '\t');
    std::string f;
    while (std::getline(ss, f, '\t')) row.fields.push_back(f);
    rows.push_back(std::move(row));
  }
  return rows;
}

class PdqGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kPdqDir / "expected.tsv")) {
      GTEST_SKIP() << "test data not found at " << kPdqDir
                   << " (golden tests need ../shared/testdata; set TAKEBACK_TESTDATA_DIR)";
    }
  }

  static media::Image Decode(const std::string& file) {
    auto bytes = ReadFileLimited((kPdqDir / "images" / file).string(), 64U << 20U);
    EXPECT_TRUE(bytes.ok()) << file << ": " << bytes.status().ToString();
    if (!bytes.ok()) return {};
    auto image = media::DecodeImage(*bytes, {});
    EXPECT_TRUE(image.ok()) << file << ": " << image.status().ToString();
    if (!image.ok()) return {};
    return std::move(*image);
  }

  static hash::PixelView View(const media::Image& img) {
    return {img.pixels.data(), img.width, img.height, img.channels, static_cast<std::size_t>(img.width) * img.channels};
  }
};

TEST_F(PdqGoldenTest, EveryReferenceHashAndQuality) {
  const auto rows = ReadTsv(kPdqDir / "expected.tsv");
  ASSERT_GE(rows.size(), 30U);
  int exact = 0;
  for (const Row& row : rows) {
    ASSERT_EQ(row.fields.size(), 2U) << row.file;
    const media::Image img = Decode(row.file);
    if (img.pixels.empty()) continue;
    const hash::PdqResult r = hash::PdqHashPixels(View(img));
    EXPECT_EQ(r.hash.ToHex(), row.fields[0]) << row.file;
    EXPECT_EQ(std::to_string(r.quality), row.fields[1]) << row.file;
    if (r.hash.ToHex() == row.fields[0] && std::to_string(r.quality) == row.fields[1]) ++exact;
  }
  EXPECT_EQ(exact, static_cast<int>(rows.size()));
}

TEST_F(PdqGoldenTest, EveryReferenceDihedralHash) {
  const auto rows = ReadTsv(kPdqDir / "expected-dihedral.tsv");
  ASSERT_GE(rows.size(), 30U);
  for (const Row& row : rows) {
    ASSERT_EQ(row.fields.size(), 1U + hash::kNumDihedral) << row.file;
    const media::Image img = Decode(row.file);
    if (img.pixels.empty()) continue;
    const hash::PdqDihedralResult r = hash::PdqDihedralHashPixels(View(img));
    EXPECT_EQ(std::to_string(r.quality), row.fields[0]) << row.file;
    for (int d = 0; d < hash::kNumDihedral; ++d) {
      EXPECT_EQ(r.hashes[static_cast<std::size_t>(d)].ToHex(), row.fields[static_cast<std::size_t>(d) + 1])
          << row.file << " " << hash::DihedralName(static_cast<hash::Dihedral>(d));
    }
  }
}

// The reference ignores EXIF orientation; so do we by default, and
// --auto-orient changes the hash of the rotated photo only.
TEST_F(PdqGoldenTest, ExifOrientationIgnoredUnlessAsked) {
  auto bytes = ReadFileLimited((kPdqDir / "images" / "exif-rotn-6.jpg").string(), 64U << 20U);
  ASSERT_TRUE(bytes.ok());
  media::DecodeOptions orient;
  orient.auto_orient = true;
  auto plain = media::DecodeImage(*bytes, {});
  auto rotated = media::DecodeImage(*bytes, orient);
  ASSERT_TRUE(plain.ok() && rotated.ok());
  EXPECT_EQ(plain->width, rotated->height);
  EXPECT_EQ(plain->height, rotated->width);
  const auto h_plain = hash::PdqDihedralHashPixels(View(*plain));
  const auto h_rot = hash::PdqHashPixels(View(*rotated));
  // Orientation 6 means "rotate 90 clockwise to display", i.e. the displayed
  // image is the stored one rotated 270 counter-clockwise.
  EXPECT_LE(hash::HammingDistance(h_plain.hashes[static_cast<int>(hash::Dihedral::kRotate270)], h_rot.hash), 16);
  EXPECT_GT(hash::HammingDistance(h_plain.hashes[0], h_rot.hash), 64);
}

// The same rows through the command-line program, as a user runs it.
TEST_F(PdqGoldenTest, CliReproducesEveryRow) {
  const auto rows = ReadTsv(kPdqDir / "expected.tsv");
  std::map<std::string, std::string> want;
  for (const Row& row : rows) {
    want[(kPdqDir / "images" / row.file).string()] = row.fields[0] + "," + row.fields[1];
  }
  const std::string cmd = std::string("'") + TAKEBACK_BIN + "' hash -r '" + (kPdqDir / "images").string() + "' 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::map<std::string, std::string> got;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr) {
    std::string line(buf);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    // HASH,QUALITY,PATH
    const auto c1 = line.find(',');
    const auto c2 = line.find(',', c1 == std::string::npos ? c1 : c1 + 1);
    if (c1 != 64 || c2 == std::string::npos) {
      ADD_FAILURE() << "unexpected output line: " << line;
      continue;
    }
    got[line.substr(c2 + 1)] = line.substr(0, c2);
  }
  const int status = ::pclose(pipe);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  for (const auto& [path, value] : want) {
    auto it = got.find(path);
    ASSERT_NE(it, got.end()) << "no output for " << path;
    EXPECT_EQ(it->second, value) << path;
  }
}

}  // namespace
}  // namespace takeback
