// The domain rules of the service, storage-agnostic (issue 4): who may do
// what is decided by the HTTP layer (src/server); what happens is decided
// here. Every change that affects matching is written to the store first and
// applied to the in-memory MatchIndex before the call returns, so a platform
// whose request starts after the call returns sees it.
//
// Thread-safe: any number of threads may call any method at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cases/match_index.h"
#include "common/status.h"
#include "store/store.h"

namespace takeback::cases {

struct Principal {
  std::int64_t key_id = 0;
  store::Role role = store::Role::kPlatform;
  std::optional<std::int64_t> org_id;
  std::string Actor() const { return "key:" + std::to_string(key_id); }
};

struct NewCaseResult {
  store::CaseRecord record;
  std::string pin;  // shown to the victim once, never stored in clear
  std::vector<store::StoredSignal> added;
};

enum class PinCheck { kOk, kWrong, kLocked, kUnknownCase };

struct MatchHit {
  std::int64_t signal_id = 0;
  std::int64_t match_id = 0;
  std::string type;
  double distance = 0;
  int variant = 0;            // pdq: dihedral variant index
  double query_percent = 0;   // vpdq
  double target_percent = 0;  // vpdq
  std::optional<std::int64_t> bank_id;
  std::optional<std::int64_t> case_id;
  bool review_required = false;  // every face match
};

struct ServiceOptions {
  // Where the pdq index snapshot lives ("" = none): loaded at start when
  // present and brought up to date from the store's change sequence.
  std::string index_path;
  int pin_max_failures = 5;
  std::int64_t pin_lock_seconds = 15 * 60;
};

struct StartReport {
  std::size_t pdq_loaded = 0;
  std::size_t changes_replayed = 0;
  bool from_snapshot = false;
  double seconds = 0;
};

class Service {
 public:
  Service(std::unique_ptr<store::Store> store, ServiceOptions options);

  // Fills the match index from the store (and the snapshot when present).
  Result<StartReport> Start();
  // Writes the pdq snapshot and the sequence it reflects (clean shutdown);
  // does nothing when the store has not changed since the snapshot was
  // loaded or last saved. Neither readers nor writers wait for the file
  // write (writers only for one indexed query). kIdle runs the file write at
  // the calling thread's idle scheduling priority (a save in the background
  // while serving); saves run one at a time.
  enum class SnapshotPriority { kNormal, kIdle };
  Status SaveSnapshot(SnapshotPriority priority = SnapshotPriority::kNormal);

  store::Store& store() { return *store_; }
  const MatchIndex& index() const { return index_; }

  // --- keys ---
  // kNotFound for an unknown or revoked key.
  Result<Principal> Authenticate(const std::string& token);
  // Returns the new key's record and its secret (shown once).
  Result<std::pair<store::ApiKey, std::string>> CreateKey(store::Role role, std::optional<std::int64_t> org_id,
                                                          const std::string& label, const std::string& actor);
  Status RevokeKey(std::int64_t id, const std::string& actor);

  // --- banks ---
  Result<store::Bank> CreateBank(const store::Bank& bank, const std::string& actor);
  Result<std::vector<store::StoredSignal>> AddBankSignals(std::int64_t bank_id,
                                                          const std::vector<store::NewSignal>& signals,
                                                          const std::string& actor);

  // --- cases (victims) ---
  Result<NewCaseResult> CreateCase(const std::vector<std::string>& watch_terms,
                                   const std::vector<store::NewSignal>& signals);
  // Checks a case number and PIN, counting failures and locking the case
  // after ServiceOptions::pin_max_failures of them.
  PinCheck CheckPin(const std::string& number, const std::string& pin, store::CaseRecord* out);
  Result<std::vector<store::StoredSignal>> AddCaseSignals(const store::CaseRecord& c,
                                                          const std::vector<store::NewSignal>& signals);
  Result<std::vector<store::StoredSignal>> WithdrawCase(const store::CaseRecord& c);

  // --- review ---
  Result<store::StoredSignal> DecideSignal(std::int64_t id, bool approve, const std::string& actor);
  Result<store::Report> DecideReport(std::int64_t id, bool approve, const std::string& actor);

  // --- matching ---
  // One result list per query, hits confirmed against the store (active)
  // and the owning bank's thresholds; hits are recorded as matches.
  Result<std::vector<std::vector<MatchHit>>> Match(const Principal& who, const std::vector<Query>& queries);

  // Counters for /metrics.
  std::uint64_t hashes_checked() const { return hashes_checked_.load(std::memory_order_relaxed); }
  std::uint64_t matches_found() const { return matches_found_.load(std::memory_order_relaxed); }

 private:
  Status ApplyAll(const std::vector<store::StoredSignal>& changed);
  Result<store::Bank> BankFor(const store::StoredSignal& s);
  void RefreshLimits();

  std::unique_ptr<store::Store> store_;
  const ServiceOptions options_;
  MatchIndex index_;

  std::mutex mu_;  // guards the caches below
  std::unordered_map<std::string, Principal> key_cache_;
  std::unordered_map<std::int64_t, store::Bank> banks_;
  MatchLimits limits_;

  std::mutex save_mu_;                          // one SaveSnapshot at a time
  std::atomic<std::int64_t> snapshot_seq_{-1};  // the sequence the snapshot on disk reflects
  std::atomic<std::uint64_t> hashes_checked_{0};
  std::atomic<std::uint64_t> matches_found_{0};
};

}  // namespace takeback::cases
