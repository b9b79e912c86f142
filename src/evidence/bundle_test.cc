#include "evidence/bundle.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include "common/hex.h"
#include "evidence/zip_archive.h"

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

// A zip archive written by hand, so that tests can make archives no honest
// tool would: names with "..", links, duplicates, bombs.
struct ZipItem {
  std::string name;
  std::string data;
  bool deflate = false;
  std::uint32_t mode = 0100644;  // S_IFREG | 0644
};

void Put16(std::string& out, std::uint32_t v) {
  out += static_cast<char>(v & 0xFFU);
  out += static_cast<char>((v >> 8U) & 0xFFU);
}
void Put32(std::string& out, std::uint32_t v) {
  Put16(out, v & 0xFFFFU);
  Put16(out, v >> 16U);
}

std::string RawDeflate(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));  // NOLINT: zlib's API is not const-correct
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string MakeZip(const std::vector<ZipItem>& items) {
  std::string zip;
  std::string central;
  for (const ZipItem& item : items) {
    const auto crc = static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(item.data.data()), static_cast<uInt>(item.data.size())));
    const std::string stored = item.deflate ? RawDeflate(item.data) : item.data;
    const auto offset = static_cast<std::uint32_t>(zip.size());
    const std::uint32_t method = item.deflate ? 8 : 0;
    Put32(zip, 0x04034b50);
    Put16(zip, 20);
    Put16(zip, 0);
    Put16(zip, method);
    Put16(zip, 0);
    Put16(zip, 0x21);
    Put32(zip, crc);
    Put32(zip, static_cast<std::uint32_t>(stored.size()));
    Put32(zip, static_cast<std::uint32_t>(item.data.size()));
    Put16(zip, static_cast<std::uint32_t>(item.name.size()));
    Put16(zip, 0);
    zip += item.name + stored;
    Put32(central, 0x02014b50);
    Put16(central, (3U << 8U) | 20U);
    Put16(central, 20);
    Put16(central, 0);
    Put16(central, method);
    Put16(central, 0);
    Put16(central, 0x21);
    Put32(central, crc);
    Put32(central, static_cast<std::uint32_t>(stored.size()));
    Put32(central, static_cast<std::uint32_t>(item.data.size()));
    Put16(central, static_cast<std::uint32_t>(item.name.size()));
    for (int i = 0; i < 4; ++i) Put16(central, 0);  // extra, comment, disk, internal attributes
    Put32(central, item.mode << 16U);
    Put32(central, offset);
    central += item.name;
  }
  const auto cd_offset = static_cast<std::uint32_t>(zip.size());
  zip += central;
  Put32(zip, 0x06054b50);
  Put16(zip, 0);
  Put16(zip, 0);
  Put16(zip, static_cast<std::uint32_t>(items.size()));
  Put16(zip, static_cast<std::uint32_t>(items.size()));
  Put32(zip, static_cast<std::uint32_t>(central.size()));
  Put32(zip, cd_offset);
  Put16(zip, 0);
  return zip;
}

TEST_F(BundleTest, ZipBundleVerifiesAndCatchesAFlippedByte) {
  ExportOptions eo;
  eo.case_ref = "C1";
  eo.out_dir = (dir_ / "case-1.zip").string();
  const Result<ExportSummary> summary = ExportBundle(*store_, eo);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->entries, 3U);
  // Only the zip is left: no staging directory beside it.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"bundle", "case-1.zip", "ev"}));
  const BundleVerification v = VerifyBundle(eo.out_dir, {});
  EXPECT_TRUE(v.ok()) << Failures(v);
  EXPECT_EQ(v.entries, 3U);
  ASSERT_FALSE(v.checks.empty());
  EXPECT_NE(v.checks.front().what.find("zip archive: 12 files extracted"), std::string::npos) << v.checks.front().what;
  // Exporting over an existing zip is refused.
  EXPECT_EQ(ExportBundle(*store_, eo).status().code(), ErrorCode::kInvalidArgument);

  // One flipped byte in a stored original: the CRC check names the entry.
  std::string zip = ReadAll(eo.out_dir);
  const std::size_t at = zip.find("second");
  ASSERT_NE(at, std::string::npos);
  zip[at] ^= 0x01;
  const fs::path flipped = dir_ / "flipped.zip";
  std::ofstream(flipped, std::ios::binary) << zip;
  ExpectFailure(flipped, "zip archive: zip entry 'originals/");
  // Not a zip and not a directory.
  const fs::path text = dir_ / "notes.txt";
  std::ofstream(text) << "hello";
  ExpectFailure(text, "neither a bundle directory nor a zip archive");
}

TEST_F(BundleTest, HostileZipsAreRefusedBeforeAnythingIsWritten) {
  struct Case {
    std::vector<ZipItem> items;
    std::string needle;
  };
  const std::string big(std::size_t{4} << 20, '\0');
  const std::vector<Case> cases = {
      {{{"../escape.txt", "x"}}, "unsafe name"},
      {{{"ok.txt", "a"}, {"sub/../../escape.txt", "x"}}, "unsafe name"},
      {{{"/etc/cron.d/evil", "x"}}, "unsafe name"},
      {{{"back\\slash", "x"}}, "unsafe name"},
      {{{"a.txt", "1"}, {"a.txt", "2"}}, "appears twice"},
      {{{"link", "/etc/passwd", false, 0120777}}, "not a plain file"},
      {{{"bomb.bin", big, true}}, "zip bomb"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const fs::path zip = dir_ / ("hostile" + std::to_string(i) + ".zip");
    std::ofstream(zip, std::ios::binary) << MakeZip(cases[i].items);
    const fs::path out = dir_ / ("out" + std::to_string(i));
    const Result<std::uint64_t> r = internal::ExtractZipSafely(zip.string(), out.string());
    ASSERT_FALSE(r.ok()) << i;
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << i;
    EXPECT_NE(r.status().message().find(cases[i].needle), std::string::npos) << i << ": " << r.status().message();
    EXPECT_FALSE(fs::exists(out)) << i;  // refused before anything was extracted
    ExpectFailure(zip, cases[i].needle);
  }
  EXPECT_FALSE(fs::exists(dir_.parent_path() / "escape.txt"));
  // A well-formed hand-made archive extracts, including deflated entries.
  const fs::path good = dir_ / "good.zip";
  std::ofstream(good, std::ios::binary) << MakeZip({{"a.txt", "alpha"}, {"d/b.txt", std::string(5000, 'b'), true}});
  const Result<std::uint64_t> r = internal::ExtractZipSafely(good.string(), (dir_ / "good").string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 2U);
  EXPECT_EQ(ReadAll(dir_ / "good/d/b.txt"), std::string(5000, 'b'));
  // Truncated archives are refused.
  const std::string bytes = ReadAll(good);
  const fs::path cut = dir_ / "cut.zip";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 30);
  EXPECT_FALSE(internal::ExtractZipSafely(cut.string(), (dir_ / "cut").string()).ok());
}

}  // namespace
}  // namespace takeback::evidence
