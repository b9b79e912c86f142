#include "evidence/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "common/file.h"

namespace takeback::evidence::internal {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

int Fd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

Status ErrnoError(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  if (err == ENOENT) return NotFound(msg);
  return IoError(msg);
}

Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p(path);
  std::vector<std::filesystem::path> missing;
  for (; !p.empty() && !std::filesystem::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError("cannot create directory", *it, errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("cannot stat", path, errno);
  if (!S_ISDIR(st.st_mode)) return IoError(path + " is not a directory");
  return Status::Ok();
}

Status WriteAll(int fd, std::span<const std::uint8_t> bytes, const std::string& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path, errno);
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  return WriteAll(fd, std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), path);
}

Status PreadAll(int fd, std::uint64_t offset, std::span<std::uint8_t> out, const std::string& path) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path, errno);
    }
    if (n == 0) return Corrupt(path + " ends early");
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& dir) {
  const Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync directory", dir, errno);
  return Status::Ok();
}

Status WriteFileDurable(const std::string& path, std::string_view bytes, mode_t mode, bool exclusive) {
  if (exclusive && PathExists(path)) return InvalidArgument(path + " already exists");
  std::random_device rd;
  const std::string tmp = path + ".tmp" + std::to_string(rd());
  {
    const Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (fd.get() < 0) return ErrnoError("cannot create", tmp, errno);
    Status s = WriteAll(fd.get(), bytes, tmp);
    if (s.ok() && ::fsync(fd.get()) != 0) s = ErrnoError("cannot fsync", tmp, errno);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
  }
  // link() refuses to replace an existing file, so two writers cannot both
  // believe they created `path`.
  if (exclusive) {
    const int rc = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (err == EEXIST) return InvalidArgument(path + " already exists");
      return ErrnoError("cannot create", path, err);
    }
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError("cannot rename to", path, err);
  }
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return FsyncDir(parent.empty() ? "." : parent);
}

Result<std::string> ReadWholeFile(const std::string& path, std::uint64_t max_bytes) {
  Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(path, max_bytes);
  if (!bytes.ok()) return Status(bytes.status().code(), path + ": " + bytes.status().message());
  return std::string(bytes->begin(), bytes->end());
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace takeback::evidence::internal
