// Runs the built `takeback` executable as a user would, on the shared PDQ
// test images and on bad files made in a temporary directory, and checks its
// exact output, its messages and its exit status.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hash/pdq.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
using takeback::testing::Lines;
using takeback::testing::ReadFile;
using takeback::testing::RunResult;
using takeback::testing::ShellQuote;
using takeback::testing::WriteFile;

const fs::path kPdqDir = fs::path(TAKEBACK_TESTDATA_DIR) / "pdq";
const fs::path kImages = kPdqDir / "images";
constexpr int kTimeoutSeconds = 30;  // a hang fails the test instead of the whole run

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string field; std::getline(in, field, sep);) fields.push_back(field);
  return fields;
}

// file name -> fields after the name, from one of the reference's TSV files.
std::map<std::string, std::vector<std::string>> ReadTsv(const fs::path& path) {
  std::map<std::string, std::vector<std::string>> rows;
  const std::vector<std::string> lines = Lines(ReadFile(path));
  for (std::size_t i = 1; i < lines.size(); ++i) {  // line 0 is the header
    std::vector<std::string> fields = Split(lines[i], '\t');
    if (fields.empty()) continue;
    const std::string name = fields[0];
    fields.erase(fields.begin());
    rows[name] = fields;
  }
  return rows;
}

bool HaveTestdata() { return fs::exists(kPdqDir / "expected.tsv"); }

std::string Image(const std::string& name) { return (kImages / name).string(); }

// "HASH,QUALITY,PATH" for an image listed in expected.tsv.
std::string ExpectedLine(const std::string& name, const std::string& path) {
  const auto rows = ReadTsv(kPdqDir / "expected.tsv");
  const auto it = rows.find(name);
  EXPECT_NE(it, rows.end()) << name;
  if (it == rows.end()) return "";
  return it->second[0] + "," + it->second[1] + "," + path;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "takeback_cli_XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    tmp_ = templ;
  }

  void TearDown() override {
    std::error_code ec;
    fs::permissions(tmp_ / "unreadable.jpg", fs::perms::owner_all, ec);
    fs::remove_all(tmp_, ec);
  }

  // Runs takeback with `args`, feeding `input` on stdin; stdout and stderr
  // are captured separately.
  RunResult Run(const std::vector<std::string>& args, const std::string& input = "") {
    WriteFile(tmp_ / ".stdin", input);
    std::string cmd = "timeout " + std::to_string(kTimeoutSeconds) + " " + ShellQuote(TAKEBACK_BIN);
    for (const std::string& arg : args) cmd += " " + ShellQuote(arg);
    cmd += " <" + ShellQuote((tmp_ / ".stdin").string()) + " >" + ShellQuote((tmp_ / ".stdout").string()) + " 2>" +
           ShellQuote((tmp_ / ".stderr").string());
    // A shell runs it, as a user would (and `timeout` guards against hangs).
    const int status = std::system(cmd.c_str());  // NOLINT(cert-env33-c)
    RunResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = ReadFile(tmp_ / ".stdout");
    result.err = ReadFile(tmp_ / ".stderr");
    EXPECT_NE(result.exit_code, 124) << "takeback timed out: " << cmd;
    return result;
  }

  std::string Tmp(const std::string& name) const { return (tmp_ / name).string(); }

  fs::path tmp_;
};

#define REQUIRE_TESTDATA()                                                                     \
  do {                                                                                         \
    if (!HaveTestdata()) GTEST_SKIP() << "PDQ test data not found under " << kPdqDir.string(); \
  } while (false)

std::string ToolDigest(const std::string& tool, const std::string& path) {
  const std::string cmd = tool + " " + ShellQuote(path);
  FILE* pipe = ::popen(cmd.c_str(), "r");  // NOLINT(cert-env33-c): the coreutils tool is the point
  if (pipe == nullptr) return "";
  char buf[256] = {};
  const bool got = std::fgets(buf, sizeof(buf), pipe) != nullptr;
  ::pclose(pipe);
  if (!got) return "";
  const std::string line(buf);
  return line.substr(0, line.find(' '));
}

// ---------------------------------------------------------------- usage

