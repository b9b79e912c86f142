#include "evidence/bundle.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/hex.h"

namespace takeback::evidence {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class FixedClock : public Clock {
 public:
  std::int64_t NowUnixSeconds() const override { return 1795600000; }
};

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const fs::path& path, const std::string& bytes) {
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string Failures(const BundleVerification& v) {
  std::string out;
  for (const BundleCheck& c : v.checks) {
    if (!c.ok) out += c.what + "\n";
  }
  return out;
}

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("evbundle_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    StoreOptions options;
    options.dir = (dir_ / "ev").string();
    options.clock = &clock_;
    Result<std::unique_ptr<EvidenceStore>> store = EvidenceStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    const std::vector<std::string> payloads = {"\xFF\xD8\xFF first image", "second", "other case", "third"};
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      const std::vector<std::uint8_t> bytes(payloads[i].begin(), payloads[i].end());
      CaptureItem item;
      item.bytes = bytes;
      item.entry.source.kind = "chat";
      item.entry.source.chat = "group <b>&</b>";
      item.entry.source.message_id = std::to_string(100 + i);
      item.entry.source.sender_id = "user" + std::to_string(i);
      item.entry.observed_time = "2026-11-24T20:00:00Z";
      item.entry.captured_by = "caseworker";
      item.entry.tool = "takeback test";
      item.entry.case_ref = i == 2 ? "C2" : "C1";
      ASSERT_TRUE(store_->Capture(std::vector<CaptureItem>{item}).ok());
    }
    ExportOptions eo;
    eo.case_ref = "C1";
    eo.out_dir = (dir_ / "bundle").string();
    const Result<ExportSummary> summary = ExportBundle(*store_, eo);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_EQ(summary->entries, 3U);
    EXPECT_EQ(summary->tree_size, 4U);
    key_id_ = summary->key_id;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path Copy() {
    const fs::path copy = dir_ / ("copy" + std::to_string(copies_++));
    fs::copy(dir_ / "bundle", copy, fs::copy_options::recursive);
    return copy;
  }

  void EditManifest(const fs::path& bundle, const std::function<void(json&)>& edit) {
    json m = json::parse(ReadAll(bundle / "manifest.json"));
    edit(m);
    WriteAll(bundle / "manifest.json", m.dump(2));
  }

  void ExpectFailure(const fs::path& bundle, const std::string& needle) {
    const BundleVerification v = VerifyBundle(bundle.string(), {});
    EXPECT_FALSE(v.ok()) << needle;
    EXPECT_NE(Failures(v).find(needle), std::string::npos) << "wanted: " << needle << "\ngot:\n" << Failures(v);
  }

  fs::path dir_;
  FixedClock clock_;
  std::unique_ptr<EvidenceStore> store_;
  std::string key_id_;
  int copies_ = 0;
};

TEST_F(BundleTest, ExportedBundleVerifies) {
  const BundleVerification v = VerifyBundle((dir_ / "bundle").string(), {});
  EXPECT_TRUE(v.ok()) << Failures(v);
  EXPECT_EQ(v.entries, 3U);
  EXPECT_EQ(v.case_ref, "C1");
  VerifyOptions pinned;
  pinned.expected_key_id = key_id_;
  EXPECT_TRUE(VerifyBundle((dir_ / "bundle").string(), pinned).ok());
  pinned.expected_key_id = std::string(64, '0');
  EXPECT_FALSE(VerifyBundle((dir_ / "bundle").string(), pinned).ok());
  const std::string report = ReadAll(dir_ / "bundle/report.html");
  EXPECT_NE(report.find("group &lt;b&gt;&amp;&lt;/b&gt;"), std::string::npos);  // escaped
  EXPECT_EQ(report.find("other case"), std::string::npos);
  EXPECT_NE(ReadAll(dir_ / "bundle/README.txt").find("sha256sum -c SHA256SUMS"), std::string::npos);
  // Exporting into a non-empty directory is refused.
  ExportOptions eo;
  eo.case_ref = "C1";
  eo.out_dir = (dir_ / "bundle").string();
  EXPECT_EQ(ExportBundle(*store_, eo).status().code(), ErrorCode::kInvalidArgument);
  eo.case_ref = "nope";
  eo.out_dir = (dir_ / "empty").string();
  EXPECT_EQ(ExportBundle(*store_, eo).status().code(), ErrorCode::kNotFound);
}

