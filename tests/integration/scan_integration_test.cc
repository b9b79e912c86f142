// `takeback register` and `takeback scan` (issue 6), the real binaries on
// ../shared/testdata/telegram and on hostile exports made in a temporary
// directory.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using takeback::testing::ReadFile;
using takeback::testing::RunResult;
using takeback::testing::RunShell;
using takeback::testing::TempDir;
using takeback::testing::TimedCommand;
using takeback::testing::WriteFile;

const fs::path kTestdata = TAKEBACK_TESTDATA_DIR;
const fs::path kModels = TAKEBACK_MODEL_DIR;
const fs::path kExport = kTestdata / "telegram/ChatExport_2024-08-21";

RunResult Takeback(const TempDir& dir, const std::vector<std::string>& args, int timeout = 120) {
  return RunShell("TAKEBACK_MODEL_DIR=" + takeback::testing::ShellQuote(kModels.string()) + " " +
                      TimedCommand(timeout, TAKEBACK_BIN, args),
                  dir.path());
}

bool HaveModels() { return fs::exists(kModels / "face_recognition_model-weights_manifest.json"); }

std::set<std::int64_t> MessageIds(const json& list) {
  std::set<std::int64_t> ids;
  for (const json& item : list) {
    if (item["source"].contains("message_id")) ids.insert(item["source"]["message_id"].get<std::int64_t>());
  }
  return ids;
}

const json* FindMatch(const json& report, std::int64_t message, const std::string& type) {
  for (const json& m : report["matches"]) {
    if (m["source"].value("message_id", -1) == message && m["signal"]["type"] == type) return &m;
  }
  return nullptr;
}