TEST_F(CliTest, HelpAndVersion) {
  RunResult r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: takeback COMMAND"), std::string::npos);
  EXPECT_NE(r.out.find("hash"), std::string::npos);

  for (const std::vector<std::string>& args : {std::vector<std::string>{"hash", "--help"}, {"help", "hash"}}) {
    r = Run(args);
    EXPECT_EQ(r.exit_code, 0);
    for (const char* needle :
         {"Usage: takeback hash", "--recursive", "--json", "--dihedral", "--digests", "--auto-orient", "--max-pixels",
          "--max-file-size", "--quiet", "Exit status", "Examples", "PDQ,QUALITY,MD5,SHA256,PATH"}) {
      EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
    }
    EXPECT_EQ(r.err, "");
  }

  r = Run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("takeback ", 0), 0U) << r.out;
}

TEST_F(CliTest, UsageErrorsExitTwoWithAHint) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"hash"},
      {"hash", "--no-such-option", "x.jpg"},
      {"hash", "--max-pixels"},
      {"hash", "--max-pixels", "many", "x.jpg"},
      {"hash", "--max-file-size", "12Q", "x.jpg"},
      {"hash", "-j", "0", "x.jpg"},
  };
  for (const auto& args : cases) {
    const RunResult r = Run(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined;
    EXPECT_EQ(r.out, "") << joined;
    EXPECT_NE(r.err.find("--help"), std::string::npos) << joined << "\n" << r.err;
    EXPECT_LE(Lines(r.err).size(), 3U) << r.err;
  }
  EXPECT_NE(Run({"hash"}).err.find("no files given"), std::string::npos);
  EXPECT_NE(Run({"hash", "--bogus", "x"}).err.find("unknown option '--bogus'"), std::string::npos);
}

// ---------------------------------------------------------------- good files

TEST_F(CliTest, TextOutputMatchesReference) {
  REQUIRE_TESTDATA();
  const std::vector<std::string> names = {
      "bridge-1-original.jpg", "c.png",        "q0003.jpg",      "small.jpg", "wee.jpg",
      "modes/LA.png",          "modes/F.webp", "exif-rotn-6.jpg"};
  std::vector<std::string> args = {"hash"};
  std::vector<std::string> want;
  for (const std::string& name : names) {
    args.push_back(Image(name));
    want.push_back(ExpectedLine(name, Image(name)));
  }
  const RunResult r = Run(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // no progress line: stderr is not a terminal
  EXPECT_EQ(Lines(r.out), want);
}

TEST_F(CliTest, PathIsPrintedAsGiven) {
  REQUIRE_TESTDATA();
  fs::copy_file(kImages / "wee.jpg", tmp_ / "wee.jpg");
  const std::string relative = "./" + fs::relative(tmp_ / "wee.jpg", fs::current_path()).string();
  const RunResult r = Run({"hash", relative});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out), std::vector<std::string>{ExpectedLine("wee.jpg", relative)});
}

TEST_F(CliTest, RecursiveIsSortedAndMatchesEveryReferenceRow) {
  REQUIRE_TESTDATA();
  const auto rows = ReadTsv(kPdqDir / "expected.tsv");
  std::vector<std::string> want;
  want.reserve(rows.size());
  for (const auto& [name, fields] : rows) want.push_back(fields[0] + "," + fields[1] + "," + Image(name));
  std::sort(want.begin(), want.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.rfind(',')) < b.substr(b.rfind(','));  // by path
  });
  // Several workers: the output order must still be the sorted input order.
  const RunResult r = Run({"hash", "-r", "-j", "4", kImages.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out), want);
}

TEST_F(CliTest, RecursiveOrderSkipsSymlinkLoopsAndReportsBadFilesInPlace) {
  REQUIRE_TESTDATA();
  fs::create_directories(tmp_ / "tree" / "b" / "deeper");
  fs::create_directories(tmp_ / "tree" / "a");
  fs::copy_file(kImages / "wee.jpg", tmp_ / "tree" / "b" / "deeper" / "1.jpg");
  fs::copy_file(kImages / "c.png", tmp_ / "tree" / "a" / "2.png");
  fs::copy_file(kImages / "q0122.jpg", tmp_ / "tree" / "a-3.jpg");
  WriteFile(tmp_ / "tree" / "b" / "notes.txt", "not an image\n");
  fs::create_directory_symlink(tmp_ / "tree", tmp_ / "tree" / "b" / "loop");
  ASSERT_EQ(::mkfifo(Tmp("tree/b/fifo").c_str(), 0600), 0);

  const RunResult r = Run({"hash", "--recursive", Tmp("tree")});
  EXPECT_EQ(r.exit_code, 1);
  // Byte order of whole paths: "a-3.jpg" < "a/2.png" because '-' < '/'.
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{ExpectedLine("q0122.jpg", Tmp("tree/a-3.jpg")),
                                                    ExpectedLine("c.png", Tmp("tree/a/2.png")),
                                                    ExpectedLine("wee.jpg", Tmp("tree/b/deeper/1.jpg"))}));
  const std::vector<std::string> err = Lines(r.err);
  ASSERT_EQ(err.size(), 1U) << r.err;
  EXPECT_EQ(err[0].rfind("takeback: " + Tmp("tree/b/notes.txt") + ": unsupported: ", 0), 0U) << err[0];
}

