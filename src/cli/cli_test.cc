#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/hash_command.h"
#include "cli/inputs.h"
#include "cli/ordered_pool.h"
#include "cli/progress.h"

namespace takeback::cli {
namespace {

constexpr std::array<OptionSpec, 3> kSpecs = {{{"recursive", 'r', false}, {"jobs", 'j', true}, {"json", '\0', false}}};

Result<ParsedArgs> Parse(std::vector<std::string> args) { return ParseArgs(args, kSpecs); }

TEST(ParseArgsTest, LongShortGroupedAndPositionals) {
  const Result<ParsedArgs> parsed = Parse({"-rj4", "a", "--json", "-", "--jobs=2", "--", "--json"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->Has("recursive"));
  EXPECT_TRUE(parsed->Has("json"));
  EXPECT_EQ(parsed->Value("jobs"), "2");  // the last one wins
  EXPECT_EQ(parsed->positionals, (std::vector<std::string>{"a", "-", "--json"}));
}

TEST(ParseArgsTest, SeparateValues) {
  const Result<ParsedArgs> parsed = Parse({"-j", "3", "--jobs", "5", "x"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Value("jobs"), "5");
  EXPECT_EQ(parsed->positionals, std::vector<std::string>{"x"});
}

TEST(ParseArgsTest, Errors) {
  EXPECT_EQ(Parse({"--nope"}).status().message(), "unknown option '--nope'");
  EXPECT_EQ(Parse({"-x"}).status().message(), "unknown option '-x'");
  EXPECT_EQ(Parse({"--jobs"}).status().message(), "option '--jobs' needs a value");
  EXPECT_EQ(Parse({"-j"}).status().message(), "option '-j' needs a value");
  EXPECT_EQ(Parse({"--json=1"}).status().message(), "option '--json' takes no value");
}

TEST(ParseNumberTest, UintAndByteSize) {
  EXPECT_EQ(ParseUint("4000"), 4000U);
  EXPECT_FALSE(ParseUint("-1"));
  EXPECT_FALSE(ParseUint("1x"));
  EXPECT_FALSE(ParseUint("99999999999999999999999"));
  EXPECT_EQ(ParseByteSize("1048576"), 1048576U);
  EXPECT_EQ(ParseByteSize("512K"), 512U << 10);
  EXPECT_EQ(ParseByteSize("512m"), 512U << 20);
  EXPECT_EQ(ParseByteSize("1G"), 1ULL << 30);
  EXPECT_EQ(ParseByteSize("1GiB"), 1ULL << 30);
  EXPECT_EQ(ParseByteSize("2TB"), 2ULL << 40);
  EXPECT_EQ(ParseByteSize("10B"), 10U);
  EXPECT_FALSE(ParseByteSize("M"));
  EXPECT_FALSE(ParseByteSize("1X"));
  EXPECT_FALSE(ParseByteSize("1iB"));
  EXPECT_FALSE(ParseByteSize("99999999999T"));
}

TEST(ProgressTest, Format) {
  EXPECT_EQ(FormatProgress(0, 4000, 0.0), "[   0/4000]   0.0%");
  EXPECT_EQ(FormatProgress(120, 4000, 1.5), "[ 120/4000]   3.0%  80 files/s  ETA 49s");
  EXPECT_EQ(FormatProgress(10, 4000, 10.0), "[  10/4000]   0.2%  1 files/s  ETA 1h6m");
  EXPECT_EQ(FormatProgress(4000, 4000, 40.0), "[4000/4000] 100.0%  100 files/s");
}

TEST(RunOrderedTest, EmitsInInputOrder) {
  for (const unsigned threads : {1U, 4U}) {
    std::vector<int> seen;
    RunOrdered<int>(
        100, threads, [](std::size_t i) { return static_cast<int>(i) * 2; },
        [&](std::size_t i, int value) {
          EXPECT_EQ(value, static_cast<int>(i) * 2);
          seen.push_back(value / 2);
        });
    ASSERT_EQ(seen.size(), 100U);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], i);
  }
}

class InputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("takeback_cli_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "d" / "sub");
    Touch("d/b.jpg");
    Touch("d/a-c.jpg");
    Touch("d/sub/z.jpg");
    std::filesystem::create_directory_symlink(dir_ / "d", dir_ / "d" / "sub" / "loop");
    std::filesystem::create_symlink(dir_ / "d" / "b.jpg", dir_ / "d" / "link.jpg");
    ASSERT_EQ(::mkfifo((dir_ / "d" / "fifo").c_str(), 0600), 0);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Touch(const std::string& name) { std::ofstream(dir_ / name) << "x"; }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

TEST_F(InputsTest, RecursiveIsSortedAndSkipsLoopsAndFifos) {
  std::istringstream in;
  const std::vector<InputItem> items = CollectInputs(std::vector<std::string>{Path("d")}, true, in);
  std::vector<std::string> paths;
  for (const InputItem& item : items) {
    EXPECT_TRUE(item.error.ok()) << item.path;
    paths.push_back(item.path);
  }
  EXPECT_EQ(paths,
            (std::vector<std::string>{Path("d/a-c.jpg"), Path("d/b.jpg"), Path("d/link.jpg"), Path("d/sub/z.jpg")}));
}

TEST_F(InputsTest, DirectoryWithoutRecursiveAndMissingAndStdin) {
  std::istringstream in(Path("d/b.jpg") + "\r\n\n" + Path("nope") + "\n");
  const std::vector<InputItem> items =
      CollectInputs(std::vector<std::string>{Path("d"), "-", Path("d/fifo")}, false, in);
  ASSERT_EQ(items.size(), 4U);
  EXPECT_EQ(items[0].error.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(items[1].error.ok());
  EXPECT_EQ(items[1].path, Path("d/b.jpg"));
  EXPECT_EQ(items[2].error.code(), ErrorCode::kNotFound);
  EXPECT_EQ(items[3].error.code(), ErrorCode::kIoError);
}

int RunHash(std::vector<std::string> args, std::string& out, std::string& err) {
  std::istringstream in;
  std::ostringstream out_stream;
  std::ostringstream err_stream;
  const CommandIo io{in, out_stream, err_stream, false, 1};
  const int code = RunHashCommand(args, io);
  out = out_stream.str();
  err = err_stream.str();
  return code;
}

TEST(HashCommandTest, UsageErrors) {
  std::string out;
  std::string err;
  EXPECT_EQ(RunHash({}, out, err), kExitUsage);
  EXPECT_NE(err.find("no files given"), std::string::npos);
  EXPECT_EQ(RunHash({"--max-file-size", "lots", "x"}, out, err), kExitUsage);
  EXPECT_NE(err.find("invalid value 'lots' for --max-file-size"), std::string::npos);
  EXPECT_EQ(RunHash({"-j", "0", "x"}, out, err), kExitUsage);
  EXPECT_EQ(RunHash({"--help"}, out, err), kExitOk);
  EXPECT_NE(out.find("Exit status"), std::string::npos);
}

}  // namespace
}  // namespace takeback::cli
