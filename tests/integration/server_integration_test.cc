// The real `takeback serve` on loopback with a temporary SQLite file
// (issue 4): every endpoint and role, bad input of every kind, the victim's
// case from creation to withdrawal, reviews, reports, banks, the delta feed,
// kill -9 durability, and every response checked against docs/api/openapi.yaml.
#include <atomic>
#include <mutex>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "integration/server_test_support.h"
#include "support/process.h"

namespace takeback::testing {
namespace {

const std::string kBin = TAKEBACK_BIN;
const std::string kSpecPath = std::string(TAKEBACK_SOURCE_DIR) + "/docs/api/openapi.yaml";

std::string RandomPdq(std::mt19937_64& rng) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 64; ++i) s += hex[rng() % 16];
  return s;
}

// Flips `bits` distinct bits of a hex PDQ hash.
std::string FlipBits(std::string h, int bits) {
  for (int i = 0; i < bits; ++i) {
    const std::size_t digit = static_cast<std::size_t>(i * 3 % 64);
    const int v = std::stoi(h.substr(digit, 1), nullptr, 16) ^ (1 << (i % 4));
    h[digit] = "0123456789abcdef"[v];
  }
  return h;
}

int Distance(const std::string& a, const std::string& b) {
  int d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += __builtin_popcount(
        static_cast<unsigned>(std::stoi(a.substr(i, 1), nullptr, 16) ^ std::stoi(b.substr(i, 1), nullptr, 16)));
  }
  return d;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("takeback_server");
    spec_ = new OpenApi(kSpecPath);
    server_ = new ServerProcess();
    admin_ = InitAdmin(*dir_ / "main.db");
    ASSERT_FALSE(admin_.empty());
    ASSERT_TRUE(server_->Start(kBin, {"--db", *dir_ / "main.db", "--listen", "127.0.0.1:0", "--victim-rate", "100000"},
                               *dir_ / "main.log"))
        << server_->error();
    for (const char* role : {"caseworker", "platform", "investigator", "flagger"}) {
      HttpResult r = Call("POST", "/v1/keys", Json{{"role", role}, {"label", role}}.dump(), admin_);
      ASSERT_EQ(r.status, 201) << r.body;
      keys_[role] = r.json()["key"].get<std::string>();
    }
    keys_["admin"] = admin_;
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(), 0) << server_->ReadLog();
    }
    delete server_;
    delete spec_;
    delete dir_;
    server_ = nullptr;
  }

  static std::string InitAdmin(const std::string& db) {
    RunResult r = RunShell(TimedCommand(60, kBin, {"serve", "--db", db, "--init-admin"}), dir_->path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("shown only this once"), std::string::npos) << r.err;
    std::string key = r.out;
    while (!key.empty() && key.back() == '\n') key.pop_back();
    return key;
  }

  // A request to the suite's server, its response checked against the spec.
  static HttpResult Call(const std::string& method, const std::string& path, const std::string& body = "",
                         const std::string& key = "", std::vector<std::pair<std::string, std::string>> headers = {},
                         int port = 0) {
    if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
    HttpResult r = Http(port == 0 ? server_->port() : port, method, path, body, headers);
    const std::string problem = spec_->Check(method, path, r);
    EXPECT_EQ(problem, "") << method << " " << path << " -> " << r.status << " " << r.body.substr(0, 300);
    if (r.status >= 400) {
      ExpectJsonError(r);
    }
    return r;
  }

  static void ExpectJsonError(const HttpResult& r) {
    const Json j = r.json();
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r.status << " " << r.body.substr(0, 300);
    EXPECT_TRUE(j["error"]["code"].is_string());
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }

  static Json PdqSignal(const std::string& hex, int quality = 100) {
    return {{"type", "pdq"}, {"hash", hex}, {"quality", quality}};
  }

  // Opens a case with these signals; returns (number, pin).
  static std::pair<std::string, std::string> OpenCase(const Json& signals, int port = 0) {
    HttpResult r =
        Call("POST", "/v1/cases", Json{{"signals", signals}, {"watch_terms", {"Kim Ji-eun"}}}.dump(), "", {}, port);
    EXPECT_EQ(r.status, 201) << r.body;
    const Json j = r.json();
    return {j.value("case_number", ""), j.value("pin", "")};
  }

  static Json Match(const Json& body, const std::string& role = "platform") {
    HttpResult r = Call("POST", "/v1/match", body.dump(), keys_[role]);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }

  // Approves every pending signal (as the caseworker).
  static void ApproveAllPending() {
    HttpResult list = Call("GET", "/v1/signals/pending?limit=1000", "", keys_["caseworker"]);
    ASSERT_EQ(list.status, 200) << list.body;
    const Json list_json = list.json();  // keep the document alive for the loop
    for (const Json& s : list_json["signals"]) {
      HttpResult d = Call("POST", "/v1/signals/" + std::to_string(s["id"].get<std::int64_t>()) + "/decision",
                          R"({"decision":"approve"})", keys_["caseworker"]);
      ASSERT_EQ(d.status, 200) << d.body;
      EXPECT_EQ(d.json()["state"], "active");
    }
  }

  static TempDir* dir_;
  static OpenApi* spec_;
  static ServerProcess* server_;
  static std::string admin_;
  static std::map<std::string, std::string> keys_;
};

