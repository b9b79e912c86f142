// Runs the real `takeback evidence` binary: capture, export, verify, every
// kind of tampering, consistency and forks, a kill -9 during a burst of
// appends, standard-tool verification (sha256sum, openssl) and an RFC 3161
// timestamp from a real OpenSSL TSA with a CA made here.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using takeback::testing::Lines;
using takeback::testing::ReadFile;
using takeback::testing::RunResult;
using takeback::testing::ShellQuote;
using takeback::testing::WriteFile;

constexpr int kTimeoutSeconds = 30;

class EvidenceCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = fs::temp_directory_path() / ("takeback_evidence_it_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
    for (int i = 0; i < 4; ++i) {
      files_.push_back(tmp_ / ("photo" + std::to_string(i) + ".jpg"));
      WriteFile(files_.back(), "\xFF\xD8\xFF\xE0 not really a jpeg " + std::to_string(i) + std::string(100 * i, 'x'));
    }
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(tmp_, fs::perms::owner_all, fs::perm_options::add, ec);
    // Sealed files are read-only; remove_all copes with that for the owner.
    fs::remove_all(tmp_, ec);
  }

  // Runs the binary through a shell, as a user would.
  RunResult Run(const std::vector<std::string>& args, const std::string& dir = "") {
    std::string cmd = "timeout " + std::to_string(kTimeoutSeconds) + " " + ShellQuote(TAKEBACK_BIN) + " evidence";
    cmd += " --dir " + ShellQuote(dir.empty() ? Ev() : dir);
    for (const std::string& arg : args) cmd += " " + ShellQuote(arg);
    return Shell(cmd);
  }

  RunResult Shell(const std::string& cmd) {
    const std::string full = "cd " + ShellQuote(tmp_.string()) + " && (" + cmd + ") </dev/null >" +
                             ShellQuote((tmp_ / ".stdout").string()) + " 2>" + ShellQuote((tmp_ / ".stderr").string());
    const int status = std::system(full.c_str());  // NOLINT(cert-env33-c): running the tools is the point
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadFile(tmp_ / ".stdout");
    r.err = ReadFile(tmp_ / ".stderr");
    EXPECT_NE(r.exit_code, 124) << "timed out: " << cmd;
    return r;
  }

  std::string Ev() const { return (tmp_ / "ev").string(); }
  std::string Tmp(const std::string& name) const { return (tmp_ / name).string(); }

  void AddCase(const std::string& case_ref, const std::vector<fs::path>& files) {
    std::vector<std::string> args = {"add",
                                     "--source",
                                     "chat",
                                     "--chat",
                                     "Family",
                                     "--message-id",
                                     "4711",
                                     "--sender-id",
                                     "+15550100",
                                     "--observed-time",
                                     "2026-11-24T21:03:00Z",
                                     "--case",
                                     case_ref,
                                     "--user",
                                     "caseworker"};
    for (const fs::path& f : files) args.push_back(f.string());
    const RunResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(Lines(r.out).size(), files.size()) << r.out;
  }

  // A verified bundle of case A (3 entries) in a log that also holds case B.
  fs::path MakeBundle() {
    AddCase("CASE-A", {files_[0], files_[1]});
    AddCase("CASE-B", {files_[2]});
    AddCase("CASE-A", {files_[3]});
    const RunResult r = Run({"export", "--case", "CASE-A", Tmp("bundle")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return tmp_ / "bundle";
  }

  fs::path CopyBundle(const std::string& name) {
    const fs::path copy = tmp_ / name;
    fs::copy(tmp_ / "bundle", copy, fs::copy_options::recursive);
    return copy;
  }

  void EditManifest(const fs::path& bundle, const std::function<void(json&)>& edit) {
    json m = json::parse(ReadFile(bundle / "manifest.json"));
    edit(m);
    WriteFile(bundle / "manifest.json", m.dump(2));
  }

  // verify must fail, exit 1, and name the failure on stderr and stdout.
  void ExpectTamperDetected(const fs::path& bundle, const std::string& needle) {
    const RunResult r = Run({"verify", bundle.string()});
    EXPECT_EQ(r.exit_code, 1) << needle;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "wanted: " << needle << "\nstderr: " << r.err;
    EXPECT_NE(r.out.find("FAIL  "), std::string::npos);
    EXPECT_NE(r.out.find("NOT VERIFIED"), std::string::npos);
    EXPECT_EQ(Lines(r.err).size(), 1U) << r.err;
  }

  fs::path tmp_;
  std::vector<fs::path> files_;
};

TEST_F(EvidenceCliTest, HelpAndUsage) {
  RunResult r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* needle : {"Usage: takeback evidence", "add FILE", "export --case", "verify BUNDLE", "--sealing-key",
                             "--tsa-command", "Exit status", "Examples"}) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
  }
  r = Run({"add", Tmp("photo0.jpg")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--source KIND is required"), std::string::npos) << r.err;
  r = Run({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown sub-command 'frobnicate'"), std::string::npos);
  r = Run({"verify", "--source", "chat", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--source does not apply to 'verify'"), std::string::npos);
  r = Run({"add", "--source", "chat", "--observed-time", "yesterday", Tmp("photo0.jpg")});
  EXPECT_EQ(r.exit_code, 2);
  r = Run({"add", "--source", "chat", Tmp("missing.jpg")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.jpg: not_found"), std::string::npos) << r.err;
}

TEST_F(EvidenceCliTest, AddExportVerify) {
  const fs::path bundle = MakeBundle();
  EXPECT_EQ(fs::status(tmp_ / "ev/keys/signing.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  RunResult r = Run({"verify", bundle.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("VERIFIED: bundle for case 'CASE-A', 3 entries"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok    tree head signature verifies: log of 4 entries"), std::string::npos) << r.out;
  r = Run({"verify", "--json", bundle.string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(json::parse(Lines(r.out).back())["verified"], true);
  r = Run({"log", "--json", "--case", "CASE-A"});
  ASSERT_EQ(r.exit_code, 0);
  ASSERT_EQ(Lines(r.out).size(), 3U);
  const json first = json::parse(Lines(r.out)[0]);
  EXPECT_EQ(first["entry"]["source"]["sender_id"], "+15550100");
  EXPECT_EQ(first["entry"]["captured_by"], "caseworker");
  EXPECT_EQ(first["entry"]["media_type"], "image/jpeg");
  r = Run({"check", "--sealed"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string report = ReadFile(bundle / "report.html");
  EXPECT_NE(report.find("Family"), std::string::npos);
  EXPECT_NE(report.find("2026-11-24T21:03:00Z"), std::string::npos);
}

TEST_F(EvidenceCliTest, ZipBundleExportsVerifiesAndUnzipsForStandardTools) {
  AddCase("CASE-Z", {files_[0], files_[1]});
  RunResult r = Run({"export", "--case", "CASE-Z", Tmp("case-z.zip")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::is_regular_file(tmp_ / "case-z.zip"));
  r = Run({"verify", Tmp("case-z.zip")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok    zip archive: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("VERIFIED: bundle for case 'CASE-Z', 2 entries"), std::string::npos) << r.out;
  if (std::system("unzip -v >/dev/null 2>&1") != 0) {  // NOLINT(cert-env33-c)
    GTEST_SKIP() << "the unzip tool is not installed (Debian package unzip)";
  }
  r = Shell("unzip -q case-z.zip -d unzipped && cd unzipped && sha256sum -c SHA256SUMS");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Lines(r.out).size(), 2U) << r.out;
  // A zip whose original was altered fails, naming the archive entry.
  std::string zip = ReadFile(tmp_ / "case-z.zip");
  const std::size_t at = zip.find("not really a jpeg 1");
  ASSERT_NE(at, std::string::npos);
  zip[at] ^= 0x20;
  WriteFile(tmp_ / "altered.zip", zip);
  r = Run({"verify", Tmp("altered.zip")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("verify: zip archive: zip entry 'originals/"), std::string::npos) << r.err;
}

TEST_F(EvidenceCliTest, StandardToolsVerifyTheBundle) {
  const fs::path bundle = MakeBundle();
  RunResult r = Shell("cd " + ShellQuote(bundle.string()) + " && sha256sum -c SHA256SUMS");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Lines(r.out).size(), 3U) << r.out;
  // The exact commands README.txt gives.
  const std::string readme = ReadFile(bundle / "README.txt");
  for (const std::string cmd :
       {"openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in tree_head.json -sigfile tree_head.sig",
        "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in case.json -sigfile case.sig"}) {
    ASSERT_NE(readme.find(cmd), std::string::npos) << cmd;
    r = Shell("cd " + ShellQuote(bundle.string()) + " && " + cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << r.out << r.err;
    EXPECT_NE(r.out.find("Signature Verified Successfully"), std::string::npos) << r.out << r.err;
  }
  const std::string fingerprint = "openssl pkey -pubin -in public_key.pem -outform DER | tail -c 32 | sha256sum";
  ASSERT_NE(readme.find(fingerprint), std::string::npos);
  r = Shell("cd " + ShellQuote(bundle.string()) + " && " + fingerprint);
  const json head = json::parse(ReadFile(bundle / "tree_head.json"));
  EXPECT_EQ(r.out.substr(0, 64), head["key_id"].get<std::string>());
  // A changed tree head no longer verifies with openssl either.
  std::string bytes = ReadFile(bundle / "tree_head.json");
  bytes[bytes.find("\"size\":4") + 7] = '5';
  WriteFile(bundle / "tree_head.json", bytes);
  r = Shell(
      "cd " + ShellQuote(bundle.string()) +
      " && openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in tree_head.json -sigfile tree_head.sig");
  EXPECT_NE(r.exit_code, 0);
}

TEST_F(EvidenceCliTest, EveryTamperingIsDetectedAndNamed) {
  MakeBundle();
  {
    const fs::path b = CopyBundle("flip");
    for (const auto& f : fs::directory_iterator(b / "originals")) {
      std::string bytes = ReadFile(f.path());
      bytes[bytes.size() - 1] ^= 0x20;
      WriteFile(f.path(), bytes);
      break;
    }
    ExpectTamperDetected(b, "(altered)");
  }
  {
    const fs::path b = CopyBundle("edit");
    EditManifest(b, [](json& m) { m["entries"][1]["entry"]["source"]["message_id"] = "4712"; });
    ExpectTamperDetected(b, "entry 1: the entry's fields in manifest.json are not what the log recorded");
  }
  {
    const fs::path b = CopyBundle("drop");
    EditManifest(b, [](json& m) { m["entries"].erase(2); });
    ExpectTamperDetected(b, "entry 3 of the signed case index is missing from manifest.json");
  }
  {
    const fs::path b = CopyBundle("reorder");
    EditManifest(b, [](json& m) { std::swap(m["entries"][0], m["entries"][1]); });
    ExpectTamperDetected(b, "(reordered)");
  }
  {
    const fs::path b = CopyBundle("key");
    const RunResult r =
        Shell("openssl genpkey -algorithm ed25519 -out other.key && openssl pkey -in other.key -pubout -out " +
              ShellQuote((b / "public_key.pem").string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ExpectTamperDetected(b, "public_key.pem differs from the key in manifest.json");
  }
  // Truncating the log itself (cutting off acknowledged entries) is caught
  // by every command that opens it.
  const fs::path entries = tmp_ / "ev/log/entries";
  fs::resize_file(entries, fs::file_size(entries) - 10);
  const RunResult r = Run({"check"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("log truncated: a signed tree head"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("covers 4 entries but the log holds only 3"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"add", "--source", "chat", files_[0].string()}).exit_code, 1);
}

TEST_F(EvidenceCliTest, SavedHeadIsAPrefixAndAForkIsCaught) {
  AddCase("C", {files_[0], files_[1]});
  RunResult r = Run({"head"});
  ASSERT_EQ(r.exit_code, 0);
  WriteFile(tmp_ / "head2.txt", r.out);
  fs::copy(tmp_ / "ev", tmp_ / "fork", fs::copy_options::recursive);
  AddCase("C", {files_[2], files_[3]});
  r = Run({"consistency", Tmp("head2.txt")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("is a prefix of the log now (4 entries"), std::string::npos) << r.out;
  r = Run({"head"});
  WriteFile(tmp_ / "head4.txt", r.out);

  // The fork shares the first two entries, then records something else.
  r = Run({"add", "--source", "chat", "--case", "C", files_[3].string(), files_[2].string()}, Tmp("fork"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run({"consistency", Tmp("head2.txt")}, Tmp("fork"));
  EXPECT_EQ(r.exit_code, 0) << r.err;  // its common past still checks
  r = Run({"consistency", Tmp("head4.txt")}, Tmp("fork"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("log forked: its root at size 4 differs from the saved tree head's"), std::string::npos)
      << r.err;
}

TEST_F(EvidenceCliTest, KillDuringABurstOfAppendsLosesNothingAcknowledged) {
  constexpr int kFiles = 400;
  std::vector<std::string> argv_strings = {TAKEBACK_BIN, "evidence", "--dir",          Ev(), "add", "--source", "path",
                                           "--case",     "burst",    "--commit-every", "1"};
  for (int i = 0; i < kFiles; ++i) {
    const fs::path f = tmp_ / "burst" / (std::to_string(i) + ".bin");
    fs::create_directories(f.parent_path());
    WriteFile(f, "burst item " + std::to_string(i));
    argv_strings.push_back(f.string());
  }
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execv(TAKEBACK_BIN, argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  // Read acknowledgements; kill -9 once 30 have arrived, mid-burst.
  std::string acked;
  bool killed = false;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    acked.append(buf, static_cast<std::size_t>(n));
    if (!killed && Lines(acked).size() >= 30) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(killed);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the burst finished before the kill";
  // Only whole lines are acknowledgements.
  if (!acked.empty() && acked.back() != '\n') acked.resize(acked.rfind('\n') + 1);
  const std::vector<std::string> ack_lines = Lines(acked);
  ASSERT_GE(ack_lines.size(), 30U);
  ASSERT_LT(ack_lines.size(), static_cast<std::size_t>(kFiles));

  RunResult r = Run({"check", "--sealed"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Run({"log", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  std::set<std::string> logged;
  for (const std::string& line : Lines(r.out)) {
    const json j = json::parse(line);
    logged.insert(std::to_string(j["index"].get<std::uint64_t>()) + " " + j["entry"]["sha256"].get<std::string>());
  }
  EXPECT_GE(logged.size(), ack_lines.size());
  for (const std::string& line : ack_lines) {
    const std::string index_and_sha = line.substr(0, line.find(' ', line.find(' ') + 1));
    EXPECT_TRUE(logged.count(index_and_sha) == 1) << "acknowledged but lost: " << line;
  }
  // The log takes new entries after the crash, and a bundle of it verifies.
  r = Run({"add", "--source", "chat", "--case", "burst", files_[0].string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Run({"export", "--case", "burst", Tmp("burst-bundle")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Run({"verify", Tmp("burst-bundle")}).exit_code, 0);
}

TEST_F(EvidenceCliTest, Rfc3161TimestampFromALocalOpenSslTsa) {
  // A test CA and a TSA certificate (extendedKeyUsage critical timeStamping).
  WriteFile(tmp_ / "tsa_ext.cnf",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n");
  WriteFile(tmp_ / "tsa.cnf", "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\ndir = " + tmp_.string() +
                                  "\nserial = $dir/tsaserial\nsigner_cert = $dir/tsa.pem\ncerts = $dir/ca.pem\n"
                                  "signer_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n"
                                  "digests = sha256\naccuracy = secs:1\nordering = yes\ntsa_name = yes\n"
                                  "ess_cert_id_chain = no\ness_cert_id_alg = sha256\n");
  WriteFile(tmp_ / "tsaserial", "01\n");
  const std::string make_pki =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem "
      "-subj '/CN=Takeback Test TSA CA' -days 2 -addext 'basicConstraints=critical,CA:TRUE' "
      "-addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null && "
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout tsa.key -out tsa.csr "
      "-subj '/CN=Takeback Test TSA' 2>/dev/null && "
      "openssl x509 -req -in tsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out tsa.pem -days 2 "
      "-extfile tsa_ext.cnf 2>/dev/null && "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key "
      "-out other_ca.pem -subj '/CN=Someone Else' -days 2 2>/dev/null";
  RunResult r = Shell(make_pki);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  AddCase("TS", {files_[0], files_[1]});
  const std::string tsa_command = "openssl ts -reply -config " + ShellQuote(Tmp("tsa.cnf")) +
                                  " -queryfile \"$TAKEBACK_TSA_REQUEST\" -out \"$TAKEBACK_TSA_RESPONSE\" 2>/dev/null";
  r = Run({"export", "--case", "TS", "--tsa-command", tsa_command, "--tsa-ca", Tmp("ca.pem"), Tmp("tsbundle")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("RFC 3161 timestamp 20"), std::string::npos) << r.out;
  r = Run({"verify", "--tsa-ca", Tmp("ca.pem"), Tmp("tsbundle")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok    RFC 3161 timestamp on the tree head verifies"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Takeback Test TSA"), std::string::npos) << r.out;
  // The README's openssl command checks the token too.
  r = Shell("cd tsbundle && openssl ts -verify -data tree_head.json -in tree_head.tsr -CAfile tsa_ca.pem");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("Verification: OK"), std::string::npos) << r.out << r.err;
  // A CA that did not issue the TSA certificate is refused.
  r = Run({"verify", "--tsa-ca", Tmp("other_ca.pem"), Tmp("tsbundle")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("timestamp does not verify"), std::string::npos) << r.err;
  // A token for another tree head is refused.
  fs::copy(tmp_ / "tsbundle", tmp_ / "tsbundle2", fs::copy_options::recursive);
  AddCase("TS", {files_[2]});
  r = Run({"export", "--case", "TS", "--tsa-command", tsa_command, "--tsa-ca", Tmp("ca.pem"), Tmp("tsbundle3")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::remove(tmp_ / "tsbundle2/tree_head.tsr");
  fs::copy(tmp_ / "tsbundle3/tree_head.tsr", tmp_ / "tsbundle2/tree_head.tsr");
  r = Run({"verify", Tmp("tsbundle2")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("timestamp does not verify"), std::string::npos) << r.err;
  // A failing TSA command is one clear error.
  r = Run({"export", "--case", "TS", "--tsa-command", "exit 3", "--tsa-ca", Tmp("ca.pem"), Tmp("tsbundle4")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the TSA command failed (exit status 3)"), std::string::npos) << r.err;
}

}  // namespace