// A case registered from the victim's files; hashes only unless `faces`.
std::string RegisterCase(const TempDir& dir, bool faces) {
  const std::string out = (dir.path() / "case.json").string();
  std::vector<std::string> args = {"register", "--out",        out,          "--case-ref", "case-1", "--watch-term",
                                   "김지은",   "--watch-term", "01012345678"};
  if (!faces) args.push_back("--no-faces");
  if (faces) args.push_back((kTestdata / "face/swap-donor-B.jpg").string());
  args.push_back((kTestdata / "pdq/images/bridge-1-original.jpg").string());
  args.push_back((kTestdata / "vpdq/videos/chair-orig-22-sd-bar.mp4").string());
  const RunResult r = Takeback(dir, args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

TEST(ScanTest, FindsTheCaseInTheTestdataExport) {
  if (!fs::exists(kExport / "result.json")) GTEST_SKIP() << "no Telegram test export at " << kExport;
  if (!HaveModels()) GTEST_SKIP() << "no face models in " << kModels << " (run scripts/fetch-models)";
  TempDir dir("scan_must_show");
  const std::string case_file = RegisterCase(dir, true);
  const json signal_set = json::parse(ReadFile(case_file));
  std::set<std::string> types;
  for (const json& s : signal_set["signals"]) types.insert(s["type"].get<std::string>());
  EXPECT_EQ(types, (std::set<std::string>{"pdq", "md5", "sha256", "face", "vpdq"}));
  EXPECT_EQ(ReadFile(case_file).find("swap-donor"), std::string::npos) << "file names must not leak into signals";

  const RunResult r = Takeback(
      dir, {"scan", "--signals", case_file, "-o", (dir.path() / "out").string(), "-j", "2", "--json", kExport.string()},
      300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_EQ(summary["messages"], 7);
  const json report = json::parse(ReadFile(dir.path() / "out/report.json"));
  ASSERT_EQ(report["format"], "takeback-scan-report");

  // 102: the face swap (B's face on A's head), a face match for review.
  const json* face = FindMatch(report, 102, "face");
  ASSERT_NE(face, nullptr) << report["matches"].dump(1);
  EXPECT_TRUE((*face)["review_required"].get<bool>());
  EXPECT_LE((*face)["distance"].get<double>(), 0.5);
  EXPECT_EQ((*face)["threshold"].get<double>(), 0.5);
  EXPECT_EQ((*face)["source"]["sender"]["id"], "user5550202");
  EXPECT_EQ((*face)["source"]["link"], "https://t.me/c/1876543210/102");
  EXPECT_EQ((*face)["source"]["date_utc"], "2024-08-20T21:15:07Z");
  EXPECT_EQ((*face)["source"]["chat"]["name"], "동창 모임 (alumni room)");
  EXPECT_EQ((*face)["file"]["path"], "photos/photo_1@20-08-2024_21-15-07.jpg");
  // 104: a rotated, forwarded copy of the bridge photo: PDQ through a dihedral variant.
  const json* rotated = FindMatch(report, 104, "pdq");
  ASSERT_NE(rotated, nullptr) << report["matches"].dump(1);
  EXPECT_LE((*rotated)["distance"].get<int>(), 31);
  EXPECT_NE((*rotated)["variant"], "orig");
  EXPECT_EQ((*rotated)["source"]["forwarded_from"], "free room 2");
  EXPECT_EQ((*rotated)["source"]["sender"]["id"], "user5550101");
  EXPECT_FALSE((*rotated)["review_required"].get<bool>());
  // 105: the video, vPDQ; its sender has no name (from: null).
  const json* video = FindMatch(report, 105, "vpdq");
  ASSERT_NE(video, nullptr) << report["matches"].dump(1);
  EXPECT_GE(std::max((*video)["query_percent"].get<double>(), (*video)["target_percent"].get<double>()), 80.0);
  EXPECT_TRUE((*video)["source"]["sender"]["name"].is_null());
  // 107, the unrelated landscape, is not reported; nor 101 and 103 (no media).
  const std::set<std::int64_t> matched = MessageIds(report["matches"]);
  EXPECT_EQ(matched, (std::set<std::int64_t>{102, 104, 105}));
  // 103: the name and the phone number.
  std::set<std::string> dox;
  for (const json& d : report["doxxing"]) {
    EXPECT_EQ(d["source"]["message_id"], 103);
    EXPECT_EQ(d["source"]["reply_to_message_id"], 102);
    dox.insert(d["kind"].get<std::string>() + ":" + d["term"].get<std::string>());
  }
  EXPECT_EQ(dox, (std::set<std::string>{"text:김지은", "phone:01012345678"}));
  // 106: not downloaded, self-destructing: missing evidence with its metadata.
  ASSERT_EQ(report["missing"].size(), 1U);
  const json& missing = report["missing"][0];
  EXPECT_EQ(missing["source"]["message_id"], 106);
  EXPECT_EQ(missing["file_name"], "IMG_2231.MOV");
  EXPECT_EQ(missing["mime_type"], "video/quicktime");
  EXPECT_EQ(missing["file_size"], 48234496);
  EXPECT_EQ(missing["source"]["self_destruct_period_seconds"], 30);
  EXPECT_NE(missing["placeholder"].get<std::string>().find("File not included"), std::string::npos);
  // Who posted what: user5550202 posted the face match, user5550101 the
  // rotated copy and the doxxing message; each sender only for this case.
  bool saw_minsu = false;
  for (const json& s : report["senders"]) {
    EXPECT_FALSE(s["multiple_cases"].get<bool>());
    if (s["id"] == "user5550101") {
      saw_minsu = true;
      EXPECT_EQ(s["matches"].size(), 1U);
      EXPECT_EQ(s["doxxing"].size(), 2U);
      EXPECT_EQ(s["first_seen"], "2024-08-20T21:16:40Z");
    }
  }
  EXPECT_TRUE(saw_minsu);
  ASSERT_EQ(report["timelines"].size(), 1U);
  EXPECT_EQ(report["timelines"][0]["events"].size(), report["matches"].size() + report["doxxing"].size());
  // Progress events were JSON lines on stderr.
  EXPECT_NE(r.err.find("{\"event\":\"done\""), std::string::npos) << r.err;
  const std::string html = ReadFile(dir.path() / "out/report.html");
  EXPECT_NE(html.find("class=\"blur\""), std::string::npos);
  EXPECT_NE(html.find("data:image/jpeg;base64,"), std::string::npos);
}

TEST(ScanTest, TwoCasesFlagTheSenderWhoPostedForBoth) {
  if (!fs::exists(kExport / "result.json")) GTEST_SKIP() << "no Telegram test export at " << kExport;
  TempDir dir("scan_two_cases");
  const std::string a = (dir.path() / "a.json").string();
  const std::string b = (dir.path() / "b.json").string();
  ASSERT_EQ(Takeback(dir, {"register", "--no-faces", "--out", a, "--case-ref", "A",
                           (kTestdata / "pdq/images/bridge-1-original.jpg").string()})
                .exit_code,
            0);
  // A case of watch terms only (the phone number in another format).
  WriteFile(
      b, R"({"format":"takeback-signals","version":1,"case_ref":"B","watch_terms":["+82 10 1234 5678"],"signals":[]})");
  const RunResult r =
      Takeback(dir, {"scan", "--signals", a, "--signals", b, "-o", (dir.path() / "out").string(), kExport.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(ReadFile(dir.path() / "out/report.json"));
  bool flagged = false;
  for (const json& s : report["senders"]) {
    if (s["id"] == "user5550101") {
      flagged = s["multiple_cases"].get<bool>();
      EXPECT_EQ(s["cases"], json::array({0, 1}));
    }
  }
  EXPECT_TRUE(flagged) << report["senders"].dump(1);
}

// A small hostile export: each message tries something.
class HostileExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kTestdata / "pdq/images/bridge-1-original.jpg")) GTEST_SKIP() << "no test data";
    root_ = dir_.path() / "export";
    fs::create_directories(root_ / "photos");
    fs::create_directories(dir_.path() / "outside");
    fs::copy_file(kTestdata / "pdq/images/bridge-1-original.jpg", dir_.path() / "outside/secret.jpg");
    fs::copy_file(kTestdata / "pdq/images/bridge-1-original.jpg", root_ / "photos/ok.jpg");
    fs::create_symlink(dir_.path() / "outside/secret.jpg", root_ / "photos/link.jpg");
    WriteFile(root_ / "photos/corrupt.jpg", "\xff\xd8\xff\xe0 not really a jpeg");
    // A PNG header claiming 100000 x 100000 pixels.
    std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\x01\x86\xa0\0\x01\x86\xa0\x08\x02\0\0\0\0\0\0\0", 33);
    WriteFile(root_ / "photos/huge.png", png);
    case_file_ = (dir_.path() / "case.json").string();
    const RunResult r = Takeback(dir_, {"register", "--no-faces", "--out", case_file_,
                                        (kTestdata / "pdq/images/bridge-1-original.jpg").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  static std::string Message(int id, const std::string& extra) {
    return R"({"id":)" + std::to_string(id) +
           R"(,"type":"message","date":"2024-01-01T00:00:00","date_unixtime":"1704067200","from":"x","from_id":"user1")" +
           extra + "}";
  }

  void WriteExport(const std::string& messages_json, bool close = true) {
    std::string text = R"({"name":"hostile","type":"private_group","id":42,"messages":[)" + messages_json;
    if (close) text += "]}";
    WriteFile(root_ / "result.json", text);
  }

  RunResult Scan() {
    return Takeback(dir_, {"scan", "--signals", case_file_, "-o", (dir_.path() / "out").string(), root_.string()});
  }
  json Report() { return json::parse(ReadFile(dir_.path() / "out/report.json")); }

  TempDir dir_{"scan_hostile"};
  fs::path root_;
  std::string case_file_;
};

TEST_F(HostileExportTest, PathsLeavingTheExportAreRefusedAndNeverRead) {
  const std::string secret = (dir_.path() / "outside/secret.jpg").string();
  WriteExport(Message(1, R"(,"photo":"../outside/secret.jpg")") + "," + Message(2, R"(,"photo":")" + secret + R"(")") +
              "," + Message(3, R"(,"photo":"photos/link.jpg")") + "," +
              Message(4, R"(,"photo":"photos/../../outside/secret.jpg")") + "," +
              Message(5, R"(,"photo":"photos/ok.jpg")"));
  const RunResult r = Scan();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const json report = Report();
  // Only the file inside the export was read and matched; each escape is a
  // warning and a "missing" entry saying why.
  EXPECT_EQ(MessageIds(report["matches"]), (std::set<std::int64_t>{5}));
  EXPECT_EQ(report["summary"]["files_hashed"], 1);
  EXPECT_EQ(MessageIds(report["missing"]), (std::set<std::int64_t>{1, 2, 3, 4}));
  for (const json& m : report["missing"]) EXPECT_NE(m["reason"].get<std::string>().find("refused"), std::string::npos);
  EXPECT_NE(r.err.find("symbolic link leads outside"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("absolute path"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(dir_.path() / "out/report.json").find("secret.jpg\",\"field"), std::string::npos);
}

TEST_F(HostileExportTest, TruncatedJsonKeepsWhatWasRead) {
  WriteExport(Message(1, R"(,"photo":"photos/ok.jpg")") + "," + Message(2, R"(,"text":"김지은 01012345678")") +
                  R"(,{"id":3,"type":"mess)",
              false);
  const RunResult r = Scan();
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("damaged or truncated"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("byte "), std::string::npos) << r.err;
  const json report = Report();
  EXPECT_TRUE(report["truncated"].get<bool>());
  EXPECT_TRUE(report["sources"][0]["truncated"].get<bool>());
  EXPECT_EQ(report["sources"][0]["messages"], 2);
  EXPECT_EQ(MessageIds(report["matches"]), (std::set<std::int64_t>{1}));
}

TEST_F(HostileExportTest, InvalidJsonAndNotAnExport) {
  WriteFile(root_ / "result.json", "this is not json");
  RunResult r = Scan();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("invalid JSON at byte"), std::string::npos) << r.err;
  WriteFile(root_ / "result.json", R"({"hello":"world"})");
  r = Scan();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a Telegram export"), std::string::npos) << r.err;
  // Deep nesting is refused, not a stack overflow.
  WriteFile(root_ / "result.json", std::string(100000, '['));
  r = Scan();
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

TEST_F(HostileExportTest, MissingCorruptHugeMediaAndDuplicateIds) {
  WriteExport(Message(1, R"(,"photo":"photos/absent.jpg")") + "," + Message(2, R"(,"photo":"photos/corrupt.jpg")") +
              "," + Message(3, R"(,"file":"photos/huge.png","mime_type":"image/png")") + "," +
              Message(4, R"(,"photo":"photos/ok.jpg")") + "," + Message(4, R"(,"photo":"photos/ok.jpg")") + "," +
              Message(5, R"j(,"file":"(File exceeds maximum size. Change data exporting settings to download.)")j") +
              "," + Message(6, R"j(,"photo":"(File unavailable, please try again later)")j"));
  const RunResult r = Scan();
  EXPECT_EQ(r.exit_code, 1) << r.err;  // unreadable files make the run "partly failed"
  const json report = Report();
  EXPECT_EQ(MessageIds(report["matches"]), (std::set<std::int64_t>{4}));
  EXPECT_EQ(report["matches"].size(), 2U * 2U);  // both copies of message 4: pdq and sha256 each
  EXPECT_EQ(MessageIds(report["missing"]), (std::set<std::int64_t>{1, 5, 6}));
  EXPECT_EQ(MessageIds(report["failures"]), (std::set<std::int64_t>{2, 3}));
  std::set<std::string> codes;
  for (const json& f : report["failures"]) codes.insert(f["code"].get<std::string>());
  EXPECT_TRUE(codes.count("too_large")) << report["failures"].dump(1);
  EXPECT_NE(r.err.find("message id 4 appears more than once"), std::string::npos) << r.err;
}

TEST_F(HostileExportTest, ChatTextIsEscapedInTheHtmlReport) {
  const std::string evil =
      R"(<script>document.body.setAttribute('data-pwned','1')</script><img src=x onerror=\"document.body.setAttribute('data-pwned','2')\">)";
  WriteExport(R"({"id":7,"type":"message","date":"2024-01-01T00:00:00","date_unixtime":"1704067200","from":")" + evil +
              R"(","from_id":"user9","photo":"photos/ok.jpg","text":")" + evil + R"("})");
  const RunResult r = Scan();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = ReadFile(dir_.path() / "out/report.html");
  EXPECT_EQ(html.find("<script>document.body"), std::string::npos);
  EXPECT_EQ(html.find("<img src=x"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;document.body.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)"), std::string::npos);
  // In a real browser: nothing injected runs.
  const RunResult which = RunShell("command -v chromium", dir_.path());
  if (which.exit_code != 0) GTEST_SKIP() << "chromium is not installed: the browser check is skipped";
  const RunResult dom =
      RunShell("timeout 60 chromium --headless --disable-gpu --no-sandbox --dump-dom " +
                   takeback::testing::ShellQuote("file://" + (dir_.path() / "out/report.html").string()),
               dir_.path());
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  EXPECT_NE(dom.out.find("Takeback scan report"), std::string::npos);
  // The text is there, as text; had a script run, <body> would carry the attribute.
  EXPECT_NE(dom.out.find("&lt;script&gt;document.body.setAttribute('data-pwned','1')"), std::string::npos);
  EXPECT_EQ(dom.out.find("data-pwned=\""), std::string::npos) << "injected script ran";
  EXPECT_EQ(dom.out.find("<img src=\"x\""), std::string::npos);
  // The report's own script did run (the CSP hash allows it): clicking works.
  EXPECT_NE(dom.out.find("class=\"blur\""), std::string::npos);
}

TEST(ScanCliTest, UsageErrors) {
  TempDir dir("scan_usage");
  RunResult r = Takeback(dir, {"scan", "somewhere"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("say where the signals come from: --signals FILE"), std::string::npos) << r.err;
  WriteFile(dir.path() / "bad.json",
            "{\"format\":\"takeback-signals\",\"version\":1,\"signals\":[{\"type\":\"md5\"}]}");
  r = Takeback(dir, {"scan", "--signals", (dir.path() / "bad.json").string(), "."});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("signal 0"), std::string::npos) << r.err;
  r = Takeback(dir, {"register", "x.jpg"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--out FILE"), std::string::npos) << r.err;
  r = Takeback(dir, {"scan", "--signals", (dir.path() / "bad.json").string(), "--face-max-pixels", "5", "."});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--face-max-pixels needs"), std::string::npos) << r.err;
  r = Takeback(dir, {"scan", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--preserve DIR"), std::string::npos);
}

}  // namespace

namespace {

TEST(ScanPreserveTest, MatchedItemsGoIntoTheEvidenceLogAndABundleVerifies) {
  if (!fs::exists(kExport / "result.json")) GTEST_SKIP() << "no Telegram test export at " << kExport;
  TempDir dir("scan_preserve");
  const std::string case_file = (dir.path() / "case.json").string();
  ASSERT_EQ(Takeback(dir, {"register", "--no-faces", "--out", case_file, "--case-ref", "case-7",
                           (kTestdata / "pdq/images/bridge-1-original.jpg").string()})
                .exit_code,
            0);
  const std::string evidence = (dir.path() / "evidence").string();
  const std::string key = (dir.path() / "sealing.key").string();
  const RunResult r = Takeback(dir, {"scan", "--signals", case_file, "-o", (dir.path() / "out").string(), "--preserve",
                                     evidence, "--sealing-key", key, "--user", "investigator-1", kExport.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(ReadFile(dir.path() / "out/report.json"));
  const json* rotated = FindMatch(report, 104, "pdq");
  ASSERT_NE(rotated, nullptr);
  ASSERT_TRUE(rotated->contains("evidence_index")) << rotated->dump(1);
  // The log entry says where and when it was seen, and by whom it was captured.
  const RunResult log = Takeback(dir, {"evidence", "log", "--json", "-d", evidence, "--sealing-key", key});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_NE(log.out.find("\"message_id\":\"104\""), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("\"sender_id\":\"user5550101\""), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("\"observed_time\":\"2024-08-20T21:20:44Z\""), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("investigator-1"), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("case-7"), std::string::npos) << log.out;
  // The sealed original exports into a bundle that verifies offline.
  const std::string bundle = (dir.path() / "bundle").string();
  const RunResult exported =
      Takeback(dir, {"evidence", "export", "--case", "case-7", bundle, "-d", evidence, "--sealing-key", key});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const RunResult verified = Takeback(dir, {"evidence", "verify", bundle});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

TEST(ScanFolderTest, FolderScanFindsCopiesByContent) {
  if (!fs::exists(kTestdata / "pdq/images/bridge-5-flipx.jpg")) GTEST_SKIP() << "no test data";
  TempDir dir("scan_folder");
  const std::string case_file = (dir.path() / "case.json").string();
  ASSERT_EQ(Takeback(dir, {"register", "--no-faces", "--out", case_file,
                           (kTestdata / "pdq/images/bridge-1-original.jpg").string()})
                .exit_code,
            0);
  fs::create_directories(dir.path() / "disk/sub");
  fs::copy_file(kTestdata / "pdq/images/bridge-5-flipx.jpg", dir.path() / "disk/sub/IMG_0001.dat");
  fs::copy_file(kTestdata / "pdq/images/q0003.jpg", dir.path() / "disk/other.jpg");
  WriteFile(dir.path() / "disk/notes.txt", "not an image");
  const RunResult r = Takeback(
      dir, {"scan", "--signals", case_file, "-o", (dir.path() / "out").string(), (dir.path() / "disk").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // notes.txt is unreadable as media
  const json report = json::parse(ReadFile(dir.path() / "out/report.json"));
  ASSERT_EQ(report["matches"].size(), 1U) << report["matches"].dump(1);
  EXPECT_EQ(report["matches"][0]["variant"], "flipx");
  EXPECT_NE(report["matches"][0]["file"]["path"].get<std::string>().find("IMG_0001.dat"), std::string::npos);
  EXPECT_EQ(report["summary"]["files_hashed"], 3);
  EXPECT_EQ(report["failures"].size(), 1U);
}

}  // namespace
