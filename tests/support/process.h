// Helpers for tests that run the real `takeback` binary (or another program)
// through a shell, as a user would, and look at its output and exit status.
// Header-only; used by the integration and golden tests.
#ifndef TAKEBACK_TESTS_SUPPORT_PROCESS_H_
#define TAKEBACK_TESTS_SUPPORT_PROCESS_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace takeback::testing {

// What a finished command left: its exit status (-1 when it did not exit
// normally, e.g. killed by a signal) and what it wrote to stdout and stderr.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Quotes `s` for a POSIX shell: 'it'\''s'.
inline std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (const char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// The whole file, or "" when it cannot be read.
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Replaces the file with `bytes` (making it writable for its owner first, so
// read-only files such as sealed evidence can be overwritten in tamper tests).
inline void WriteFile(const std::filesystem::path& path, const std::string& bytes) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::filesystem::permissions(path, std::filesystem::perms::owner_write, std::filesystem::perm_options::add, ec);
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The lines of `text`, without their '\n'.
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Runs `command` with /bin/sh in `dir` (when not empty), with `input` on
// stdin; stdout and stderr are captured through files in `scratch`, which
// must be an existing writable directory.
inline RunResult RunShell(const std::string& command, const std::filesystem::path& scratch,
                          const std::string& input = "", const std::filesystem::path& dir = {}) {
  WriteFile(scratch / ".stdin", input);
  std::string full;
  if (!dir.empty()) full += "cd " + ShellQuote(dir.string()) + " && ";
  full += "(" + command + ") <" + ShellQuote((scratch / ".stdin").string()) + " >" +
          ShellQuote((scratch / ".stdout").string()) + " 2>" + ShellQuote((scratch / ".stderr").string());
  const int status = std::system(full.c_str());  // NOLINT(cert-env33-c): a shell, as a user would run it
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(scratch / ".stdout");
  result.err = ReadFile(scratch / ".stderr");
  return result;
}

// Builds "timeout SECONDS 'program' 'arg'..." so that a hang becomes exit
// status 124 instead of stalling the whole test run.
inline std::string TimedCommand(int timeout_seconds, const std::string& program, const std::vector<std::string>& args) {
  std::string cmd = "timeout " + std::to_string(timeout_seconds) + " " + ShellQuote(program);
  for (const std::string& arg : args) cmd += " " + ShellQuote(arg);
  return cmd;
}

// A fresh directory under the system temporary directory, removed with
// everything in it when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "takeback_test") {
    std::string templ = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
    if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    // Let the owner remove read-only directories left by the test.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) {
        std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all, std::filesystem::perm_options::add,
                                     ec);
      }
    }
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Empty when the directory could not be made.
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace takeback::testing

#endif  // TAKEBACK_TESTS_SUPPORT_PROCESS_H_
