// The evidence store of one deployment: a directory holding the log, its
// signed tree heads, the signing key and the sealed originals
// (docs/formats/evidence-log.md). This is the API that `takeback evidence`
// and `takeback scan --preserve` capture through.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "evidence/entry.h"
#include "evidence/keys.h"
#include "evidence/log.h"
#include "evidence/sealed_store.h"

namespace takeback::evidence {

// Wall-clock time, swappable in tests.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t NowUnixSeconds() const = 0;
};
const Clock& SystemClock();

struct StoreOptions {
  std::string dir;               // the evidence directory (created when absent)
  std::string sealing_key_path;  // empty: DIR/keys/sealing.key
  const Clock* clock = nullptr;  // nullptr: SystemClock()
};

// One item to capture. `entry` describes it; Capture fills in sha256, size,
// captured_time (when empty) and media_type (when empty, sniffed from the
// bytes). The bytes are only read during the call.
struct CaptureItem {
  std::span<const std::uint8_t> bytes;
  Entry entry;
};

// The media type recognised from the first bytes ("image/jpeg", "image/png",
// "image/gif", "image/webp", "image/bmp", "image/heic", "image/avif",
// "video/mp4", "application/pdf"), else "application/octet-stream".
std::string SniffMediaType(std::span<const std::uint8_t> bytes);

// Not thread-safe; one per directory and process (the log's lock refuses a
// second writer process).
class EvidenceStore {
 public:
  // Opens or creates the store. Refuses (kCorrupt, naming the head) a log
  // that does not match its own signed tree heads: entries altered,
  // reordered or removed, or the log truncated below a signed size.
  static Result<std::unique_ptr<EvidenceStore>> Open(const StoreOptions& options);

  // Seals every item, appends its entry and commits once (one fsync for the
  // whole batch). Returns the entries' indices. On error no entry of this
  // call is acknowledged (sealed files already written stay: they are
  // content-addressed and harmless); reopen the store before going on.
  Result<std::vector<std::uint64_t>> Capture(std::span<const CaptureItem> items);

  // Batching for bulk capture: Add seals and appends without making the
  // entry durable; Commit makes all added entries durable, signs a tree head
  // over them and returns it.
  Result<std::uint64_t> Add(const CaptureItem& item);
  Result<SignedTreeHead> Commit();

  // A freshly signed head over the current (committed) log, not stored.
  Result<SignedTreeHead> SignHead() const;

  // Proves that `old_head` (signed by this log's key) is a prefix of the
  // current log. kCorrupt naming the cause when the signature fails, the
  // old head is larger than the log, or the log forked (the root at the old
  // size differs). Returns the RFC 9162 consistency proof.
  Result<std::vector<Hash>> ProveConsistency(const SignedTreeHead& old_head) const;

  // Re-reads everything: each record must be canonical, each signed head
  // must verify and match, each sealed original named by an entry must
  // decrypt to its digest (with `check_sealed`). Appends one line per check
  // to `lines`; returns the first failure.
  Status Check(bool check_sealed, std::vector<std::string>& lines) const;

  // Indices of the entries whose case is `case_ref`, ascending.
  Result<std::vector<std::uint64_t>> CaseEntries(std::string_view case_ref) const;

  const EvidenceLog& log() const { return *log_; }
  const SealedStore& sealed() const { return *sealed_; }
  const Signer& signer() const { return *signer_; }
  const std::vector<SignedTreeHead>& heads() const { return heads_; }
  const std::string& dir() const { return dir_; }

 private:
  EvidenceStore() = default;
  Status LoadHeads();

  std::string dir_;
  std::string heads_path_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<EvidenceLog> log_;
  std::unique_ptr<SealedStore> sealed_;
  std::unique_ptr<Signer> signer_;
  std::vector<SignedTreeHead> heads_;
};

// One stored head line: canonical head JSON, a tab, the hex signature.
std::string FormatHeadLine(const SignedTreeHead& sth);
Result<SignedTreeHead> ParseHeadLine(std::string_view line);

}  // namespace takeback::evidence