TempDir* ServerTest::dir_ = nullptr;
OpenApi* ServerTest::spec_ = nullptr;
ServerProcess* ServerTest::server_ = nullptr;
std::string ServerTest::admin_;
std::map<std::string, std::string> ServerTest::keys_;

TEST_F(ServerTest, HealthAndMetricsNeedNoKey) {
  HttpResult h = Call("GET", "/healthz");
  ASSERT_EQ(h.status, 200);
  EXPECT_EQ(h.json()["status"], "ok");
  HttpResult m = Call("GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.headers["content-type"].find("text/plain"), std::string::npos);
  EXPECT_NE(m.body.find("takeback_http_requests_total{route=\"/healthz\",status=\"200\"}"), std::string::npos);
  EXPECT_NE(m.body.find("takeback_index_signals{type=\"pdq\"}"), std::string::npos);
  EXPECT_NE(m.body.find("takeback_http_request_duration_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
}

// Every keyed endpoint: 401 without a key, 401 with a bad one, 403 with each
// role it does not allow, and not 401/403 with each role it allows.
TEST_F(ServerTest, EveryEndpointRefusesMissingKeysAndWrongRoles) {
  struct Endpoint {
    std::string method, path, body;
    std::set<std::string> roles;
  };
  const std::string pdq = PdqSignal(std::string(64, 'a')).dump();
  const std::vector<Endpoint> endpoints = {
      {"POST", "/v1/match", pdq, {"platform", "investigator", "caseworker", "admin"}},
      {"GET", "/v1/signals/delta?since=0", "", {"platform", "admin"}},
      {"POST", "/v1/feedback", R"({"match_id":999999,"verdict":"removed"})", {"platform", "admin"}},
      {"POST", "/v1/reports", R"({"category":"ncii","signals":[)" + pdq + "]}", {"flagger", "admin"}},
      {"GET", "/v1/reports", "", {"caseworker", "admin"}},
      {"POST", "/v1/reports/999999/decision", R"({"decision":"approve"})", {"caseworker", "admin"}},
      {"GET", "/v1/signals/pending", "", {"caseworker", "admin"}},
      {"GET", "/v1/signals/999999", "", {"caseworker", "admin", "investigator"}},
      {"POST", "/v1/signals/999999/decision", R"({"decision":"reject"})", {"caseworker", "admin"}},
      {"POST", "/v1/banks", R"({"name":"roles-bank-)", {"admin"}},
      {"GET", "/v1/banks", "", {"admin", "caseworker"}},
      {"POST", "/v1/banks/999999/signals", R"({"signals":[)" + pdq + "]}", {"caseworker", "admin"}},
      {"POST", "/v1/organisations", R"({"name":"roles-org-)", {"admin"}},
      {"GET", "/v1/organisations", "", {"admin"}},
      {"POST", "/v1/keys", R"({"role":"platform"})", {"admin"}},
      {"GET", "/v1/keys", "", {"admin"}},
      {"DELETE", "/v1/keys/999999", "", {"admin"}},
      {"GET", "/v1/audit", "", {"admin"}},
  };
  int unique = 0;
  for (const Endpoint& e : endpoints) {
    SCOPED_TRACE(e.method + " " + e.path);
    auto body = [&] {
      // Names must be unique: complete the open ones per call.
      if (e.body.ends_with("-")) return e.body + std::to_string(++unique) + "\"}";
      return e.body;
    };
    HttpResult none = Call(e.method, e.path, body());
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
    EXPECT_EQ(Call(e.method, e.path, body(), "tbk_NOTAREALKEY").status, 401);
    EXPECT_EQ(Call(e.method, e.path, body(), "", {{"Authorization", "Basic dXNlcjpwYXNz"}}).status, 401);
    for (const auto& [role, key] : keys_) {
      const int status = Call(e.method, e.path, body(), key).status;
      if (e.roles.count(role) != 0) {
        EXPECT_NE(status, 401) << role;
        EXPECT_NE(status, 403) << role;
        EXPECT_LT(status, 500) << role;
      } else {
        EXPECT_EQ(status, 403) << role;
      }
    }
  }
}

TEST_F(ServerTest, BadInputGetsA4xxJsonError) {
  const std::string platform = keys_["platform"];
  const std::string admin = keys_["admin"];
  struct Case {
    std::string method, path, body, key;
    int status;
  };
  const std::string deep(100000, '[');
  const std::vector<Case> cases = {
      {"POST", "/v1/match", "{not json", platform, 400},
      {"POST", "/v1/match", "", platform, 400},
      {"POST", "/v1/match", deep, platform, 400},
      {"POST", "/v1/match", "[1,2,3]", platform, 400},
      {"POST", "/v1/match", R"({"signals":"pdq"})", platform, 400},
      {"POST", "/v1/match", R"({"signals":[]})", platform, 400},
      {"POST", "/v1/match", R"({"type":"pdq","hash":12345})", platform, 400},
      {"POST", "/v1/match", R"({"type":"pdq","hash":"xyz"})", platform, 400},
      {"POST", "/v1/match", R"({"type":"pdq","hash":")" + std::string(63, 'a') + "\"}", platform, 400},
      {"POST", "/v1/match", R"({"type":"pdq","hash":")" + std::string(64, 'g') + "\"}", platform, 400},
      {"POST", "/v1/match", R"({"type":"pdq","hash":")" + std::string(64, 'a') + R"(","quality":"high"})", platform,
       400},
      {"POST", "/v1/match", R"({"type":"pdq","hash":")" + std::string(64, 'a') + R"(","quality":101})", platform, 400},
      {"POST", "/v1/match", R"({"type":"md5","hash":")" + std::string(64, 'a') + "\"}", platform, 400},
      {"POST", "/v1/match", R"({"type":"sha1","hash":"aa"})", platform, 400},
      {"POST", "/v1/match", R"({"type":"face","descriptor":[1,2,3]})", platform, 400},
      {"POST", "/v1/match", R"({"type":"vpdq","frames":[{"pdq":"zz","quality":100}]})", platform, 400},
      {"POST", "/v1/match", R"({"type":"vpdq","frames":[]})", platform, 400},
      {"POST", "/v1/cases", "{", "", 400},
      {"POST", "/v1/cases", R"({"watch_terms":"x"})", "", 400},
      {"POST", "/v1/cases", R"({"signals":[{"type":"pdq","hash":")" + std::string(64, 'a') + "\"}]}", "", 400},
      {"GET", "/v1/signals/delta?since=-1", "", platform, 400},
      {"GET", "/v1/signals/delta?since=abc", "", platform, 400},
      {"GET", "/v1/signals/delta?limit=0", "", platform, 400},
      {"POST", "/v1/feedback", R"({"match_id":"7","verdict":"removed"})", platform, 400},
      {"POST", "/v1/feedback", R"({"match_id":7,"verdict":"gone"})", platform, 400},
      {"POST", "/v1/feedback", R"({"match_id":999999,"verdict":"removed"})", platform, 404},
      {"GET", "/v1/signals/999999", "", admin, 404},
      {"GET", "/v1/signals/notanumber", "", admin, 404},
      {"POST", "/v1/signals/999999/decision", R"({"decision":"approve"})", admin, 404},
      {"POST", "/v1/signals/1/decision", R"({"decision":"maybe"})", admin, 400},
      {"POST", "/v1/reports/999999/decision", R"({"decision":"approve"})", admin, 404},
      {"POST", "/v1/banks/999999/signals", R"({"signals":[]})", admin, 404},
      {"POST", "/v1/banks", R"({"name":"x","pdq_max_distance":99})", admin, 400},
      {"POST", "/v1/banks", R"({"name":7})", admin, 400},
      {"POST", "/v1/keys", R"({"role":"superuser"})", admin, 400},
      {"POST", "/v1/keys", R"({"role":"platform","org_id":999999})", admin, 404},
      {"DELETE", "/v1/keys/999999", "", admin, 404},
      {"GET", "/v1/cases/TB-0000-0000", "", "", 401},
      {"GET", "/v1/nothing-here", "", "", 404},
      {"PUT", "/v1/match", "{}", platform, 405},
      {"DELETE", "/v1/match", "", platform, 405},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.substr(0, 80));
    HttpResult r = Call(c.method, c.path, c.body, c.key);
    EXPECT_EQ(r.status, c.status) << r.body;
  }
  // A batch over the limit of 1,000 items.
  Json big = {{"signals", Json::array()}};
  for (int i = 0; i < 1001; ++i) big["signals"].push_back(PdqSignal(std::string(64, 'a')));
  EXPECT_EQ(Call("POST", "/v1/match", big.dump(), platform).status, 413);
  ASSERT_TRUE(server_->Alive());
}

