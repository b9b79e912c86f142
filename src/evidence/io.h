// File helpers shared by the evidence library's files (internal; not part of
// its API). Every write that must survive a crash goes through these.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace takeback::evidence::internal {

// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release();

 private:
  int fd_ = -1;
};

Status ErrnoError(const std::string& what, const std::string& path, int err);
// Creates `path` and its parents (mode 0700 for new directories).
Status MakeDirs(const std::string& path);
Status WriteAll(int fd, std::span<const std::uint8_t> bytes, const std::string& path);
Status WriteAll(int fd, std::string_view bytes, const std::string& path);
Status PreadAll(int fd, std::uint64_t offset, std::span<std::uint8_t> out, const std::string& path);
Status FsyncDir(const std::string& dir);
// Writes `bytes` to a temporary file beside `path`, fsyncs it, renames it
// over `path` and fsyncs the directory. With `exclusive`, kInvalidArgument
// (nothing written) when `path` already exists.
Status WriteFileDurable(const std::string& path, std::string_view bytes, mode_t mode, bool exclusive);
// The whole file (up to `max_bytes`).
Result<std::string> ReadWholeFile(const std::string& path, std::uint64_t max_bytes);
bool PathExists(const std::string& path);

}  // namespace takeback::evidence::internal
