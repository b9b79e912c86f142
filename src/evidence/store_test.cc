#include "evidence/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "common/hex.h"

namespace takeback::evidence {
namespace {

namespace fs = std::filesystem;

class FixedClock : public Clock {
 public:
  std::int64_t NowUnixSeconds() const override { return now; }
  std::int64_t now = 1795600000;  // 2026-11-25
};

std::vector<std::uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// End offsets of each record of a log file (8-byte header, then length,
// payload, 8-byte checksum).
std::vector<std::size_t> RecordEnds(const std::string& data) {
  std::vector<std::size_t> ends;
  for (std::size_t pos = 8; pos + 4 <= data.size();) {
    std::uint32_t len = 0;
    for (int i = 3; i >= 0; --i) len = (len << 8) | static_cast<std::uint8_t>(data[pos + static_cast<std::size_t>(i)]);
    pos += 4 + len + 8;
    ends.push_back(pos);
  }
  return ends;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("evstore_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<EvidenceStore> OpenStore() {
    StoreOptions options;
    options.dir = (dir_ / "ev").string();
    options.sealing_key_path = (dir_ / "elsewhere" / "sealing.key").string();
    options.clock = &clock_;
    Result<std::unique_ptr<EvidenceStore>> store = EvidenceStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  Status OpenStatus() {
    StoreOptions options;
    options.dir = (dir_ / "ev").string();
    options.sealing_key_path = (dir_ / "elsewhere" / "sealing.key").string();
    options.clock = &clock_;
    return EvidenceStore::Open(options).status();
  }

  CaptureItem Item(const std::vector<std::uint8_t>& bytes, const std::string& case_ref) {
    CaptureItem item;
    item.bytes = bytes;
    item.entry.source.kind = "chat";
    item.entry.source.chat = "family group";
    item.entry.source.message_id = std::to_string(bytes.size());
    item.entry.captured_by = "tester";
    item.entry.tool = "takeback test";
    item.entry.case_ref = case_ref;
    return item;
  }

  void AddN(EvidenceStore& store, int n, const std::string& tag) {
    for (int i = 0; i < n; ++i) {
      payloads_.push_back(Bytes(tag + std::to_string(i)));
      ASSERT_TRUE(store.Capture(std::vector<CaptureItem>{Item(payloads_.back(), "C1")}).ok());
    }
  }

  fs::path dir_;
  FixedClock clock_;
  std::vector<std::vector<std::uint8_t>> payloads_;
};

TEST(KeysTest, SignVerifyPemAndHead) {
  std::array<std::uint8_t, 32> seed{};
  const std::unique_ptr<Signer> signer = Signer::FromSeed(seed);
  const std::vector<std::uint8_t> msg = Bytes("hello");
  const Signature sig = signer->Sign(msg);
  EXPECT_TRUE(VerifySignature(signer->public_key(), msg, sig));
  EXPECT_FALSE(VerifySignature(signer->public_key(), Bytes("hellO"), sig));
  const std::string pem = PublicKeyPem(signer->public_key());
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA", 0), 0U) << pem;
  EXPECT_EQ(*ParsePublicKeyPem(pem), signer->public_key());
  TreeHead head{5, Sha256({}), "2026-11-25T00:00:00Z", KeyId(signer->public_key())};
  const SignedTreeHead sth = SignTreeHead(*signer, head);
  EXPECT_TRUE(VerifyTreeHead(signer->public_key(), sth));
  EXPECT_EQ(*DecodeTreeHead(EncodeTreeHead(head)), head);
  SignedTreeHead bad = sth;
  bad.head.size = 6;
  EXPECT_FALSE(VerifyTreeHead(signer->public_key(), bad));
  EXPECT_EQ(*ParseHeadLine(FormatHeadLine(sth).substr(0, FormatHeadLine(sth).size() - 1)), sth);
}

TEST(KeysTest, Rfc8032Vector1) {
  // RFC 8032 section 7.1, TEST 1 (empty message).
  const std::vector<std::uint8_t> seed = *HexDecode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const std::unique_ptr<Signer> signer = Signer::FromSeed(std::span<const std::uint8_t, 32>(seed.data(), 32));
  EXPECT_EQ(HexEncode(signer->public_key()), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(
      HexEncode(signer->Sign({})),
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
      "655141438e7a100b");
}

TEST_F(StoreTest, KeysAreCreatedPrivateAndReused) {
  PublicKey first{};
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    first = store->signer().public_key();
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "ev/keys/signing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(::stat((dir_ / "elsewhere/sealing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_FALSE(fs::exists(dir_ / "ev/keys/sealing.key"));  // the sealing key lives apart
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->signer().public_key(), first);
  }
  fs::permissions(dir_ / "ev/keys/signing.key", fs::perms::group_read, fs::perm_options::add);
  const Status s = OpenStatus();
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("chmod 600"), std::string::npos);
}

TEST_F(StoreTest, SealedOriginalsRoundTripAndDetectTampering) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<std::uint8_t> big(200'000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  for (const std::vector<std::uint8_t>& original : {std::vector<std::uint8_t>{}, Bytes("\xFF\xD8\xFFjpeg"), big}) {
    const Result<std::vector<std::uint64_t>> idx = store->Capture(std::vector<CaptureItem>{Item(original, "C")});
    ASSERT_TRUE(idx.ok()) << idx.status().ToString();
    const Entry entry = *store->log().ReadEntry(idx->front());
    EXPECT_EQ(entry.size, original.size());
    const Hash digest = *ParseHashHex(entry.sha256);
    EXPECT_EQ(digest, Sha256(original));
    EXPECT_EQ(*store->sealed().Get(digest), original);
    // Encrypted at rest: the plaintext does not appear in the sealed file.
    const std::string sealed = ReadAll(store->sealed().PathFor(digest));
    if (!original.empty()) {
      EXPECT_EQ(
          sealed.find(std::string(original.begin(), original.begin() + std::min<std::size_t>(original.size(), 40))),
          std::string::npos);
    }
  }
  EXPECT_EQ(store->log().ReadEntry(1)->media_type, "image/jpeg");
  const Hash digest = Sha256(big);
  const std::string path = store->sealed().PathFor(digest);
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100'000);
    f.put('\x55');
  }
  const Result<std::vector<std::uint8_t>> got = store->sealed().Get(digest);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("authentication failed"), std::string::npos);
  std::vector<std::string> lines;
  EXPECT_FALSE(store->Check(true, lines).ok());
}