TEST_F(ServerTest, OversizeBodiesMalformedHttpAndSlowClientsNeverCrashIt) {
  const int port = server_->port();
  // 17 MiB body: refused with 413 before the handler.
  const std::string body(17 << 20, 'x');
  HttpResult big = Http(port, "POST", "/v1/match", body, {{"Authorization", "Bearer " + keys_["platform"]}});
  EXPECT_EQ(big.status, 413) << big.body.substr(0, 200);
  ExpectJsonError(big);
  // A Content-Length far larger than the limit, with no body sent.
  HttpResult claimed = RawHttp(port,
                               "POST /v1/match HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                               "99999999999\r\n\r\n");
  EXPECT_EQ(claimed.status, 413);
  // Garbage instead of HTTP, a huge header, a huge request line.
  HttpResult garbage = RawHttp(port, "\x16\x03\x01 this is not http\r\n\r\n");
  EXPECT_TRUE(garbage.status == 400 || garbage.status == 0) << garbage.status;
  HttpResult header = RawHttp(
      port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'a') + "\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(header.status == 0 || header.status >= 400) << header.status;
  HttpResult line = RawHttp(port, "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(line.status == 0 || line.status >= 400) << line.status;
  // A client that sends half a request and stalls is dropped after the read
  // timeout (5 s); meanwhile other clients are served.
  std::thread slow([port] { RawHttp(port, "POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Le", 8000); });
  HttpResult during = Http(port, "GET", "/healthz");
  EXPECT_EQ(during.status, 200);
  slow.join();
  ASSERT_TRUE(server_->Alive());
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

// The victim's whole journey: open a case, get it reviewed, platforms match
// it (also rotated and re-encoded copies), report removals, she sees the
// counts, withdraws, and nothing matches any more; the delta says so.
TEST_F(ServerTest, CaseLifecycleAndWithdrawal) {
  std::mt19937_64 rng(42);
  const std::string a = RandomPdq(rng), b = RandomPdq(rng), rot = RandomPdq(rng);
  const std::string md5 = "0123456789abcdef0123456789abcdef";
  Json signals = {PdqSignal(a), PdqSignal(b), {{"type", "md5"}, {"hash", md5}, {"label", "photo 1"}}};
  auto [number, pin] = OpenCase(signals);
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(pin.size(), 10U);
  const std::vector<std::pair<std::string, std::string>> with_pin = {{"X-Case-Pin", pin}};

  // Pending signals do not act yet.
  Json before = Match({{"signals", {PdqSignal(a), {{"type", "md5"}, {"hash", md5}}}}});
  EXPECT_TRUE(before["results"][0]["matches"].empty());
  EXPECT_TRUE(before["results"][1]["matches"].empty());

  HttpResult status = Call("GET", "/v1/cases/" + number, "", "", with_pin);
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(status.json()["signals"]["pending_review"], 3);
  EXPECT_EQ(status.json()["watch_terms"][0], "Kim Ji-eun");

  HttpResult delta0 = Call("GET", "/v1/signals/delta?since=0&limit=10000", "", keys_["platform"]);
  ASSERT_EQ(delta0.status, 200);
  const std::int64_t since = delta0.json()["next_since"].get<std::int64_t>();

  ApproveAllPending();

  // Exact, near (10 bits) and dihedral (variant 3 carries the registered hash).
  Json dihedral = Json::array();
  for (int i = 0; i < 8; ++i) dihedral.push_back(i == 3 ? b : RandomPdq(rng));
  Json m = Match({{"signals",
                   {PdqSignal(a),
                    PdqSignal(FlipBits(a, 10)),
                    {{"type", "pdq"}, {"hash", dihedral[0]}, {"dihedral", dihedral}},
                    {{"type", "md5"}, {"hash", md5}},
                    PdqSignal(rot)}}});
  ASSERT_EQ(m["results"].size(), 5U);
  ASSERT_EQ(m["results"][0]["matches"].size(), 1U) << m.dump();
  EXPECT_EQ(m["results"][0]["matches"][0]["distance"], 0);
  EXPECT_EQ(m["results"][0]["matches"][0]["source"]["kind"], "case");
  ASSERT_EQ(m["results"][1]["matches"].size(), 1U);
  EXPECT_EQ(m["results"][1]["matches"][0]["distance"].get<double>(), Distance(a, FlipBits(a, 10)));
  ASSERT_EQ(m["results"][2]["matches"].size(), 1U);
  EXPECT_EQ(m["results"][2]["matches"][0]["variant"], "rot270");
  ASSERT_EQ(m["results"][3]["matches"].size(), 1U);
  EXPECT_EQ(m["results"][3]["matches"][0]["type"], "md5");
  EXPECT_TRUE(m["results"][4]["matches"].empty());

  // The platform removes one copy and says so; the victim sees it.
  const std::int64_t match_id = m["results"][0]["matches"][0]["match_id"].get<std::int64_t>();
  HttpResult fb =
      Call("POST", "/v1/feedback", Json{{"match_id", match_id}, {"verdict", "removed"}}.dump(), keys_["platform"]);
  ASSERT_EQ(fb.status, 201) << fb.body;
  status = Call("GET", "/v1/cases/" + number, "", "", with_pin);
  EXPECT_EQ(status.json()["signals"]["active"], 3);
  EXPECT_EQ(status.json()["matches"], 4);
  EXPECT_EQ(status.json()["takedowns"], 1);

  // The delta shows the three adds with their hashes.
  HttpResult delta1 = Call("GET", "/v1/signals/delta?since=" + std::to_string(since), "", keys_["platform"]);
  ASSERT_EQ(delta1.status, 200);
  std::set<std::string> added;
  const Json delta1_json = delta1.json();  // keep the document alive for the loop
  for (const Json& c : delta1_json["changes"]) {
    if (c["op"] == "add") added.insert(c["signal"]["hash"].get<std::string>());
  }
  // (Signals other tests left pending were approved too; ours must be there.)
  for (const std::string& h : {a, b, md5}) EXPECT_EQ(added.count(h), 1U) << h;
  const std::int64_t since2 = delta1.json()["next_since"].get<std::int64_t>();

  // Withdrawal: wrong PIN first (refused), then the right one.
  EXPECT_EQ(Call("DELETE", "/v1/cases/" + number, "", "", {{"X-Case-Pin", "0000000000"}}).status, 401);
  HttpResult w = Call("DELETE", "/v1/cases/" + number, "", "", with_pin);
  ASSERT_EQ(w.status, 200) << w.body;
  EXPECT_EQ(w.json()["signals_withdrawn"], 3);
  Json after = Match({{"signals", {PdqSignal(a), PdqSignal(FlipBits(a, 10)), {{"type", "md5"}, {"hash", md5}}}}});
  for (const Json& r : after["results"]) EXPECT_TRUE(r["matches"].empty()) << after.dump();
  HttpResult delta2 = Call("GET", "/v1/signals/delta?since=" + std::to_string(since2), "", keys_["platform"]);
  std::set<std::int64_t> removed;
  const Json delta2_json = delta2.json();  // keep the document alive for the loop
  for (const Json& c : delta2_json["changes"]) {
    EXPECT_EQ(c["op"], "remove");
    removed.insert(c["signal_id"].get<std::int64_t>());
  }
  EXPECT_EQ(removed.size(), 3U);
  // A withdrawn case takes no new signals.
  EXPECT_EQ(
      Call("POST", "/v1/cases/" + number + "/signals", Json{{"signals", {PdqSignal(rot)}}}.dump(), "", with_pin).status,
      409);
  status = Call("GET", "/v1/cases/" + number, "", "", with_pin);
  EXPECT_EQ(status.json()["status"], "withdrawn");
  EXPECT_EQ(status.json()["signals"]["withdrawn"], 3);
}

TEST_F(ServerTest, AddingSignalsToACaseNeedsItsPin) {
  std::mt19937_64 rng(7);
  auto [number, pin] = OpenCase(Json::array());
  const std::string body = Json{{"signals", {PdqSignal(RandomPdq(rng))}}}.dump();
  EXPECT_EQ(Call("POST", "/v1/cases/" + number + "/signals", body).status, 401);
  EXPECT_EQ(Call("POST", "/v1/cases/" + number + "/signals", body, "", {{"X-Case-Pin", "1"}}).status, 401);
  HttpResult ok = Call("POST", "/v1/cases/" + number + "/signals", body, "", {{"X-Case-Pin", pin}});
  ASSERT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(ok.json()["signal_ids"].size(), 1U);
  EXPECT_EQ(Call("POST", "/v1/cases/" + number + "/signals", "{bad", "", {{"X-Case-Pin", pin}}).status, 400);
}

TEST_F(ServerTest, FlaggerReportsActOnlyAfterReview) {
  std::mt19937_64 rng(9);
  const std::string h = RandomPdq(rng);
  HttpResult r = Call("POST", "/v1/reports",
                      Json{{"category", "ncii"}, {"url", "https://t.me/c/123/456"}, {"signals", {PdqSignal(h)}}}.dump(),
                      keys_["flagger"]);
  ASSERT_EQ(r.status, 201) << r.body;
  const std::int64_t id = r.json()["id"].get<std::int64_t>();
  EXPECT_TRUE(Match(PdqSignal(h))["results"][0]["matches"].empty());
  HttpResult list = Call("GET", "/v1/reports", "", keys_["caseworker"]);
  bool listed = false;
  const Json list_json = list.json();  // keep the document alive for the loop
  for (const Json& rep : list_json["reports"]) listed |= rep["id"] == id;
  EXPECT_TRUE(listed) << list.body << " id " << id;
  HttpResult d =
      Call("POST", "/v1/reports/" + std::to_string(id) + "/decision", R"({"decision":"approve"})", keys_["caseworker"]);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.json()["state"], "approved");
  Json m = Match(PdqSignal(h));
  ASSERT_EQ(m["results"][0]["matches"].size(), 1U);
  EXPECT_EQ(m["results"][0]["matches"][0]["source"]["kind"], "bank");
  EXPECT_EQ(
      Call("POST", "/v1/reports/" + std::to_string(id) + "/decision", R"({"decision":"reject"})", keys_["caseworker"])
          .status,
      409);
}

TEST_F(ServerTest, BanksThresholdsFacesAndVideos) {
  std::mt19937_64 rng(11);
  HttpResult org = Call("POST", "/v1/organisations", R"({"name":"Hotline Seoul"})", keys_["admin"]);
  ASSERT_EQ(org.status, 201) << org.body;
  EXPECT_EQ(Call("POST", "/v1/organisations", R"({"name":"Hotline Seoul"})", keys_["admin"]).status, 409);
  HttpResult bank = Call("POST", "/v1/banks",
                         Json{{"name", "strict"},
                              {"org_id", org.json()["id"]},
                              {"pdq_max_distance", 8},
                              {"review_policy", "auto_approve"},
                              {"face_max_distance", 0.5}}
                             .dump(),
                         keys_["admin"]);
  ASSERT_EQ(bank.status, 201) << bank.body;
  const std::string bank_id = std::to_string(bank.json()["id"].get<std::int64_t>());
  const std::string h = RandomPdq(rng);
  Json face = Json::array();
  for (int i = 0; i < 128; ++i) face.push_back(i % 2 == 0 ? 0.1 : -0.05);
  Json frames = Json::array();
  std::vector<std::string> frame_hashes;
  for (int i = 0; i < 10; ++i) {
    frame_hashes.push_back(RandomPdq(rng));
    frames.push_back({{"frame", i}, {"quality", 100}, {"pdq", frame_hashes.back()}, {"timestamp", i * 0.5}});
  }
  HttpResult add =
      Call("POST", "/v1/banks/" + bank_id + "/signals",
           Json{{"signals",
                 {PdqSignal(h), {{"type", "face"}, {"descriptor", face}}, {{"type", "vpdq"}, {"frames", frames}}}}}
               .dump(),
           keys_["caseworker"]);
  ASSERT_EQ(add.status, 201) << add.body;
  const Json add_json = add.json();                                           // keep the document alive for the loop
  for (const Json& s : add_json["signals"]) EXPECT_EQ(s["state"], "active");  // auto-approve bank

  // The bank's stricter distance: 5 bits matches, 12 does not.
  EXPECT_EQ(Match(PdqSignal(FlipBits(h, 5)))["results"][0]["matches"].size(), 1U);
  EXPECT_TRUE(Match(PdqSignal(FlipBits(h, 12)))["results"][0]["matches"].empty());
  // Low-quality queries are not matched.
  EXPECT_TRUE(Match(PdqSignal(h, 10))["results"][0]["matches"].empty());

  // Faces: within 0.5 matches and always needs review; far does not.
  Json near_face = face;
  near_face[0] = 0.3;  // distance 0.2
  Json fm = Match({{"type", "face"}, {"descriptor", near_face}});
  ASSERT_EQ(fm["results"][0]["matches"].size(), 1U);
  EXPECT_EQ(fm["results"][0]["matches"][0]["review_required"], true);
  EXPECT_NEAR(fm["results"][0]["matches"][0]["distance"].get<double>(), 0.2, 1e-5);
  Json far_face = face;
  far_face[1] = 1.0;
  EXPECT_TRUE(Match({{"type", "face"}, {"descriptor", far_face}})["results"][0]["matches"].empty());

  // Videos: a clip of 3 of the 10 frames matches on the query share; 1 of
  // them among 9 unrelated frames does not.
  Json clip = Json::array();
  for (int i = 4; i < 7; ++i) clip.push_back({{"frame", i - 4}, {"quality", 100}, {"pdq", frame_hashes[i]}});
  Json vm = Match({{"type", "vpdq"}, {"frames", clip}});
  ASSERT_EQ(vm["results"][0]["matches"].size(), 1U);
  EXPECT_EQ(vm["results"][0]["matches"][0]["query_percent"], 100.0);
  EXPECT_EQ(vm["results"][0]["matches"][0]["target_percent"], 30.0);
  Json other = Json::array();
  other.push_back({{"frame", 0}, {"quality", 100}, {"pdq", frame_hashes[0]}});
  for (int i = 1; i < 10; ++i) other.push_back({{"frame", i}, {"quality", 100}, {"pdq", RandomPdq(rng)}});
  EXPECT_TRUE(Match({{"type", "vpdq"}, {"frames", other}})["results"][0]["matches"].empty());

  // The investigator may match and read a signal, not list keys.
  const std::int64_t sid = add.json()["signals"][0]["id"].get<std::int64_t>();
  HttpResult read = Call("GET", "/v1/signals/" + std::to_string(sid), "", keys_["investigator"]);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.json()["signal"]["hash"], h);
  // Every one of those reads is in the audit log.
  HttpResult audit = Call("GET", "/v1/audit?limit=1000", "", keys_["admin"]);
  ASSERT_EQ(audit.status, 200);
  bool read_logged = false, match_logged = false;
  const Json audit_json = audit.json();  // keep the document alive for the loop
  for (const Json& e : audit_json["entries"]) {
    read_logged |= e["action"] == "signal.read" && e["object"] == "signal:" + std::to_string(sid);
    match_logged |= e["action"] == "signal.match";
  }
  EXPECT_TRUE(read_logged);
  EXPECT_TRUE(match_logged);
}

TEST_F(ServerTest, KeysCanBeListedAndRevoked) {
  HttpResult k = Call("POST", "/v1/keys", R"({"role":"platform","label":"temp"})", keys_["admin"]);
  ASSERT_EQ(k.status, 201);
  const std::string key = k.json()["key"].get<std::string>();
  EXPECT_EQ(Call("POST", "/v1/match", PdqSignal(std::string(64, 'b')).dump(), key).status, 200);
  HttpResult list = Call("GET", "/v1/keys", "", keys_["admin"]);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(key), std::string::npos) << "secrets must never be listed";
  const std::string id = std::to_string(k.json()["id"].get<std::int64_t>());
  EXPECT_EQ(Call("DELETE", "/v1/keys/" + id, "", keys_["admin"]).status, 200);
  EXPECT_EQ(Call("POST", "/v1/match", PdqSignal(std::string(64, 'b')).dump(), key).status, 401);
}

