#include "evidence/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "evidence/io.h"

namespace takeback::evidence {
namespace {

constexpr std::string_view kMagic = "TBEVLOG1";
constexpr std::size_t kLengthBytes = 4;
constexpr std::size_t kChecksumBytes = 8;  // the first 8 bytes of the record's Merkle leaf hash
constexpr std::size_t kReadChunk = std::size_t{4} << 20;

void PutU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

std::uint32_t GetU32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

std::span<const std::uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Sequential reader over the log file with a large buffer.
class Reader {
 public:
  Reader(int fd, std::uint64_t size, const std::string& path) : fd_(fd), size_(size), path_(path) {}
  // Bytes [offset, offset + n) or an empty span when past EOF. Valid until the next call.
  Result<std::span<const std::uint8_t>> Get(std::uint64_t offset, std::size_t n) {
    if (offset + n > size_) return std::span<const std::uint8_t>();
    if (offset < buf_start_ || offset + n > buf_start_ + buf_.size()) {
      buf_.resize(std::max(kReadChunk, n));
      const std::uint64_t len = std::min<std::uint64_t>(buf_.size(), size_ - offset);
      buf_.resize(static_cast<std::size_t>(len));
      TAKEBACK_RETURN_IF_ERROR(internal::PreadAll(fd_, offset, buf_, path_));
      buf_start_ = offset;
    }
    return std::span<const std::uint8_t>(buf_.data() + (offset - buf_start_), n);
  }

 private:
  int fd_;
  std::uint64_t size_;
  const std::string& path_;
  std::vector<std::uint8_t> buf_;
  std::uint64_t buf_start_ = 0;
};

}  // namespace

EvidenceLog::~EvidenceLog() {
  if (fd_ >= 0) ::close(fd_);  // also releases the flock
}

Result<std::unique_ptr<EvidenceLog>> EvidenceLog::Open(const std::string& log_dir) {
  TAKEBACK_RETURN_IF_ERROR(internal::MakeDirs(log_dir));
  std::unique_ptr<EvidenceLog> log(new EvidenceLog());
  log->path_ = log_dir + "/entries";
  log->fd_ = ::open(log->path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (log->fd_ < 0) return internal::ErrnoError("cannot open", log->path_, errno);
  if (::flock(log->fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return IoError("evidence log " + log->path_ + " is in use by another process");
    return internal::ErrnoError("cannot lock", log->path_, errno);
  }
  TAKEBACK_RETURN_IF_ERROR(log->Load());
  return log;
}

Status EvidenceLog::Load() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return internal::ErrnoError("cannot stat", path_, errno);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size == 0) {
    TAKEBACK_RETURN_IF_ERROR(internal::WriteAll(fd_, kMagic, path_));
    if (::fsync(fd_) != 0) return internal::ErrnoError("cannot fsync", path_, errno);
    TAKEBACK_RETURN_IF_ERROR(internal::FsyncDir(path_.substr(0, path_.rfind('/'))));
    file_size_ = kMagic.size();
    return Status::Ok();
  }
  Reader reader(fd_, size, path_);
  Result<std::span<const std::uint8_t>> magic = reader.Get(0, kMagic.size());
  if (!magic.ok()) return magic.status();
  if (magic->empty() || std::memcmp(magic->data(), kMagic.data(), kMagic.size()) != 0) {
    return Corrupt(path_ + " is not a Takeback evidence log (bad header)");
  }
  std::uint64_t offset = kMagic.size();
  while (offset < size) {
    const std::uint64_t index = offsets_.size();
    const std::string where = "record " + std::to_string(index) + " at byte " + std::to_string(offset);
    Result<std::span<const std::uint8_t>> head = reader.Get(offset, kLengthBytes);
    if (!head.ok()) return head.status();
    if (head->empty()) break;  // torn length
    const std::uint32_t len = GetU32(head->data());
    if (len == 0 || len > kMaxEntryBytes) {
      // A crash can leave a zero-filled tail; anything else is damage.
      bool zeros = true;
      for (std::uint64_t at = offset; at < size && zeros; at += 4096) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(4096, size - at));
        Result<std::span<const std::uint8_t>> chunk = reader.Get(at, n);
        if (!chunk.ok()) return chunk.status();
        for (const std::uint8_t b : *chunk) zeros = zeros && b == 0;
      }
      if (zeros) break;
      return Corrupt(path_ + ": " + where + ": bad length " + std::to_string(len));
    }
    const std::uint64_t record_end = offset + kLengthBytes + len + kChecksumBytes;
    if (record_end > size) break;  // torn payload
    Result<std::span<const std::uint8_t>> record = reader.Get(offset + kLengthBytes, len + kChecksumBytes);
    if (!record.ok()) return record.status();
    const Hash leaf = LeafHash(record->first(len));
    if (std::memcmp(leaf.data(), record->data() + len, kChecksumBytes) != 0) {
      if (record_end == size) break;  // the last record, torn inside
      return Corrupt(path_ + ": " + where + ": checksum mismatch (the entry was altered or damaged)");
    }
    offsets_.push_back(offset);
    tree_.Append(leaf);
    offset = record_end;
  }
  if (offset < size) {
    recovered_tail_bytes_ = size - offset;
    if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0) return internal::ErrnoError("cannot truncate", path_, errno);
    if (::fsync(fd_) != 0) return internal::ErrnoError("cannot fsync", path_, errno);
  }
  file_size_ = offset;
  committed_ = offsets_.size();
  if (::lseek(fd_, static_cast<off_t>(file_size_), SEEK_SET) < 0)
    return internal::ErrnoError("cannot seek", path_, errno);
  return Status::Ok();
}