TEST_F(CliTest, PathsFromStdin) {
  REQUIRE_TESTDATA();
  const std::string input = Image("wee.jpg") + "\n\n" + Image("c.png") + "\r\n" + Tmp("missing.jpg") + "\n";
  const RunResult r = Run({"hash", Image("q0122.jpg"), "-"}, input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{ExpectedLine("q0122.jpg", Image("q0122.jpg")),
                                                    ExpectedLine("wee.jpg", Image("wee.jpg")),
                                                    ExpectedLine("c.png", Image("c.png"))}));
  EXPECT_EQ(Lines(r.err),
            std::vector<std::string>{"takeback: " + Tmp("missing.jpg") + ": not_found: no such file or directory"});
}

TEST_F(CliTest, DihedralMatchesReference) {
  REQUIRE_TESTDATA();
  const auto rows = ReadTsv(kPdqDir / "expected-dihedral.tsv");
  const std::vector<std::string> names = {"bridge-1-original.jpg", "bridge-2-rotate-90.jpg", "bridge-5-flipx.jpg"};
  std::vector<std::string> args = {"hash", "--dihedral"};
  std::vector<std::string> want;
  for (const std::string& name : names) {
    const auto it = rows.find(name);
    ASSERT_NE(it, rows.end()) << name;
    // TSV: quality, orig, rot90, ...; output: orig, rot90, ..., quality, path.
    std::string line;
    for (std::size_t d = 1; d <= 8; ++d) line += it->second[d] + ",";
    want.push_back(line + it->second[0] + "," + Image(name));
    args.push_back(Image(name));
  }
  const RunResult r = Run(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out), want);
}

TEST_F(CliTest, DigestsMatchCoreutils) {
  REQUIRE_TESTDATA();
  const std::string path = Image("c.png");
  const std::string md5 = ToolDigest("md5sum", path);
  const std::string sha256 = ToolDigest("sha256sum", path);
  ASSERT_EQ(md5.size(), 32U);
  ASSERT_EQ(sha256.size(), 64U);
  const std::vector<std::string> plain = Split(ExpectedLine("c.png", path), ',');

  RunResult r = Run({"hash", "--digests", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, plain[0] + "," + plain[1] + "," + md5 + "," + sha256 + "," + path + "\n");

  r = Run({"hash", "--digests", "--dihedral", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Lines(r.out).size(), 1U) << r.out;
  const std::vector<std::string> fields = Split(Lines(r.out)[0], ',');
  ASSERT_EQ(fields.size(), 12U) << r.out;
  EXPECT_EQ(fields[0], plain[0]);
  EXPECT_EQ(fields[8], plain[1]);
  EXPECT_EQ(fields[9], md5);
  EXPECT_EQ(fields[10], sha256);
  EXPECT_EQ(fields[11], path);
}

TEST_F(CliTest, JsonLinesCarryEveryField) {
  REQUIRE_TESTDATA();
  const std::string good = Image("bridge-1-original.jpg");
  const std::string png = Image("c.png");
  const RunResult r = Run({"hash", "--json", "--dihedral", "--digests", good, Tmp("missing.jpg"), png});
  EXPECT_EQ(r.exit_code, 1);
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3U) << r.out;
  const auto dihedral = ReadTsv(kPdqDir / "expected-dihedral.tsv");

  nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["path"], good);
  EXPECT_EQ(first["format"], "jpeg");
  EXPECT_GT(first["width"].get<int>(), 0);
  EXPECT_GT(first["height"].get<int>(), 0);
  EXPECT_EQ(first["pdq"], dihedral.at("bridge-1-original.jpg")[1]);
  EXPECT_EQ(first["quality"], 100);
  const std::vector<std::string> names = {"orig",  "rot90", "rot180",    "rot270",
                                          "flipx", "flipy", "flipplus1", "flipminus1"};
  ASSERT_TRUE(first["dihedral"].is_object());
  EXPECT_EQ(first["dihedral"].size(), 8U);
  for (std::size_t d = 0; d < names.size(); ++d) {
    EXPECT_EQ(first["dihedral"][names[d]], dihedral.at("bridge-1-original.jpg")[d + 1]) << names[d];
  }
  EXPECT_EQ(first["md5"], ToolDigest("md5sum", good));
  EXPECT_EQ(first["sha256"], ToolDigest("sha256sum", good));

  nlohmann::json missing = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(missing["path"], Tmp("missing.jpg"));
  EXPECT_EQ(missing["error"]["code"], "not_found");
  EXPECT_TRUE(missing["error"]["message"].is_string());
  EXPECT_FALSE(missing.contains("pdq"));

  nlohmann::json third = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(third["format"], "png");
  EXPECT_EQ(third["pdq"], Split(ExpectedLine("c.png", png), ',')[0]);

  // The failure is on stderr too, once.
  EXPECT_EQ(Lines(r.err).size(), 1U) << r.err;
}