// Separate servers: PIN lockout and the per-address rate limit.
TEST_F(ServerTest, WrongPinsLockTheCaseAndTheRateLimitHolds) {
  TempDir dir("takeback_lockout");
  ServerProcess s;
  ASSERT_TRUE(s.Start(kBin, {"--db", dir / "l.db", "--listen", "127.0.0.1:0", "--victim-rate", "100000"}, dir / "log"))
      << s.error();
  auto [number, pin] = OpenCase(Json::array(), s.port());
  for (int i = 0; i < 5; ++i) {
    HttpResult r = Call("GET", "/v1/cases/" + number, "", "", {{"X-Case-Pin", "9999999999"}}, s.port());
    EXPECT_EQ(r.status, i < 4 ? 401 : 429) << i << " " << r.body;
  }
  HttpResult locked = Call("GET", "/v1/cases/" + number, "", "", {{"X-Case-Pin", pin}}, s.port());
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(locked.json()["error"]["code"], "locked");
  // The lock survives a restart (it is in the database).
  EXPECT_EQ(s.Stop(), 0);
  ASSERT_TRUE(s.Start(kBin, {"--db", dir / "l.db", "--listen", "127.0.0.1:0", "--victim-rate", "3"}, dir / "log"));
  EXPECT_EQ(Call("GET", "/v1/cases/" + number, "", "", {{"X-Case-Pin", pin}}, s.port()).status, 429);
  // --victim-rate 3: the burst is 3, then 429 rate_limited.
  int limited = 0;
  for (int i = 0; i < 5; ++i) {
    HttpResult r = Call("POST", "/v1/cases", "{}", "", {}, s.port());
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(r.json()["error"]["code"], "rate_limited");
    }
  }
  EXPECT_GE(limited, 2);
}

