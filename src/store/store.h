// The case store: organisations, API keys, cases, banks, signals, reports,
// matches, platform feedback and the audit log (issue 4).
//
// `Store` is the storage-agnostic interface the service (src/cases) talks to;
// OpenSqliteStore() gives the embedded implementation (one file, WAL). A
// PostgreSQL implementation will sit beside it behind the same interface, so
// nothing here names SQLite and the SQL it runs is portable.
//
// Contracts shared by every implementation:
// - Every mutating method is one transaction: on error nothing it would have
//   written is visible, and the audit row(s) it writes commit together with
//   the change they describe.
// - Every change of a signal's state (added, approved, rejected, withdrawn)
//   gives that signal a new change sequence number, strictly greater than
//   every earlier one; ChangesSince() replays them in order (the delta feed).
// - A method that returns successfully has made its change durable (the
//   SQLite implementation commits in WAL mode with synchronous=FULL).
// - Thread-safe: any number of threads may call any method at once.
// - Errors: kNotFound for an unknown id, kInvalidArgument for a request the
//   data does not allow (a duplicate name, a decision on a signal that is not
//   pending), kIoError / kCorrupt when the database cannot be used.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace takeback::store {

enum class Role { kAdmin, kCaseworker, kPlatform, kInvestigator, kFlagger };
// "admin", "caseworker", "platform", "investigator", "flagger".
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

enum class SignalState { kPendingReview, kActive, kWithdrawn, kRejected };
// "pending_review", "active", "withdrawn", "rejected".
std::string_view SignalStateName(SignalState state);
std::optional<SignalState> ParseSignalState(std::string_view name);

struct Organisation {
  std::int64_t id = 0;
  std::string name;
  std::string created_at;  // RFC 3339 UTC
};

struct ApiKey {
  std::int64_t id = 0;
  std::optional<std::int64_t> org_id;
  Role role = Role::kPlatform;
  std::string label;
  std::string prefix;  // the first characters of the key, to tell keys apart in lists
  std::string created_at;
  bool revoked = false;
};

struct Bank {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::int64_t> org_id;
  std::string description;
  int pdq_max_distance = 31;       // DESIGN.md match rule
  int pdq_min_quality = 50;        // stored and queried pdq below this do not match
  double vpdq_threshold = 80;      // percent, query or target share
  double face_max_distance = 0.5;  // Euclidean; face::kDefaultFaceMatchThreshold (docs/BENCHMARKS.md, calibration)
  bool auto_approve = false;       // review policy: false = every signal reviewed first
  std::string created_at;
};

struct CaseRecord {
  std::int64_t id = 0;
  std::string number;    // "TB-XXXX-XXXX"
  std::string pin_hash;  // Argon2id string (crypto_pwhash_str)
  std::string status;    // "open" or "withdrawn"
  int failed_attempts = 0;
  std::int64_t locked_until = 0;  // Unix seconds; 0 = not locked
  std::vector<std::string> watch_terms;
  std::string created_at;
};

// Where a signal came from: exactly one of a case or a bank (a flagger's
// report files its signals into a bank and remembers the report).
struct SignalOwner {
  std::optional<std::int64_t> case_id;
  std::optional<std::int64_t> bank_id;
  std::optional<std::int64_t> report_id;
};

// Signal types and the bytes stored for each (docs/formats/service-store.md):
// "pdq" 32 bytes (the hash in hex order), "md5" 16, "sha256" 32, "vpdq" the
// vPDQ text form, "face" 128 little-endian float32.
struct NewSignal {
  std::string type;
  std::vector<std::uint8_t> value;
  int quality = 0;  // pdq only
  std::string label;
};

struct StoredSignal {
  std::int64_t id = 0;
  std::string type;
  std::vector<std::uint8_t> value;
  int quality = 0;
  std::string label;
  SignalOwner owner;
  SignalState state = SignalState::kPendingReview;
  std::int64_t seq = 0;
  std::string created_at;
};

