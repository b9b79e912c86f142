// `takeback scan --server` and `takeback scan --db` (issue 6): the real
// `takeback serve` on loopback with a temporary SQLite file, a case opened
// with the real `takeback register --server`, its signals approved by a
// caseworker, then the real `takeback scan` on ../shared/testdata/telegram
// reading the case's signals from the server or from the store file. Also:
// withdrawal, bad keys and roles, unknown cases, an unreachable server and a
// server that answers garbage, the audit log, and the two scan endpoints'
// responses checked against docs/api/openapi.yaml.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "integration/server_test_support.h"
#include "support/process.h"

namespace takeback::testing {
namespace {

namespace fs = std::filesystem;

const std::string kBin = TAKEBACK_BIN;
const std::string kSpecPath = std::string(TAKEBACK_SOURCE_DIR) + "/docs/api/openapi.yaml";
const fs::path kTestdata = TAKEBACK_TESTDATA_DIR;
const fs::path kModels = TAKEBACK_MODEL_DIR;
const fs::path kExport = kTestdata / "telegram/ChatExport_2024-08-21";

bool HaveInputs() {
  return fs::exists(kExport / "result.json") && fs::exists(kTestdata / "face/swap-donor-B.jpg") &&
         fs::exists(kModels / "face_recognition_model-weights_manifest.json");
}

// The value after "label:" on a line of `text` ("" when absent).
std::string LineValue(const std::string& text, const std::string& label) {
  const std::size_t at = text.find(label);
  if (at == std::string::npos) return "";
  std::size_t begin = at + label.size();
  while (begin < text.size() && text[begin] == ' ') ++begin;
  return text.substr(begin, text.find('\n', begin) - begin);
}

const Json* FindMatch(const Json& report, std::int64_t message, const std::string& type) {
  for (const Json& m : report["matches"]) {
    if (m["source"].value("message_id", -1) == message && m["signal"]["type"] == type) return &m;
  }
  return nullptr;
}

std::set<std::int64_t> MatchedMessages(const Json& report) {
  std::set<std::int64_t> ids;
  for (const Json& m : report["matches"]) ids.insert(m["source"]["message_id"].get<std::int64_t>());
  return ids;
}

// A loopback "server" that answers every request with 200 and a body that
// is not JSON, as a proxy's error page or a wrong --server would.
class GarbageServer {
 public:
  explicit GarbageServer(std::string status = "200 OK", std::string type = "text/html",
                         std::string body = "<html><body>Welcome to nginx!</body></html>")
      : status_(std::move(status)), type_(std::move(type)), body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        char buf[4096];
        (void)::recv(c, buf, sizeof buf, 0);
        const std::string reply = "HTTP/1.1 " + status_ + "\r\nContent-Type: " + type_ +
                                  "\r\nConnection: close\r\nContent-Length: " + std::to_string(body_.size()) +
                                  "\r\n\r\n" + body_;
        (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~GarbageServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  std::string status_, type_, body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class ScanServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!HaveInputs()) return;
    dir_ = new TempDir("takeback_scan_server");
    spec_ = new OpenApi(kSpecPath);
    server_ = new ServerProcess();
    const std::string db = *dir_ / "takeback.db";
    RunResult init = RunShell(TimedCommand(60, kBin, {"serve", "--db", db, "--init-admin"}), dir_->path());
    ASSERT_EQ(init.exit_code, 0) << init.err;
    std::string admin = init.out;
    while (!admin.empty() && admin.back() == '\n') admin.pop_back();
    ASSERT_TRUE(
        server_->Start(kBin, {"--db", db, "--listen", "127.0.0.1:0", "--victim-rate", "100000"}, *dir_ / "server.log"))
        << server_->error();
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    keys_["admin"] = admin;
    for (const char* role : {"caseworker", "platform", "investigator", "flagger"}) {
      HttpResult r = Http(server_->port(), "POST", "/v1/keys", Json{{"role", role}}.dump(),
                          {{"Authorization", "Bearer " + admin}});
      ASSERT_EQ(r.status, 201) << r.body;
      keys_[role] = r.json()["key"].get<std::string>();
    }
    // Case A, the must-show case: her face, the bridge photo and the chair
    // video, her name and phone number; registered as a victim would.
    Register({"--watch-term", "김지은", "--watch-term", "01012345678", (kTestdata / "face/swap-donor-B.jpg").string(),
              (kTestdata / "pdq/images/bridge-1-original.jpg").string(),
              (kTestdata / "vpdq/videos/chair-orig-22-sd-bar.mp4").string()},
             &case_a_, &pin_a_);
    // Case B: the bridge photo only (hashes), to be withdrawn by a test.
    Register({"--no-faces", "--watch-term", "minsu", (kTestdata / "pdq/images/bridge-1-original.jpg").string()},
             &case_b_, &pin_b_);
    ApproveAllPending();
  }

  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(), 0) << server_->ReadLog();
    }
    delete server_;
    delete spec_;
    delete dir_;
    server_ = nullptr;
    spec_ = nullptr;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (!HaveInputs()) {
      GTEST_SKIP() << "needs the Telegram test export and face data in " << kTestdata << " and the face models in "
                   << kModels << " (scripts/fetch-models)";
    }
    ASSERT_NE(server_, nullptr);
    ASSERT_FALSE(case_a_.empty());
  }

  static void Register(std::vector<std::string> files, std::string* number, std::string* pin) {
    std::vector<std::string> args = {"register", "--server", url_};
    args.insert(args.end(), files.begin(), files.end());
    const RunResult r = Takeback(args, 180);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    *number = LineValue(r.out, "case number:");
    *pin = LineValue(r.out, "PIN:");
    ASSERT_EQ(number->rfind("TB-", 0), 0U) << r.out;
    ASSERT_FALSE(pin->empty()) << r.out;
  }

  static void ApproveAllPending() {
    const std::string cw = "Bearer " + keys_["caseworker"];
    HttpResult pending = Http(server_->port(), "GET", "/v1/signals/pending?limit=1000", "", {{"Authorization", cw}});
    ASSERT_EQ(pending.status, 200) << pending.body;
    const Json list = pending.json();  // (a temporary's element would not outlive the loop's first line)
    ASSERT_FALSE(list["signals"].empty());
    for (const Json& s : list["signals"]) {
      const HttpResult d =
          Http(server_->port(), "POST", "/v1/signals/" + std::to_string(s["id"].get<std::int64_t>()) + "/decision",
               R"({"decision":"approve"})", {{"Authorization", cw}});
      ASSERT_EQ(d.status, 200) << d.body;
    }
  }

  static RunResult Takeback(const std::vector<std::string>& args, int timeout = 120, const std::string& env = "") {
    return RunShell("env -u TAKEBACK_API_KEY TAKEBACK_MODEL_DIR=" + ShellQuote(kModels.string()) + " " + env + " " +
                        TimedCommand(timeout, kBin, args),
                    dir_->path());
  }

  // `takeback scan` with `source_args`, writing into a fresh folder; the
  // parsed report, or null when none was written.
  static Json Scan(const std::string& name, const std::vector<std::string>& source_args, RunResult* result,
                   bool faces = false, const std::string& env = "") {
    const std::string out = *dir_ / name;
    std::vector<std::string> args = {"scan", "-o", out, "-j", "2", "--json"};
    if (!faces) args.push_back("--no-faces");
    args.insert(args.end(), source_args.begin(), source_args.end());
    args.push_back(kExport.string());
    *result = Takeback(args, 300, env);
    if (!fs::exists(out + "/report.json")) return Json();
    return Json::parse(ReadFile(out + "/report.json"), nullptr, false);
  }

  static HttpResult Get(const std::string& path, const std::string& role) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!role.empty()) headers.emplace_back("Authorization", "Bearer " + keys_[role]);
    HttpResult r = Http(server_->port(), "GET", path, "", headers);
    EXPECT_EQ(spec_->Check("GET", path, r), "") << path << " -> " << r.status << " " << r.body.substr(0, 300);
    return r;
  }

  static Json Audit() {
    HttpResult r =
        Http(server_->port(), "GET", "/v1/audit?limit=1000", "", {{"Authorization", "Bearer " + keys_["admin"]}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }

  static inline TempDir* dir_ = nullptr;
  static inline OpenApi* spec_ = nullptr;
  static inline ServerProcess* server_ = nullptr;
  static inline std::string url_;
  static inline std::map<std::string, std::string> keys_;
  static inline std::string case_a_, pin_a_, case_b_, pin_b_;
};

// The must-show findings (as the --signals test in scan_integration_test),
// with the case's signals read from the server by an investigator.
TEST_F(ScanServerTest, FindsTheCaseWithSignalsFromTheServer) {
  RunResult r;
  const Json report = Scan("server", {"--server", url_, "--case", case_a_}, &r, /*faces=*/true,
                           "TAKEBACK_API_KEY=" + keys_["investigator"]);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(report.is_object()) << r.err;
  const Json summary = Json::parse(r.out);
  EXPECT_EQ(summary["messages"], 7);
  ASSERT_EQ(report["cases"].size(), 1U);
  EXPECT_EQ(report["cases"][0]["case_number"], case_a_);
  EXPECT_EQ(report["cases"][0]["watch_terms"], (Json{"김지은", "01012345678"}));
  EXPECT_GE(report["cases"][0]["signals"].get<int>(), 7);  // pdq, md5, sha256, face; vpdq, md5, sha256

  const Json* face = FindMatch(report, 102, "face");
  ASSERT_NE(face, nullptr) << report["matches"].dump(1);
  EXPECT_TRUE((*face)["review_required"].get<bool>());
  EXPECT_LE((*face)["distance"].get<double>(), 0.5);
  const Json* rotated = FindMatch(report, 104, "pdq");
  ASSERT_NE(rotated, nullptr) << report["matches"].dump(1);
  EXPECT_NE((*rotated)["variant"], "orig");
  EXPECT_LE((*rotated)["distance"].get<int>(), 31);
  const Json* video = FindMatch(report, 105, "vpdq");
  ASSERT_NE(video, nullptr) << report["matches"].dump(1);
  EXPECT_EQ(MatchedMessages(report), (std::set<std::int64_t>{102, 104, 105}));
  // Every match names the case number and the signal's id on the server, and
  // that id is the signal of that type on the server.
  for (const Json& m : report["matches"]) {
    EXPECT_EQ(m["case_number"], case_a_);
    ASSERT_TRUE(m["signal"]["id"].is_number_integer()) << m.dump();
    HttpResult s = Get("/v1/signals/" + std::to_string(m["signal"]["id"].get<std::int64_t>()), "investigator");
    ASSERT_EQ(s.status, 200) << s.body;
    EXPECT_EQ(s.json()["signal"]["type"], m["signal"]["type"]);
    EXPECT_EQ(s.json()["state"], "active");
  }
  std::set<std::string> dox;
  for (const Json& d : report["doxxing"]) {
    EXPECT_EQ(d["source"]["message_id"], 103);
    EXPECT_EQ(d["case_ref"], case_a_);
    dox.insert(d["kind"].get<std::string>() + ":" + d["term"].get<std::string>());
  }
  EXPECT_EQ(dox, (std::set<std::string>{"text:김지은", "phone:01012345678"}));
  ASSERT_EQ(report["missing"].size(), 1U);
  EXPECT_EQ(report["missing"][0]["source"]["message_id"], 106);
  // The download showed progress as JSON events.
  EXPECT_NE(r.err.find(R"("event":"signals")"), std::string::npos) << r.err;
  // The read is in the server's audit log, with the investigator's key.
  bool audited = false;
  const Json audit = Audit();
  for (const Json& e : audit["entries"]) {
    audited |= e["action"] == "signals.read" && e["actor"].get<std::string>().rfind("key:", 0) == 0 &&
               e["object"].get<std::string>().rfind("case:", 0) == 0;
  }
  EXPECT_TRUE(audited) << audit.dump(1);
}

// Offline: the same case read from the store file the server uses.
TEST_F(ScanServerTest, ReadsTheStoreFileOffline) {
  RunResult r;
  const Json report = Scan("db", {"--db", *dir_ / "takeback.db", "--case", case_a_, "--user", "inspector-lee"}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(report.is_object()) << r.err;
  // Without faces: the rotated copy and the video, and the doxxing message.
  EXPECT_EQ(MatchedMessages(report), (std::set<std::int64_t>{104, 105}));
  for (const Json& m : report["matches"]) {
    EXPECT_EQ(m["case_number"], case_a_);
    EXPECT_TRUE(m["signal"]["id"].is_number_integer());
  }
  EXPECT_EQ(report["doxxing"].size(), 2U);
  bool audited = false;
  const Json audit = Audit();
  for (const Json& e : audit["entries"]) {
    audited |= e["action"] == "signals.read" && e["actor"] == "local:inspector-lee";
  }
  EXPECT_TRUE(audited);
  // A store file that does not exist is not created.
  const RunResult missing =
      Takeback({"scan", "--db", *dir_ / "nope.db", "--case", case_a_, "-o", *dir_ / "x", kExport.string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no case store at"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(*dir_ / "nope.db"));
  const RunResult unknown =
      Takeback({"scan", "--db", *dir_ / "takeback.db", "--case", "TB-0000-0000", "-o", *dir_ / "x", kExport.string()});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no case TB-0000-0000"), std::string::npos) << unknown.err;
}

// A withdrawn case no longer matches, and its watch terms are not searched.
TEST_F(ScanServerTest, WithdrawnCaseNoLongerMatches) {
  const std::string key = "TAKEBACK_API_KEY=" + keys_["investigator"];
  RunResult before;
  const Json b = Scan("before", {"--server", url_, "--case", case_b_}, &before, false, key);
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(MatchedMessages(b), (std::set<std::int64_t>{104}));
  bool found_term = false;
  for (const Json& d : b["doxxing"]) found_term |= d["term"] == "minsu";
  EXPECT_TRUE(found_term) << b["doxxing"].dump(1);
  EXPECT_EQ(Get("/v1/scan/sources?case=" + case_b_, "investigator").json()["sources"][0]["watch_terms"], Json{"minsu"});

  const HttpResult w = Http(server_->port(), "DELETE", "/v1/cases/" + case_b_, "", {{"X-Case-Pin", pin_b_}});
  ASSERT_EQ(w.status, 200) << w.body;

  const HttpResult page = Get("/v1/scan/signals?case=" + case_b_, "investigator");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.json()["source"]["status"], "withdrawn");
  EXPECT_TRUE(page.json()["signals"].empty());
  EXPECT_TRUE(page.json()["source"]["watch_terms"].empty()) << "a withdrawn case's watch terms are not given out";

  // Alone, it leaves nothing to look for.
  RunResult alone;
  Scan("alone", {"--server", url_, "--case", case_b_}, &alone, false, key);
  EXPECT_EQ(alone.exit_code, 2);
  EXPECT_NE(alone.err.find("case " + case_b_ + " is withdrawn"), std::string::npos) << alone.err;
  EXPECT_NE(alone.err.find("nothing to look for"), std::string::npos) << alone.err;
  // Beside case A, every match is case A's.
  RunResult both;
  const Json after = Scan("after", {"--server", url_, "--case", case_b_, "--case", case_a_}, &both, false, key);
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(MatchedMessages(after), (std::set<std::int64_t>{104, 105}));
  for (const Json& m : after["matches"]) EXPECT_EQ(m["case_number"], case_a_) << m.dump();
  for (const Json& d : after["doxxing"]) EXPECT_EQ(d["case_ref"], case_a_) << d.dump();
  EXPECT_NE(both.err.find("is withdrawn"), std::string::npos) << both.err;
}

// Wrong key, wrong role, unknown case, no key, an unreachable server and one
// that answers garbage: exit status 2 and one line saying what to do.
TEST_F(ScanServerTest, ServerErrorsAreOneClearLine) {
  const auto expect_error = [&](const std::vector<std::string>& args, const std::string& env, const std::string& says) {
    RunResult r;
    std::vector<std::string> full = {"scan", "--no-faces", "-o", *dir_ / "errors"};
    full.insert(full.end(), args.begin(), args.end());
    full.push_back(kExport.string());
    r = Takeback(full, 60, env);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    std::size_t lines = 0;
    for (char c : r.err) lines += c == '\n';
    EXPECT_EQ(lines, 1U) << r.err;
  };
  expect_error({"--server", url_, "--case", case_a_}, "TAKEBACK_API_KEY=tbk_NOTAKEY", "refused the API key");
  expect_error({"--server", url_, "--case", case_a_}, "TAKEBACK_API_KEY=" + keys_["platform"], "investigator key");
  expect_error({"--server", url_, "--case", case_a_, "--key", keys_["flagger"]}, "", "HTTP 403");
  expect_error({"--server", url_, "--case", "TB-0000-0000"}, "TAKEBACK_API_KEY=" + keys_["investigator"],
               "no case TB-0000-0000");
  expect_error({"--server", url_}, "", "needs an API key");
  // A port nothing listens on: bind one, then close it.
  int closed_port = 0;
  {
    GarbageServer probe;
    closed_port = probe.port();
  }
  expect_error({"--server", "http://127.0.0.1:" + std::to_string(closed_port), "--case", case_a_},
               "TAKEBACK_API_KEY=" + keys_["investigator"], "cannot reach the server");
  GarbageServer garbage;
  ASSERT_NE(garbage.port(), 0);
  expect_error({"--server", "http://127.0.0.1:" + std::to_string(garbage.port()), "--case", case_a_},
               "TAKEBACK_API_KEY=" + keys_["investigator"], "is not JSON");
  // A Takeback server without the scan endpoints (an older version).
  GarbageServer old("404 Not Found", "application/json",
                    R"({"error":{"code":"not_found","message":"no endpoint GET /v1/scan/sources"}})");
  expect_error({"--server", "http://127.0.0.1:" + std::to_string(old.port()), "--case", case_a_},
               "TAKEBACK_API_KEY=" + keys_["investigator"], "has no scan endpoint");
  // A command-line mistake is a usage error (with the usage lines).
  const RunResult usage = Takeback({"scan", "--case", case_a_, "--signals", "x.json", kExport.string()});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("--case and --bank choose what to read from --server or --db"), std::string::npos)
      << usage.err;
}

// With no --case, every bank is read, and each bank's signals match by the
// bank's own rule: the same bridge hash in a bank with the default radius
// finds the rotated copy (104); in a bank with radius 0 it does not.
TEST_F(ScanServerTest, BanksMatchByTheirOwnRule) {
  const RunResult hashed = Takeback({"hash", (kTestdata / "pdq/images/bridge-1-original.jpg").string()});
  ASSERT_EQ(hashed.exit_code, 0) << hashed.err;
  const std::string pdq = hashed.out.substr(0, 64);
  const auto make_bank = [&](const std::string& name, int radius) {
    const HttpResult b =
        Http(server_->port(), "POST", "/v1/banks",
             Json{{"name", name}, {"review_policy", "auto_approve"}, {"pdq_max_distance", radius}}.dump(),
             {{"Authorization", "Bearer " + keys_["admin"]}});
    EXPECT_EQ(b.status, 201) << b.body;
    const std::int64_t id = b.json().value("id", std::int64_t{0});
    const HttpResult added =
        Http(server_->port(), "POST", "/v1/banks/" + std::to_string(id) + "/signals",
             Json{{"signals", {{{"type", "pdq"}, {"hash", pdq}, {"quality", 100}, {"label", "bridge"}}}}}.dump(),
             {{"Authorization", "Bearer " + keys_["caseworker"]}});
    EXPECT_EQ(added.status, 201) << added.body;
  };
  make_bank("loose-bank", 31);
  make_bank("strict-bank", 0);

  RunResult r;
  const Json report = Scan("banks", {"--server", url_}, &r, false, "TAKEBACK_API_KEY=" + keys_["investigator"]);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> banks;
  for (const Json& c : report["cases"]) banks.insert(c.value("bank", ""));
  EXPECT_TRUE(banks.count("loose-bank") == 1 && banks.count("strict-bank") == 1 && banks.count("reports") == 1)
      << report["cases"].dump();
  ASSERT_EQ(report["matches"].size(), 1U) << report["matches"].dump(1);
  const Json& m = report["matches"][0];
  EXPECT_EQ(m["source"]["message_id"], 104);
  EXPECT_EQ(m["bank"], "loose-bank");
  EXPECT_GT(m["distance"].get<double>(), 0) << "a re-encoded, rotated copy; radius 0 must not reach it";
  EXPECT_TRUE(m["signal"]["id"].is_number_integer());
  // The same from the store file, choosing the banks by name.
  RunResult local;
  const Json offline =
      Scan("banks-db", {"--db", *dir_ / "takeback.db", "--bank", "strict-bank", "--bank", "loose-bank"}, &local);
  ASSERT_EQ(local.exit_code, 0) << local.err;
  ASSERT_EQ(offline["matches"].size(), 1U) << offline["matches"].dump(1);
  EXPECT_EQ(offline["matches"][0]["bank"], "loose-bank");
  EXPECT_EQ(offline["matches"][0]["signal"]["id"], m["signal"]["id"]);
}

// The endpoints: roles, errors, paging, banks, and the OpenAPI spec.
TEST_F(ScanServerTest, ScanEndpointsFollowTheSpec) {
  for (const std::string role : {"investigator", "caseworker", "admin"}) {
    const HttpResult r = Get("/v1/scan/sources?case=" + case_a_, role);
    ASSERT_EQ(r.status, 200) << role << " " << r.body;
    EXPECT_EQ(r.json()["sources"][0]["name"], case_a_);
    EXPECT_EQ(r.json()["sources"][0]["watch_terms"].size(), 2U);
  }
  for (const std::string role : {"platform", "flagger"}) {
    EXPECT_EQ(Get("/v1/scan/sources?case=" + case_a_, role).status, 403) << role;
    EXPECT_EQ(Get("/v1/scan/signals?case=" + case_a_, role).status, 403) << role;
  }
  EXPECT_EQ(Get("/v1/scan/signals?case=" + case_a_, "").status, 401);
  EXPECT_EQ(Get("/v1/scan/sources?case=TB-0000-0000", "investigator").status, 404);
  EXPECT_EQ(Get("/v1/scan/signals?case=TB-0000-0000", "investigator").status, 404);
  EXPECT_EQ(Get("/v1/scan/signals", "investigator").status, 400);
  EXPECT_EQ(Get("/v1/scan/signals?case=" + case_a_ + "&bank=1", "investigator").status, 400);
  EXPECT_EQ(Get("/v1/scan/signals?case=" + case_a_ + "&limit=0", "investigator").status, 400);
  // Paging two at a time gives every active signal once, by id.
  std::vector<std::int64_t> ids;
  std::int64_t after = 0;
  for (int pages = 0; pages < 100; ++pages) {
    const HttpResult r =
        Get("/v1/scan/signals?case=" + case_a_ + "&limit=2&after=" + std::to_string(after), "investigator");
    ASSERT_EQ(r.status, 200) << r.body;
    const Json page = r.json();
    for (const Json& s : page["signals"]) ids.push_back(s["id"].get<std::int64_t>());
    after = page["next_after"].get<std::int64_t>();
    if (!page["more"].get<bool>()) break;
  }
  EXPECT_GE(ids.size(), 7U);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), ids.size());
  // With no case and no bank: every bank (the flaggers' "reports" bank exists from the start).
  const HttpResult banks = Get("/v1/scan/sources", "investigator");
  ASSERT_EQ(banks.status, 200) << banks.body;
  ASSERT_FALSE(banks.json()["sources"].empty());
  EXPECT_EQ(banks.json()["sources"][0]["kind"], "bank");
  EXPECT_EQ(Get("/v1/scan/sources?bank=reports", "investigator").json()["sources"][0]["id"], 1);
  EXPECT_EQ(Get("/v1/scan/signals?bank=1", "investigator").status, 200);
  EXPECT_EQ(Get("/v1/scan/sources?bank=no-such-bank", "investigator").status, 404);
}

}  // namespace
}  // namespace takeback::testing
