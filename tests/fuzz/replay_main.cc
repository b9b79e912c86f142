// A main() for fuzz targets built without libFuzzer (e.g. with g++): runs
// LLVMFuzzerTestOneInput once on every file named on the command line, or
// on every regular file inside a named directory (recursively). Used to
// replay tests/fuzz/regressions/ as an ordinary test in every build.
//
// Exit status: 0 when every input ran, 1 when an input could not be read,
// 2 on bad usage. A crash in the target crashes this program, as it should.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  const std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<std::uint8_t> bytes(chars.begin(), chars.end());
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), bytes.size());
  // libFuzzer never passes a null pointer; neither do we.
  const std::uint8_t empty = 0;
  LLVMFuzzerTestOneInput(bytes.empty() ? &empty : bytes.data(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  int inputs = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg, ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& file : files) {
        ok = RunFile(file) && ok;
        ++inputs;
      }
    } else {
      ok = RunFile(arg) && ok;
      ++inputs;
    }
  }
  std::fprintf(stderr, "replay: %d input(s) ran%s\n", inputs, ok ? "" : ", some could not be read");
  return ok ? 0 : 1;
}