struct Report {
  std::int64_t id = 0;
  std::int64_t key_id = 0;  // the flagger's key
  std::int64_t bank_id = 0;
  std::string url;  // where it was seen
  std::string category;
  std::string notes;
  std::string state;  // "pending_review", "approved", "rejected"
  std::string created_at;
  std::vector<std::int64_t> signal_ids;
};

struct MatchRecord {
  std::int64_t id = 0;
  std::int64_t signal_id = 0;
  std::int64_t key_id = 0;  // the platform that matched
  double distance = 0;
  std::string created_at;
};

struct CaseCounts {
  std::int64_t pending = 0, active = 0, withdrawn = 0, rejected = 0;
  std::int64_t matches = 0;
  std::int64_t takedowns = 0;  // feedback "removed" on matches of the case's signals
};

struct AuditEntry {
  std::int64_t id = 0;
  std::string at;
  std::string actor;   // "key:12", "case:TB-...", "system"
  std::string action;  // "case.create", "signals.read", ...
  std::string object;  // "case:3", "signal:17", "signals:delta"
  std::string detail;  // short free text (counts, decisions); never secrets
};

struct SignalStats {
  std::int64_t total = 0, active = 0, pending = 0;
  std::int64_t max_seq = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- organisations and keys (admin) ---
  virtual Result<Organisation> CreateOrganisation(const std::string& name, const std::string& actor) = 0;
  virtual Result<std::vector<Organisation>> ListOrganisations() = 0;
  // `key_hash` is SHA-256 of the secret key (hex); the secret is never stored.
  virtual Result<ApiKey> CreateApiKey(Role role, std::optional<std::int64_t> org_id, const std::string& label,
                                      const std::string& key_hash, const std::string& prefix,
                                      const std::string& actor) = 0;
  // The live (not revoked) key with this hash; kNotFound otherwise.
  virtual Result<ApiKey> FindApiKey(const std::string& key_hash) = 0;
  virtual Result<std::vector<ApiKey>> ListApiKeys() = 0;
  virtual Status RevokeApiKey(std::int64_t id, const std::string& actor) = 0;
  virtual Result<std::int64_t> CountApiKeys() = 0;

  // --- banks ---
  virtual Result<Bank> CreateBank(const Bank& bank, const std::string& actor) = 0;
  virtual Result<std::vector<Bank>> ListBanks() = 0;
  virtual Result<Bank> GetBank(std::int64_t id) = 0;

  // --- cases ---
  // Creates the case and its first signals (pending review) together.
  virtual Result<CaseRecord> CreateCase(const std::string& number, const std::string& pin_hash,
                                        const std::vector<std::string>& watch_terms,
                                        const std::vector<NewSignal>& signals, const std::string& actor,
                                        std::vector<StoredSignal>* added) = 0;
  virtual Result<CaseRecord> GetCaseByNumber(const std::string& number) = 0;
  // Persists the outcome of one PIN attempt: success resets the counter;
  // failure increments it and, at `max_failures`, locks the case until
  // now + lock_seconds (and resets the counter). Returns the updated record.
  virtual Result<CaseRecord> RecordPinAttempt(std::int64_t case_id, bool success, std::int64_t now, int max_failures,
                                              std::int64_t lock_seconds) = 0;
  virtual Result<CaseCounts> CountCase(std::int64_t case_id, const std::string& actor) = 0;
  // Marks the case withdrawn and every signal of it that is not already
  // withdrawn or rejected as withdrawn (each with a new sequence number).
  // Returns the signals changed, in their new state.
  virtual Result<std::vector<StoredSignal>> WithdrawCase(std::int64_t case_id, const std::string& actor) = 0;

