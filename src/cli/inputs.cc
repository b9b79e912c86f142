#include "cli/inputs.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <istream>
#include <set>
#include <utility>

namespace takeback::cli {
namespace {

using DirId = std::pair<dev_t, ino_t>;

Status StatError(int err) {
  if (err == ENOENT) return NotFound("no such file or directory");
  return IoError(std::strerror(err));
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// Appends the regular files below `dir` to `out` (unsorted). `visited`
// holds the directories already entered, guarding against loops that
// bind mounts could create.
void Walk(const std::string& dir, std::set<DirId>& visited, std::vector<InputItem>& out) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    out.push_back({dir, IoError("cannot list directory: " + ec.message())});
    return;
  }
  std::vector<std::string> names;
  for (const std::filesystem::directory_iterator end; it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) out.push_back({dir, IoError("cannot list directory: " + ec.message())});
  for (const std::string& name : names) {
    const std::string path = JoinPath(dir, name);
    struct stat lst {};
    if (::lstat(path.c_str(), &lst) != 0) continue;  // vanished while listing
    if (S_ISDIR(lst.st_mode)) {
      if (visited.insert({lst.st_dev, lst.st_ino}).second) Walk(path, visited, out);
      continue;
    }
    struct stat st {};
    const bool regular =
        S_ISREG(lst.st_mode) || (S_ISLNK(lst.st_mode) && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode));
    if (regular) out.push_back({path, Status::Ok()});
  }
}

void AddArgument(const std::string& arg, bool recursive, std::vector<InputItem>& out) {
  struct stat st {};
  if (::stat(arg.c_str(), &st) != 0) {
    out.push_back({arg, StatError(errno)});
    return;
  }
  if (S_ISREG(st.st_mode)) {
    out.push_back({arg, Status::Ok()});
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    out.push_back({arg, IoError("not a regular file")});
    return;
  }
  if (!recursive) {
    out.push_back({arg, InvalidArgument("is a directory (use -r to hash the files inside it)")});
    return;
  }
  std::vector<InputItem> found;
  std::set<DirId> visited = {{st.st_dev, st.st_ino}};
  Walk(arg, visited, found);
  std::sort(found.begin(), found.end(), [](const InputItem& a, const InputItem& b) { return a.path < b.path; });
  std::move(found.begin(), found.end(), std::back_inserter(out));
}

}  // namespace

std::vector<InputItem> CollectInputs(std::span<const std::string> args, bool recursive, std::istream& in) {
  std::vector<InputItem> out;
  for (const std::string& arg : args) {
    if (arg != "-") {
      AddArgument(arg, recursive, out);
      continue;
    }
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) AddArgument(line, recursive, out);
    }
  }
  return out;
}

}  // namespace takeback::cli