// kill -9 during a burst of inserts: every acknowledged insert survives, and
// after restart the index agrees with the store.
TEST_F(ServerTest, KillNineDuringInsertsLosesNothingAcknowledged) {
  TempDir dir("takeback_kill9");
  const std::string admin = InitAdmin(dir / "k.db");
  ServerProcess s;
  ASSERT_TRUE(s.Start(kBin, {"--db", dir / "k.db", "--listen", "127.0.0.1:0"}, dir / "log")) << s.error();
  HttpResult bank =
      Call("POST", "/v1/banks", R"({"name":"burst","review_policy":"auto_approve"})", admin, {}, s.port());
  ASSERT_EQ(bank.status, 201);
  const std::string path = "/v1/banks/" + std::to_string(bank.json()["id"].get<std::int64_t>()) + "/signals";
  std::mutex mu;
  std::map<std::int64_t, std::string> acked;  // signal id -> hash
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      std::mt19937_64 rng(100 + static_cast<std::uint64_t>(t));
      while (!stop) {
        const std::string h1 = RandomPdq(rng), h2 = RandomPdq(rng);
        HttpResult r = Http(s.port(), "POST", path, Json{{"signals", {PdqSignal(h1), PdqSignal(h2)}}}.dump(),
                            {{"Authorization", "Bearer " + admin}});
        if (r.status != 201) continue;  // not acknowledged (the kill came first)
        const Json j = r.json();
        if (!j.is_object() || !j.contains("signals")) continue;  // cut off mid-response: not acknowledged
        std::lock_guard<std::mutex> lock(mu);
        acked[j["signals"][0]["id"].get<std::int64_t>()] = h1;
        acked[j["signals"][1]["id"].get<std::int64_t>()] = h2;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  s.Kill();
  stop = true;
  for (auto& w : writers) w.join();
  ASSERT_GT(acked.size(), 10U) << "too few inserts before the kill to mean anything";

  ServerProcess again;
  ASSERT_TRUE(again.Start(kBin, {"--db", dir / "k.db", "--listen", "127.0.0.1:0"}, dir / "log2")) << again.error();
  // Every acknowledged signal is in the store, active...
  HttpResult delta = Call("GET", "/v1/signals/delta?since=0&limit=10000", "", admin, {}, again.port());
  ASSERT_EQ(delta.status, 200);
  std::map<std::int64_t, std::string> stored;
  const Json delta_json = delta.json();  // keep the document alive for the loop
  for (const Json& c : delta_json["changes"]) {
    if (c["op"] == "add") stored[c["signal_id"].get<std::int64_t>()] = c["signal"]["hash"].get<std::string>();
  }
  for (const auto& [id, h] : acked) {
    auto it = stored.find(id);
    ASSERT_NE(it, stored.end()) << "acknowledged signal " << id << " lost";
    EXPECT_EQ(it->second, h);
  }
  // ...the index holds exactly the store's active pdq signals...
  HttpResult health = Call("GET", "/healthz", "", "", {}, again.port());
  EXPECT_EQ(health.json()["index"]["pdq"].get<std::size_t>(), stored.size());
  // ...and each acknowledged hash matches its own signal.
  Json batch = {{"signals", Json::array()}};
  std::vector<std::int64_t> ids;
  for (const auto& [id, h] : acked) {
    batch["signals"].push_back(PdqSignal(h));
    ids.push_back(id);
    if (batch["signals"].size() == 1000) break;
  }
  HttpResult m = Call("POST", "/v1/match", batch.dump(), admin, {}, again.port());
  ASSERT_EQ(m.status, 200);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    bool found = false;
    const Json m_json = m.json();  // keep the document alive for the loop
    for (const Json& hit : m_json["results"][i]["matches"]) found |= hit["signal_id"] == ids[i];
    EXPECT_TRUE(found) << "signal " << ids[i];
  }
  EXPECT_EQ(again.Stop(), 0);
  // A clean stop leaves a snapshot; the next start loads it.
  ServerProcess third;
  ASSERT_TRUE(third.Start(kBin, {"--db", dir / "k.db", "--listen", "127.0.0.1:0"}, dir / "log3")) << third.error();
  // (The start-up line goes to stderr just after "listening" on stdout.)
  for (int i = 0; i < 100 && third.ReadLog().find("loaded in") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(third.ReadLog().find("(snapshot + 0 changes)"), std::string::npos) << third.ReadLog();
  EXPECT_EQ(Call("GET", "/healthz", "", "", {}, third.port()).json()["index"]["pdq"].get<std::size_t>(), stored.size());
}

TEST_F(ServerTest, ServeRefusesBadCommandLinesAndBadDatabases) {
  TempDir dir("takeback_serve_cli");
  RunResult r = RunShell(TimedCommand(30, kBin, {"serve"}), dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--db"), std::string::npos);
  r = RunShell(TimedCommand(30, kBin, {"serve", "--db", dir / "x.db", "--listen", "nonsense"}), dir.path());
  EXPECT_EQ(r.exit_code, 2);
  WriteFile(dir / "junk.db", std::string(8192, 'j'));
  r = RunShell(TimedCommand(30, kBin, {"serve", "--db", dir / "junk.db", "--init-admin"}), dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a"), std::string::npos) << r.err;
  r = RunShell(TimedCommand(30, kBin, {"serve", "--help"}), dir.path());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--init-admin"), std::string::npos);
}

// The command-line clients against the real server, on the shared test images.
TEST_F(ServerTest, RegisterAndMatchCommands) {
  const std::filesystem::path images = std::filesystem::path(TAKEBACK_TESTDATA_DIR) / "pdq" / "images";
  if (!std::filesystem::exists(images / "bridge-1-original.jpg")) {
    GTEST_SKIP() << "no shared test data at " << images << " (set TAKEBACK_TESTDATA_DIR)";
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port());
  RunResult reg = RunShell(
      TimedCommand(120, kBin, {"register", "--no-faces", "--server", url, (images / "bridge-1-original.jpg").string()}),
      dir_->path());
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  EXPECT_NE(reg.out.find("case number: TB-"), std::string::npos) << reg.out;
  EXPECT_NE(reg.out.find("PIN:"), std::string::npos);
  EXPECT_NE(reg.err.find("shown only this once"), std::string::npos);
  ApproveAllPending();
  // The rotated copy matches through its dihedral variants; JSON output.
  RunResult m = RunShell("TAKEBACK_API_KEY=" + keys_["platform"] + " " +
                             TimedCommand(120, kBin,
                                          {"match", "--json", "--server", url,
                                           (images / "bridge-2-rotate-90.jpg").string(), (images / "c.png").string()}),
                         dir_->path());
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const std::vector<std::string> lines = Lines(m.out);
  ASSERT_EQ(lines.size(), 2U) << m.out;
  const Json first = Json::parse(lines[0]);
  bool pdq_match = false;
  for (const Json& hit : first["matches"]) pdq_match |= hit["type"] == "pdq" && hit["source"]["kind"] == "case";
  EXPECT_TRUE(pdq_match) << lines[0];
  EXPECT_TRUE(Json::parse(lines[1])["matches"].empty()) << lines[1];
  // Without a key: a usage error; with a platform key against nothing: exit 1.
  RunResult nokey =
      RunShell(TimedCommand(30, kBin, {"match", "--server", url, (images / "c.png").string()}), dir_->path());
  EXPECT_EQ(nokey.exit_code, 2);
  RunResult down = RunShell(
      TimedCommand(30, kBin, {"match", "--key", "k", "--server", "http://127.0.0.1:1", (images / "c.png").string()}),
      dir_->path());
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("cannot reach"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace takeback::testing
