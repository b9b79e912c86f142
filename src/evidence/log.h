// The append-only evidence log: records of canonical JSON entries in one
// file (log/entries), each with a checksum, and the Merkle tree over them.
// Format and recovery rules: docs/formats/evidence-log.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "evidence/entry.h"
#include "evidence/merkle.h"

namespace takeback::evidence {

inline constexpr std::uint32_t kMaxEntryBytes = 1U << 20;

// Not thread-safe: one EvidenceLog per process and directory; a second
// process opening the same log gets kIoError (an exclusive flock is held
// while the object lives).
class EvidenceLog {
 public:
  // Opens (creating when absent) the log in directory `log_dir`. A torn
  // record at the end of the file (an append cut short by a crash) is cut
  // off and its size reported by recovered_tail_bytes(); a damaged record
  // followed by more data is kCorrupt naming the record, and nothing is
  // changed on disk.
  static Result<std::unique_ptr<EvidenceLog>> Open(const std::string& log_dir);
  ~EvidenceLog();
  EvidenceLog(const EvidenceLog&) = delete;
  EvidenceLog& operator=(const EvidenceLog&) = delete;

  // Appends an entry and returns its index. The entry is in the tree at
  // once but durable only after Commit(). kInvalidArgument for an invalid
  // entry (nothing appended).
  Result<std::uint64_t> Append(const Entry& entry);
  // Writes every pending entry and fdatasyncs the file. On error the log
  // must be reopened (the pending entries are lost, the file is unchanged
  // or holds a torn tail that Open() removes).
  Status Commit();

  std::uint64_t size() const { return tree_.size(); }
  std::uint64_t committed_size() const { return committed_; }
  std::uint64_t recovered_tail_bytes() const { return recovered_tail_bytes_; }
  const MerkleTree& tree() const { return tree_; }

  // The canonical bytes of entry `index` (pending entries included).
  Result<std::string> EntryBytes(std::uint64_t index) const;
  Result<Entry> ReadEntry(std::uint64_t index) const;

 private:
  EvidenceLog() = default;
  Status Load();

  std::string path_;
  int fd_ = -1;
  std::uint64_t file_size_ = 0;  // bytes durable-or-written in the file
  std::uint64_t committed_ = 0;
  std::uint64_t recovered_tail_bytes_ = 0;
  std::vector<std::uint64_t> offsets_;  // file offset of each record (pending ones past file_size_)
  std::string pending_;                 // records not yet written
  MerkleTree tree_;
};

}  // namespace takeback::evidence