Result<std::uint64_t> EvidenceLog::Append(const Entry& entry) {
  Result<std::string> bytes = EncodeEntry(entry);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() > kMaxEntryBytes) return TooLarge("entry is over " + std::to_string(kMaxEntryBytes) + " bytes");
  const Hash leaf = LeafHash(Bytes(*bytes));
  offsets_.push_back(file_size_ + pending_.size());
  PutU32(pending_, static_cast<std::uint32_t>(bytes->size()));
  pending_ += *bytes;
  pending_.append(reinterpret_cast<const char*>(leaf.data()), kChecksumBytes);
  tree_.Append(leaf);
  return offsets_.size() - 1;
}

Status EvidenceLog::Commit() {
  if (pending_.empty()) return Status::Ok();
  TAKEBACK_RETURN_IF_ERROR(internal::WriteAll(fd_, pending_, path_));
  if (::fdatasync(fd_) != 0) return internal::ErrnoError("cannot sync", path_, errno);
  file_size_ += pending_.size();
  pending_.clear();
  committed_ = offsets_.size();
  return Status::Ok();
}

Result<std::string> EvidenceLog::EntryBytes(std::uint64_t index) const {
  if (index >= offsets_.size())
    return NotFound("no entry " + std::to_string(index) + " (log holds " + std::to_string(offsets_.size()) + ")");
  const std::uint64_t offset = offsets_[index];
  std::array<std::uint8_t, kLengthBytes> head{};
  if (offset >= file_size_) {
    const std::size_t at = static_cast<std::size_t>(offset - file_size_);
    std::memcpy(head.data(), pending_.data() + at, kLengthBytes);
    return pending_.substr(at + kLengthBytes, GetU32(head.data()));
  }
  TAKEBACK_RETURN_IF_ERROR(internal::PreadAll(fd_, offset, head, path_));
  std::string bytes(GetU32(head.data()), '\0');
  TAKEBACK_RETURN_IF_ERROR(internal::PreadAll(
      fd_, offset + kLengthBytes, std::span(reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size()), path_));
  return bytes;
}

Result<Entry> EvidenceLog::ReadEntry(std::uint64_t index) const {
  Result<std::string> bytes = EntryBytes(index);
  if (!bytes.ok()) return bytes.status();
  Result<Entry> entry = DecodeEntry(*bytes);
  if (!entry.ok()) return Corrupt("entry " + std::to_string(index) + ": " + entry.status().message());
  return entry;
}

}  // namespace takeback::evidence