TEST_F(CliTest, JsonWithoutOptionsHasNoOptionalFields) {
  REQUIRE_TESTDATA();
  const RunResult r = Run({"hash", "--json", Image("wee.jpg")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json value = nlohmann::json::parse(r.out);
  EXPECT_EQ(value["pdq"], Split(ExpectedLine("wee.jpg", ""), ',')[0]);
  EXPECT_FALSE(value.contains("dihedral"));
  EXPECT_FALSE(value.contains("md5"));
  EXPECT_FALSE(value.contains("sha256"));
}

TEST_F(CliTest, AutoOrientRotatesBeforeHashing) {
  REQUIRE_TESTDATA();
  const std::string path = Image("exif-rotn-6.jpg");
  const RunResult plain = Run({"hash", "--json", path});
  const RunResult oriented = Run({"hash", "--json", "--auto-orient", path});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(oriented.exit_code, 0) << oriented.err;
  nlohmann::json a = nlohmann::json::parse(plain.out);
  nlohmann::json b = nlohmann::json::parse(oriented.out);
  EXPECT_EQ(a["pdq"], Split(ExpectedLine("exif-rotn-6.jpg", ""), ',')[0]);  // the reference ignores EXIF
  EXPECT_NE(a["pdq"], b["pdq"]);
  EXPECT_EQ(a["width"], b["height"]);
  EXPECT_EQ(a["height"], b["width"]);
}

// --fast decodes a camera-sized JPEG at reduced size: the hash stays near
// the exact one (well inside the match radius 31) but the decoded size shows
// the DCT scaling happened.
TEST_F(CliTest, FastPathStaysNearTheExactHash) {
  REQUIRE_TESTDATA();
  const std::string path = Image("exif-rotn-1.jpg");  // 4032x3024
  const RunResult exact = Run({"hash", "--json", path});
  const RunResult fast = Run({"hash", "--json", "--fast", path});
  ASSERT_EQ(exact.exit_code, 0) << exact.err;
  ASSERT_EQ(fast.exit_code, 0) << fast.err;
  nlohmann::json a = nlohmann::json::parse(exact.out);
  nlohmann::json b = nlohmann::json::parse(fast.out);
  EXPECT_EQ(a["width"], 4032);
  EXPECT_LT(b["width"].get<int>(), 4032);
  EXPECT_GE(b["height"].get<int>(), 256);
  const auto ha = takeback::hash::PdqHash::FromHex(a["pdq"].get<std::string>());
  const auto hb = takeback::hash::PdqHash::FromHex(b["pdq"].get<std::string>());
  ASSERT_TRUE(ha && hb);
  EXPECT_LE(takeback::hash::HammingDistance(*ha, *hb), 16);
}

// ---------------------------------------------------------------- bad files

TEST_F(CliTest, EachBadFileGetsOneLineAndTheRunGoesOn) {
  REQUIRE_TESTDATA();
  WriteFile(tmp_ / "empty.jpg", "");
  std::mt19937 rng(42);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible on purpose
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng() & 0xFF);
  noise[0] = 'x';  // never a valid magic number by chance
  WriteFile(tmp_ / "random.jpg", noise);
  const std::string jpeg = ReadFile(kImages / "bridge-1-original.jpg");
  WriteFile(tmp_ / "truncated.jpg", jpeg.substr(0, jpeg.size() / 3));
  WriteFile(tmp_ / "notes.txt", "these are not the pixels you are looking for\n");
  fs::create_directory(tmp_ / "folder");

  const std::string good = Image("wee.jpg");
  const std::vector<std::string> bad = {Tmp("empty.jpg"), Tmp("random.jpg"),  Tmp("truncated.jpg"),
                                        Tmp("notes.txt"), Tmp("missing.jpg"), Tmp("folder")};
  std::vector<std::string> args = {"hash", good};
  args.insert(args.end(), bad.begin(), bad.end());
  args.push_back(Image("c.png"));
  const RunResult r = Run(args);

  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Lines(r.out),
            (std::vector<std::string>{ExpectedLine("wee.jpg", good), ExpectedLine("c.png", Image("c.png"))}));
  const std::vector<std::string> err = Lines(r.err);
  ASSERT_EQ(err.size(), bad.size()) << r.err;
  const std::vector<std::string> codes = {"corrupt",     "unsupported", "corrupt",
                                          "unsupported", "not_found",   "invalid_argument"};
  for (std::size_t i = 0; i < bad.size(); ++i) {
    const std::string prefix = "takeback: " + bad[i] + ": " + codes[i] + ": ";
    EXPECT_EQ(err[i].rfind(prefix, 0), 0U) << "want prefix '" << prefix << "', got '" << err[i] << "'";
    EXPECT_GT(err[i].size(), prefix.size()) << "no reason given: " << err[i];
  }
  EXPECT_NE(err[0].find("empty"), std::string::npos);
  EXPECT_NE(err[5].find("-r"), std::string::npos);  // the hint
}