TEST_F(StoreTest, TruncatedOrReorderedLogIsRefused) {
  {
    auto store = OpenStore();
    AddN(*store, 6, "item");
  }
  const fs::path entries = dir_ / "ev/log/entries";
  const std::string original = ReadAll(entries);
  // Truncate to a record boundary (drop the last entry).
  const std::vector<std::size_t> ends = RecordEnds(original);
  ASSERT_EQ(ends.size(), 6U);
  { std::ofstream(entries, std::ios::binary | std::ios::trunc) << original.substr(0, ends[4]); }
  Status s = OpenStatus();
  EXPECT_EQ(s.code(), ErrorCode::kCorrupt) << s.ToString();
  EXPECT_NE(s.message().find("log truncated"), std::string::npos) << s.message();

  // Swap two records of equal length: checksums stay valid, the root changes.
  { std::ofstream(entries, std::ios::binary | std::ios::trunc) << original; }
  ASSERT_TRUE(OpenStatus().ok());
  const std::size_t first = 8;
  const std::size_t rec = ends[0] - first;
  ASSERT_EQ(ends[1] - ends[0], rec);
  std::string swapped = original;
  swapped.replace(first, rec, original.substr(first + rec, rec));
  swapped.replace(first + rec, rec, original.substr(first, rec));
  ASSERT_NE(swapped, original);
  { std::ofstream(entries, std::ios::binary | std::ios::trunc) << swapped; }
  s = OpenStatus();
  EXPECT_EQ(s.code(), ErrorCode::kCorrupt) << s.ToString();
  EXPECT_NE(s.message().find("altered, reordered or removed"), std::string::npos) << s.message();
}

TEST_F(StoreTest, ConsistencyWithASavedHeadAndAForkIsCaught) {
  SignedTreeHead saved;
  {
    auto store = OpenStore();
    AddN(*store, 5, "a");
    saved = store->heads().back();
    EXPECT_EQ(saved.head.size, 5U);
    fs::copy(dir_ / "ev", dir_ / "fork", fs::copy_options::recursive);
    AddN(*store, 9, "b");
    const Result<std::vector<Hash>> proof = store->ProveConsistency(saved);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_TRUE(VerifyConsistency(5, 14, saved.head.root, *store->log().tree().Root(14), *proof));
  }
  // A fork: the copy taken at 5 entries keeps 3 and rewrites history after them.
  fs::remove_all(dir_ / "ev");
  fs::copy(dir_ / "fork", dir_ / "ev", fs::copy_options::recursive);
  fs::remove(dir_ / "ev/log/heads");
  const fs::path entries = dir_ / "ev/log/entries";
  const std::string data = ReadAll(entries);
  const std::size_t pos = RecordEnds(data)[2];
  { std::ofstream(entries, std::ios::binary | std::ios::trunc) << data.substr(0, pos); }
  auto forked = OpenStore();
  ASSERT_NE(forked, nullptr);
  AddN(*forked, 8, "evil");
  const Result<std::vector<Hash>> proof = forked->ProveConsistency(saved);
  ASSERT_FALSE(proof.ok());
  EXPECT_NE(proof.status().message().find("log forked"), std::string::npos) << proof.status().message();
  SignedTreeHead forged = saved;
  forged.head.root[0] ^= 1;
  EXPECT_NE(forked->ProveConsistency(forged).status().message().find("signature"), std::string::npos);
}

TEST(SniffTest, MediaTypes) {
  EXPECT_EQ(SniffMediaType(Bytes("\x89PNG\r\n\x1A\nxxxx")), "image/png");
  EXPECT_EQ(SniffMediaType(Bytes("RIFF0000WEBPVP8 ")), "image/webp");
  EXPECT_EQ(SniffMediaType(Bytes("hello")), "application/octet-stream");
}

}  // namespace
}  // namespace takeback::evidence
