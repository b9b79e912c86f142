#include "evidence/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/hex.h"
#include "evidence/io.h"

namespace takeback::evidence {
namespace {

class RealClock : public Clock {
 public:
  std::int64_t NowUnixSeconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

bool StartsWith(std::span<const std::uint8_t> b, std::size_t at, std::string_view magic) {
  return b.size() >= at + magic.size() && std::memcmp(b.data() + at, magic.data(), magic.size()) == 0;
}

constexpr std::uint64_t kMaxHeadsFileBytes = std::uint64_t{1} << 30;

}  // namespace

const Clock& SystemClock() {
  static const RealClock clock;
  return clock;
}

std::string SniffMediaType(std::span<const std::uint8_t> b) {
  if (StartsWith(b, 0, "\xFF\xD8\xFF")) return "image/jpeg";
  if (StartsWith(b, 0, "\x89PNG\r\n\x1A\n")) return "image/png";
  if (StartsWith(b, 0, "GIF87a") || StartsWith(b, 0, "GIF89a")) return "image/gif";
  if (StartsWith(b, 0, "RIFF") && StartsWith(b, 8, "WEBP")) return "image/webp";
  if (StartsWith(b, 0, "BM")) return "image/bmp";
  if (StartsWith(b, 0, "%PDF-")) return "application/pdf";
  if (StartsWith(b, 4, "ftyp")) {
    if (StartsWith(b, 8, "heic") || StartsWith(b, 8, "heix") || StartsWith(b, 8, "mif1")) return "image/heic";
    if (StartsWith(b, 8, "avif")) return "image/avif";
    if (StartsWith(b, 8, "qt  ")) return "video/quicktime";
    return "video/mp4";
  }
  return "application/octet-stream";
}

std::string FormatHeadLine(const SignedTreeHead& sth) {
  return EncodeTreeHead(sth.head) + "\t" + HexEncode(sth.signature) + "\n";
}

Result<SignedTreeHead> ParseHeadLine(std::string_view line) {
  const std::size_t tab = line.find('\t');
  if (tab == std::string_view::npos) return Corrupt("no signature");
  Result<TreeHead> head = DecodeTreeHead(line.substr(0, tab));
  if (!head.ok()) return head.status();
  const std::optional<std::vector<std::uint8_t>> sig = HexDecode(line.substr(tab + 1));
  if (!sig || sig->size() != 64) return Corrupt("signature is not 128 hex digits");
  SignedTreeHead sth;
  sth.head = *head;
  std::memcpy(sth.signature.data(), sig->data(), 64);
  return sth;
}

Result<std::unique_ptr<EvidenceStore>> EvidenceStore::Open(const StoreOptions& options) {
  if (options.dir.empty()) return InvalidArgument("no evidence directory given");
  std::unique_ptr<EvidenceStore> store(new EvidenceStore());
  store->dir_ = options.dir;
  store->clock_ = options.clock != nullptr ? options.clock : &SystemClock();
  TAKEBACK_RETURN_IF_ERROR(internal::MakeDirs(options.dir));
  Result<std::unique_ptr<EvidenceLog>> log = EvidenceLog::Open(options.dir + "/log");
  if (!log.ok()) return log.status();
  store->log_ = std::move(*log);
  Result<std::unique_ptr<Signer>> signer = Signer::LoadOrCreate(options.dir + "/keys");
  if (!signer.ok()) return signer.status();
  store->signer_ = std::move(*signer);
  const std::string key_path =
      options.sealing_key_path.empty() ? options.dir + "/keys/sealing.key" : options.sealing_key_path;
  Result<std::unique_ptr<SealedStore>> sealed = SealedStore::Open(options.dir + "/sealed", key_path);
  if (!sealed.ok()) return sealed.status();
  store->sealed_ = std::move(*sealed);
  store->heads_path_ = options.dir + "/log/heads";
  TAKEBACK_RETURN_IF_ERROR(store->LoadHeads());
  return store;
}

Status EvidenceStore::LoadHeads() {
  if (!internal::PathExists(heads_path_)) return Status::Ok();
  Result<std::string> text = internal::ReadWholeFile(heads_path_, kMaxHeadsFileBytes);
  if (!text.ok()) return text.status();
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < text->size()) {
    const std::size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) {
      // A head line cut short by a crash: its entries are durable, the head
      // is re-signed at the next commit.
      if (::truncate(heads_path_.c_str(), static_cast<off_t>(pos)) != 0) {
        return internal::ErrnoError("cannot truncate", heads_path_, errno);
      }
      break;
    }
    ++line_no;
    const std::string where = heads_path_ + " line " + std::to_string(line_no);
    Result<SignedTreeHead> sth = ParseHeadLine(std::string_view(*text).substr(pos, nl - pos));
    if (!sth.ok()) return Corrupt(where + ": " + sth.status().message());
    if (!VerifyTreeHead(signer_->public_key(), *sth)) {
      return Corrupt(where + ": signature does not verify with this log's key");
    }
    heads_.push_back(*sth);
    pos = nl + 1;
  }
  if (heads_.empty()) return Status::Ok();
  for (const SignedTreeHead& sth : heads_) {
    if (sth.head.size > log_->size()) {
      return Corrupt("log truncated: a signed tree head (" + sth.head.time + ") covers " +
                     std::to_string(sth.head.size) + " entries but the log holds only " + std::to_string(log_->size()));
    }
    if (*log_->tree().Root(sth.head.size) != sth.head.root) {
      return Corrupt("log does not match its signed tree head of size " + std::to_string(sth.head.size) + " (" +
                     sth.head.time + "): entries were altered, reordered or removed");
    }
  }
  return Status::Ok();
}