TEST_F(CliTest, BadFilesOnlyStillExitOne) {
  WriteFile(tmp_ / "empty.jpg", "");
  const RunResult r = Run({"hash", "--json", Tmp("empty.jpg")});
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json value = nlohmann::json::parse(r.out);
  EXPECT_EQ(value["error"]["code"], "corrupt");
  EXPECT_EQ(Lines(r.err),
            std::vector<std::string>{"takeback: " + Tmp("empty.jpg") + ": corrupt: empty file (0 bytes)"});
}

TEST_F(CliTest, UnreadableFile) {
  REQUIRE_TESTDATA();
  const fs::path path = tmp_ / "unreadable.jpg";
  fs::copy_file(kImages / "wee.jpg", path);
  fs::permissions(path, fs::perms::none);
  const RunResult r = Run({"hash", path.string()});
  if (::access(path.c_str(), R_OK) == 0) {
    // root reads it anyway (CAP_DAC_OVERRIDE): then it is simply a good file.
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Lines(r.out), std::vector<std::string>{ExpectedLine("wee.jpg", path.string())});
  } else {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "takeback: " + path.string() + ": io_error: cannot open: Permission denied\n");
  }
}

TEST_F(CliTest, FifoIsRefusedNotWaitedOn) {
  ASSERT_EQ(::mkfifo(Tmp("fifo").c_str(), 0600), 0);
  const RunResult r = Run({"hash", Tmp("fifo")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "takeback: " + Tmp("fifo") + ": io_error: not a regular file\n");
}

TEST_F(CliTest, Limits) {
  REQUIRE_TESTDATA();
  const std::string path = Image("bridge-1-original.jpg");
  RunResult r = Run({"hash", "--max-file-size", "1K", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("takeback: " + path + ": too_large: ", 0), 0U) << r.err;

  r = Run({"hash", "--max-pixels", "1000", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("takeback: " + path + ": too_large: ", 0), 0U) << r.err;

  r = Run({"hash", "--max-file-size", "1G", "--max-pixels", "100000000", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out), std::vector<std::string>{ExpectedLine("bridge-1-original.jpg", path)});
}

TEST_F(CliTest, ManyFilesInParallelKeepInputOrder) {
  REQUIRE_TESTDATA();
  // The same few images many times over, through stdin, more than a handful
  // so that a progress line would be drawn if stderr were a terminal.
  const std::vector<std::string> names = {"wee.jpg", "small.jpg", "q0003.jpg", "c.png"};
  std::string input;
  std::vector<std::string> want;
  for (int round = 0; round < 6; ++round) {
    for (const std::string& name : names) {
      input += Image(name) + "\n";
      want.push_back(ExpectedLine(name, Image(name)));
    }
  }
  const RunResult r = Run({"hash", "-j3", "-"}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Lines(r.out), want);
}

}  // namespace