  // --- signals ---
  // Adds signals to exactly one owner in `state`. Returns them with ids and
  // sequence numbers. kInvalidArgument when the owner is a withdrawn case.
  virtual Result<std::vector<StoredSignal>> AddSignals(const SignalOwner& owner, const std::vector<NewSignal>& signals,
                                                       SignalState state, const std::string& actor) = 0;
  virtual Result<StoredSignal> GetSignal(std::int64_t id, const std::string& actor) = 0;
  // Moves the signal from pending_review to `to` (active or rejected);
  // kInvalidArgument when it is not pending, kNotFound when unknown.
  virtual Result<StoredSignal> DecideSignal(std::int64_t id, SignalState to, const std::string& actor) = 0;
  // Signals in `state` with id > after_id, by id, at most `limit`.
  virtual Result<std::vector<StoredSignal>> ListSignals(SignalState state, std::int64_t after_id, int limit,
                                                        const std::string& actor) = 0;
  // Signals whose last change has seq > since, by seq, at most `limit`.
  virtual Result<std::vector<StoredSignal>> ChangesSince(std::int64_t since, int limit, const std::string& actor) = 0;
  // Streams every signal with seq > since, in seq order, without auditing
  // (the server's own start-up); `fn` returning false stops early.
  virtual Status ScanChanges(std::int64_t since, const std::function<bool(const StoredSignal&)>& fn) = 0;
  // Streams the active signals (of `type`, or all when empty) in id order.
  virtual Status ScanActive(const std::string& type, const std::function<bool(const StoredSignal&)>& fn) = 0;
  // The active signals of one owner (owner.case_id or owner.bank_id) with
  // id > after_id, by id, at most `limit`: what an investigator's scan reads
  // (issue 6). Audited as "signals.read" on "case:N" / "bank:N" with the
  // count. kInvalidArgument when the owner names neither or both.
  virtual Result<std::vector<StoredSignal>> ListActiveSignalsOf(const SignalOwner& owner, std::int64_t after_id,
                                                                int limit, const std::string& actor) = 0;
  // Counts every signal: a full scan (~1 s per million signals, holding the
  // store meanwhile); MaxSeq() is the cheap way to the change sequence.
  virtual Result<SignalStats> Stats() = 0;
  // The highest change sequence number (0 when there are no signals).
  virtual Result<std::int64_t> MaxSeq() = 0;

  // --- reports (flaggers) ---
  // Creates the report and its signals (pending review, in report.bank_id).
  virtual Result<Report> CreateReport(const Report& report, const std::vector<NewSignal>& signals,
                                      const std::string& actor, std::vector<StoredSignal>* added) = 0;
  virtual Result<std::vector<Report>> ListReports(const std::string& state, std::int64_t after_id, int limit,
                                                  const std::string& actor) = 0;
  // Approves or rejects the report and each of its still-pending signals.
  virtual Result<Report> DecideReport(std::int64_t id, bool approve, const std::string& actor,
                                      std::vector<StoredSignal>* changed) = 0;

  // --- matches and feedback ---
  // Records matches (ids filled in) with one audit row per signal.
  virtual Status RecordMatches(std::vector<MatchRecord>* matches, const std::string& actor) = 0;
  virtual Result<MatchRecord> GetMatch(std::int64_t id) = 0;
  // `verdict`: "removed", "not_violating", "false_positive". Returns its id.
  virtual Result<std::int64_t> AddFeedback(std::int64_t match_id, std::int64_t key_id, const std::string& verdict,
                                           const std::string& notes, const std::string& actor) = 0;

  // --- audit ---
  virtual Status Audit(const AuditEntry& entry) = 0;
  // The newest entries first, id < before (0: from the newest), at most limit.
  virtual Result<std::vector<AuditEntry>> ListAudit(std::int64_t before, int limit) = 0;

  // The schema version the database is at (after migrations).
  virtual int SchemaVersion() const = 0;
};

// Opens (creating when absent) the SQLite database at `path`, enables WAL,
// foreign keys and a busy timeout, and applies every migration it has not
// seen, each in its own transaction, recording it in `schema_migrations`.
// kCorrupt when the file is not a database or is from a newer version;
// kIoError when it cannot be opened.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace takeback::store