Result<std::uint64_t> EvidenceStore::Add(const CaptureItem& item) {
  Entry entry = item.entry;
  Result<Hash> digest = sealed_->Put(item.bytes);
  if (!digest.ok()) return digest.status();
  entry.sha256 = HashHex(*digest);
  entry.size = item.bytes.size();
  if (entry.media_type.empty()) entry.media_type = SniffMediaType(item.bytes);
  if (entry.captured_time.empty()) entry.captured_time = FormatUtcTime(clock_->NowUnixSeconds());
  return log_->Append(entry);
}

Result<SignedTreeHead> EvidenceStore::SignHead() const {
  TreeHead head;
  head.size = log_->committed_size();
  Result<Hash> root = log_->tree().Root(head.size);
  if (!root.ok()) return root.status();
  head.root = *root;
  head.time = FormatUtcTime(clock_->NowUnixSeconds());
  head.key_id = KeyId(signer_->public_key());
  return SignTreeHead(*signer_, head);
}

Result<SignedTreeHead> EvidenceStore::Commit() {
  TAKEBACK_RETURN_IF_ERROR(log_->Commit());
  if (!heads_.empty() && heads_.back().head.size == log_->committed_size()) return heads_.back();
  Result<SignedTreeHead> sth = SignHead();
  if (!sth.ok()) return sth;
  const internal::Fd fd(::open(heads_path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return internal::ErrnoError("cannot open", heads_path_, errno);
  TAKEBACK_RETURN_IF_ERROR(internal::WriteAll(fd.get(), FormatHeadLine(*sth), heads_path_));
  if (::fdatasync(fd.get()) != 0) return internal::ErrnoError("cannot sync", heads_path_, errno);
  heads_.push_back(*sth);
  return sth;
}

Result<std::vector<std::uint64_t>> EvidenceStore::Capture(std::span<const CaptureItem> items) {
  std::vector<std::uint64_t> indices;
  for (const CaptureItem& item : items) {
    Result<std::uint64_t> index = Add(item);
    if (!index.ok()) return index.status();
    indices.push_back(*index);
  }
  Result<SignedTreeHead> sth = Commit();
  if (!sth.ok()) return sth.status();
  return indices;
}

Result<std::vector<Hash>> EvidenceStore::ProveConsistency(const SignedTreeHead& old_head) const {
  if (!VerifyTreeHead(signer_->public_key(), old_head)) {
    return Corrupt("the saved tree head's signature does not verify with this log's key");
  }
  const std::uint64_t size = log_->committed_size();
  if (old_head.head.size > size) {
    return Corrupt("log truncated: the saved tree head covers " + std::to_string(old_head.head.size) +
                   " entries, the log holds " + std::to_string(size));
  }
  if (*log_->tree().Root(old_head.head.size) != old_head.head.root) {
    return Corrupt("log forked: its root at size " + std::to_string(old_head.head.size) +
                   " differs from the saved tree head's (history was rewritten)");
  }
  if (old_head.head.size == 0) return std::vector<Hash>{};
  Result<std::vector<Hash>> proof = log_->tree().ConsistencyProof(old_head.head.size, size);
  if (!proof.ok()) return proof;
  if (!VerifyConsistency(old_head.head.size, size, old_head.head.root, *log_->tree().Root(size), *proof)) {
    return Internal("consistency proof does not verify");
  }
  return proof;
}

Status EvidenceStore::Check(bool check_sealed, std::vector<std::string>& lines) const {
  const std::uint64_t n = log_->committed_size();
  for (std::uint64_t i = 0; i < n; ++i) {
    Result<Entry> entry = log_->ReadEntry(i);
    if (!entry.ok()) {
      lines.push_back("FAIL entry " + std::to_string(i) + ": " + entry.status().message());
      return entry.status();
    }
    if (check_sealed) {
      const Result<Hash> digest = ParseHashHex(entry->sha256);
      Result<std::vector<std::uint8_t>> original =
          digest.ok() ? sealed_->Get(*digest) : Result<std::vector<std::uint8_t>>(digest.status());
      if (!original.ok()) {
        lines.push_back("FAIL entry " + std::to_string(i) + ": " + original.status().message());
        return Corrupt("entry " + std::to_string(i) + ": " + original.status().message());
      }
    }
  }
  lines.push_back("ok   " + std::to_string(n) + " entries are well-formed canonical JSON with valid checksums" +
                  (check_sealed ? ", and every sealed original decrypts to its SHA-256" : ""));
  lines.push_back("ok   " + std::to_string(heads_.size()) +
                  " signed tree heads verify with the log key and match the log (no truncation, no rewrite)");
  lines.push_back("ok   root at size " + std::to_string(n) + ": " + HashHex(*log_->tree().Root(n)));
  return Status::Ok();
}

Result<std::vector<std::uint64_t>> EvidenceStore::CaseEntries(std::string_view case_ref) const {
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = 0; i < log_->committed_size(); ++i) {
    Result<Entry> entry = log_->ReadEntry(i);
    if (!entry.ok()) return entry.status();
    if (entry->case_ref == case_ref) out.push_back(i);
  }
  return out;
}

}  // namespace takeback::evidence