TEST_F(BundleTest, FlippedByteInAnOriginal) {
  const fs::path b = Copy();
  for (const auto& f : fs::directory_iterator(b / "originals")) {
    std::string bytes = ReadAll(f.path());
    bytes[bytes.size() / 2] ^= 0x01;
    WriteAll(f.path(), bytes);
    break;
  }
  ExpectFailure(b, "(altered)");
}

TEST_F(BundleTest, EditedManifestField) {
  const fs::path b = Copy();
  EditManifest(b, [](json& m) { m["entries"][1]["entry"]["source"]["sender_id"] = "someone else"; });
  ExpectFailure(b, "entry 1: the entry's fields in manifest.json are not what the log recorded");
  const fs::path c = Copy();
  EditManifest(c, [](json& m) { m["entries"][0]["entry"]["observed_time"] = "2026-11-23T20:00:00Z"; });
  ExpectFailure(c, "entry 0: the entry's fields");
  const fs::path d = Copy();
  EditManifest(d, [](json& m) { m["tree_head"]["size"] = 3; });
  ExpectFailure(d, "manifest.json's tree_head differs from the signed tree_head.json");
}

TEST_F(BundleTest, DroppedEntry) {
  const fs::path b = Copy();
  EditManifest(b, [](json& m) { m["entries"].erase(1); });
  ExpectFailure(b, "entry 1 of the signed case index is missing from manifest.json");
}

TEST_F(BundleTest, ReorderedEntries) {
  const fs::path b = Copy();
  EditManifest(b, [](json& m) { std::swap(m["entries"][0], m["entries"][2]); });
  ExpectFailure(b, "another order than the signed case index (reordered)");
  // Swapping the indices instead: the inclusion proofs no longer fit.
  const fs::path c = Copy();
  EditManifest(c, [](json& m) {
    m["entries"][0]["index"] = 1;
    m["entries"][1]["index"] = 0;
  });
  ExpectFailure(c, "inclusion proof does not lead to the signed root");
}

TEST_F(BundleTest, ReplacedPublicKey) {
  const fs::path b = Copy();
  std::array<std::uint8_t, 32> seed{};
  seed[0] = 7;
  const std::unique_ptr<Signer> other = Signer::FromSeed(seed);
  WriteAll(b / "public_key.pem", PublicKeyPem(other->public_key()));
  EditManifest(b, [&](json& m) { m["public_key"]["ed25519"] = HexEncode(other->public_key()); });
  ExpectFailure(b, "tree head: the signature in tree_head.sig does not verify with the bundle's public key");
  // Only the PEM replaced: it no longer matches the manifest.
  const fs::path c = Copy();
  WriteAll(c / "public_key.pem", PublicKeyPem(other->public_key()));
  ExpectFailure(c, "public_key.pem differs from the key in manifest.json");
}

TEST_F(BundleTest, ForgedCaseIndexAndMissingFiles) {
  const fs::path b = Copy();
  std::string case_json = ReadAll(b / "case.json");
  case_json.replace(case_json.find("[0,1,3]"), 7, "[0,3]");
  WriteAll(b / "case.json", case_json);
  ExpectFailure(b, "case index: the signature in case.sig does not verify");
  const fs::path c = Copy();
  fs::remove(c / "tree_head.sig");
  ExpectFailure(c, "tree head:");
  const fs::path d = Copy();
  WriteAll(d / "manifest.json", "{not json");
  ExpectFailure(d, "manifest.json is not valid JSON");
  const fs::path e = Copy();
  EditManifest(e, [](json& m) { m["entries"][0]["file"] = "../../etc/passwd"; });
  ExpectFailure(e, "outside the bundle");
}

}  // namespace
}  // namespace takeback::evidence
