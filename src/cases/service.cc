#include "cases/service.h"

#include <sched.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <shared_mutex>

#include "store/secrets.h"

namespace takeback::cases {
namespace {

// Writers hold this shared while they write the store and apply the change
// to the index; SaveSnapshot holds it exclusively while it reads the store's
// sequence, so the sequence it records never runs ahead of what the saved
// index contains.
std::shared_mutex& ApplyMutex() {
  static std::shared_mutex mu;
  return mu;
}

Result<std::int64_t> ReadSeqFile(const std::string& path) {
  std::ifstream in(path);
  std::int64_t seq = -1;
  if (!(in >> seq) || seq < 0) return Corrupt("bad snapshot sequence file " + path);
  return seq;
}

}  // namespace

Service::Service(std::unique_ptr<store::Store> store, ServiceOptions options)
    : store_(std::move(store)), options_(std::move(options)) {}

void Service::RefreshLimits() {
  Result<std::vector<store::Bank>> banks = store_->ListBanks();
  std::lock_guard<std::mutex> lock(mu_);
  MatchLimits limits;
  const store::Bank defaults;
  limits.pdq_radius = defaults.pdq_max_distance;
  limits.vpdq_percent = defaults.vpdq_threshold;
  limits.face_distance = defaults.face_max_distance;
  limits.min_quality = defaults.pdq_min_quality;
  if (banks.ok()) {
    banks_.clear();
    for (const store::Bank& b : *banks) {
      banks_[b.id] = b;
      limits.pdq_radius = std::max(limits.pdq_radius, b.pdq_max_distance);
      limits.vpdq_percent = std::min(limits.vpdq_percent, b.vpdq_threshold);
      limits.face_distance = std::max(limits.face_distance, b.face_max_distance);
      limits.min_quality = std::min(limits.min_quality, b.pdq_min_quality);
    }
  }
  limits_ = limits;
}

Result<StartReport> Service::Start() {
  const auto t0 = std::chrono::steady_clock::now();
  StartReport report;
  RefreshLimits();
  const std::string seq_path = options_.index_path + ".seq";
  std::int64_t since = -1;
  if (!options_.index_path.empty() && std::filesystem::exists(options_.index_path) &&
      std::filesystem::exists(seq_path)) {
    Result<std::int64_t> seq = ReadSeqFile(seq_path);
    Status loaded = seq.ok() ? index_.LoadPdq(options_.index_path) : seq.status();
    if (loaded.ok()) {
      since = *seq;
      snapshot_seq_ = *seq;
      report.from_snapshot = true;
    }
    // A damaged snapshot is not fatal: the store is the truth; rebuild.
  }
  if (since >= 0) {
    Status st = store_->ScanChanges(since, [&](const store::StoredSignal& s) {
      if (s.type == "pdq") {
        ++report.changes_replayed;
        return index_.Apply(s).ok();
      }
      return true;
    });
    TAKEBACK_RETURN_IF_ERROR(st);
  } else {
    std::vector<std::uint64_t> ids;
    std::vector<hash::PdqHash> hashes;
    Status bad = Status::Ok();
    TAKEBACK_RETURN_IF_ERROR(store_->ScanActive("pdq", [&](const store::StoredSignal& s) {
      Result<hash::PdqHash> h = DecodePdqValue(s.value);
      if (!h.ok()) {
        bad = Corrupt("signal " + std::to_string(s.id) + ": " + h.status().message());
        return false;
      }
      ids.push_back(static_cast<std::uint64_t>(s.id));
      hashes.push_back(*h);
      return true;
    }));
    TAKEBACK_RETURN_IF_ERROR(bad);
    TAKEBACK_RETURN_IF_ERROR(index_.AddPdqBulk(std::move(ids), std::move(hashes)));
  }
  for (const char* type : {"md5", "sha256", "vpdq", "face"}) {
    Status bad = Status::Ok();
    TAKEBACK_RETURN_IF_ERROR(store_->ScanActive(type, [&](const store::StoredSignal& s) {
      bad = index_.Apply(s);
      return bad.ok();
    }));
    TAKEBACK_RETURN_IF_ERROR(bad);
  }
  report.pdq_loaded = index_.sizes().pdq;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

Status Service::SaveSnapshot(SnapshotPriority priority) {
  if (options_.index_path.empty()) return Status::Ok();
  std::lock_guard<std::mutex> saving(save_mu_);
  std::int64_t max_seq = 0;
  {
    // Writers hold ApplyMutex while they write the store and then the index,
    // so once it is ours every change up to MaxSeq() is in the index. Later
    // ones may reach the saved file too: harmless, the replay at start is
    // idempotent. What must never happen, a sequence ahead of the saved
    // index, cannot. Writers wait only for this query, not for the file.
    std::unique_lock lock(ApplyMutex());
    // Not Stats(): its full scan holds the store for ~1 s per million signals,
    // and every request that needs the store (a first API key lookup) waits.
    Result<std::int64_t> seq = store_->MaxSeq();
    if (!seq.ok()) return seq.status();
    max_seq = *seq;
  }
  if (max_seq == snapshot_seq_.load()) return Status::Ok();
  if (priority == SnapshotPriority::kIdle) {
    // Copying ~200 MB per million signals into the page cache costs ~0.5
    // CPU-s; at idle priority it uses only a core that requests leave free.
    // Linux: 0 is this thread. Best effort: the save is correct either way.
    const sched_param param{};
    (void)::sched_setscheduler(0, SCHED_IDLE, &param);
  }
  Status saved = index_.SavePdq(options_.index_path);
  if (priority == SnapshotPriority::kIdle) {
    const sched_param param{};
    (void)::sched_setscheduler(0, SCHED_OTHER, &param);
  }
  TAKEBACK_RETURN_IF_ERROR(saved);
  const std::string tmp = options_.index_path + ".seq.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << max_seq << "\n";
    out.flush();
    if (!out) return IoError("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, options_.index_path + ".seq", ec);
  if (ec) return IoError("cannot rename " + tmp + ": " + ec.message());
  snapshot_seq_ = max_seq;
  return Status::Ok();
}

Status Service::ApplyAll(const std::vector<store::StoredSignal>& changed) {
  for (const store::StoredSignal& s : changed) TAKEBACK_RETURN_IF_ERROR(index_.Apply(s));
  return Status::Ok();
}

Result<Principal> Service::Authenticate(const std::string& token) {
  const std::string h = store::HashApiKey(token);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = key_cache_.find(h); it != key_cache_.end()) return it->second;
  }
  Result<store::ApiKey> key = store_->FindApiKey(h);
  if (!key.ok()) return key.status();
  Principal p{key->id, key->role, key->org_id};
  std::lock_guard<std::mutex> lock(mu_);
  key_cache_[h] = p;
  return p;
}

Result<std::pair<store::ApiKey, std::string>> Service::CreateKey(store::Role role, std::optional<std::int64_t> org_id,
                                                                 const std::string& label, const std::string& actor) {
  const std::string secret = store::GenerateApiKey();
  Result<store::ApiKey> key =
      store_->CreateApiKey(role, org_id, label, store::HashApiKey(secret), store::ApiKeyPrefix(secret), actor);
  if (!key.ok()) return key.status();
  return std::make_pair(*key, secret);
}

Status Service::RevokeKey(std::int64_t id, const std::string& actor) {
  TAKEBACK_RETURN_IF_ERROR(store_->RevokeApiKey(id, actor));
  std::lock_guard<std::mutex> lock(mu_);
  key_cache_.clear();
  return Status::Ok();
}

Result<store::Bank> Service::CreateBank(const store::Bank& bank, const std::string& actor) {
  Result<store::Bank> b = store_->CreateBank(bank, actor);
  if (b.ok()) RefreshLimits();
  return b;
}

Result<std::vector<store::StoredSignal>> Service::AddBankSignals(std::int64_t bank_id,
                                                                 const std::vector<store::NewSignal>& signals,
                                                                 const std::string& actor) {
  Result<store::Bank> bank = store_->GetBank(bank_id);
  if (!bank.ok()) return bank.status();
  std::shared_lock lock(ApplyMutex());
  store::SignalOwner owner;
  owner.bank_id = bank_id;
  Result<std::vector<store::StoredSignal>> added = store_->AddSignals(
      owner, signals, bank->auto_approve ? store::SignalState::kActive : store::SignalState::kPendingReview, actor);
  if (!added.ok()) return added;
  TAKEBACK_RETURN_IF_ERROR(ApplyAll(*added));
  return added;
}

Result<NewCaseResult> Service::CreateCase(const std::vector<std::string>& watch_terms,
                                          const std::vector<store::NewSignal>& signals) {
  NewCaseResult out;
  out.pin = store::GeneratePin();
  Result<std::string> pin_hash = store::HashPin(out.pin);
  if (!pin_hash.ok()) return pin_hash.status();
  // A clash of 40 random bits is unlikely; retry a few times all the same.
  for (int attempt = 0; attempt < 5; ++attempt) {
    out.added.clear();
    Result<store::CaseRecord> c =
        store_->CreateCase(store::GenerateCaseNumber(), *pin_hash, watch_terms, signals, "anonymous", &out.added);
    if (c.ok()) {
      out.record = std::move(*c);
      return out;
    }
    if (c.status().code() != ErrorCode::kInvalidArgument) return c.status();
  }
  return Internal("could not allocate a unique case number");
}

PinCheck Service::CheckPin(const std::string& number, const std::string& pin, store::CaseRecord* out) {
  Result<store::CaseRecord> c = store_->GetCaseByNumber(number);
  if (!c.ok()) return PinCheck::kUnknownCase;
  const std::int64_t now = std::time(nullptr);
  if (c->locked_until > now) return PinCheck::kLocked;
  const bool ok = store::VerifyPin(pin, c->pin_hash);
  if (ok && c->failed_attempts == 0) {
    *out = std::move(*c);
    return PinCheck::kOk;
  }
  Result<store::CaseRecord> updated =
      store_->RecordPinAttempt(c->id, ok, now, options_.pin_max_failures, options_.pin_lock_seconds);
  if (!updated.ok()) return PinCheck::kWrong;
  *out = std::move(*updated);
  if (ok) return PinCheck::kOk;
  return out->locked_until > now ? PinCheck::kLocked : PinCheck::kWrong;
}

Result<std::vector<store::StoredSignal>> Service::AddCaseSignals(const store::CaseRecord& c,
                                                                 const std::vector<store::NewSignal>& signals) {
  std::shared_lock lock(ApplyMutex());
  store::SignalOwner owner;
  owner.case_id = c.id;
  return store_->AddSignals(owner, signals, store::SignalState::kPendingReview, "case:" + c.number);
}

Result<std::vector<store::StoredSignal>> Service::WithdrawCase(const store::CaseRecord& c) {
  std::shared_lock lock(ApplyMutex());
  Result<std::vector<store::StoredSignal>> changed = store_->WithdrawCase(c.id, "case:" + c.number);
  if (!changed.ok()) return changed;
  TAKEBACK_RETURN_IF_ERROR(ApplyAll(*changed));
  return changed;
}

Result<store::StoredSignal> Service::DecideSignal(std::int64_t id, bool approve, const std::string& actor) {
  std::shared_lock lock(ApplyMutex());
  Result<store::StoredSignal> s =
      store_->DecideSignal(id, approve ? store::SignalState::kActive : store::SignalState::kRejected, actor);
  if (!s.ok()) return s;
  TAKEBACK_RETURN_IF_ERROR(index_.Apply(*s));
  return s;
}

Result<store::Report> Service::DecideReport(std::int64_t id, bool approve, const std::string& actor) {
  std::shared_lock lock(ApplyMutex());
  std::vector<store::StoredSignal> changed;
  Result<store::Report> r = store_->DecideReport(id, approve, actor, &changed);
  if (!r.ok()) return r;
  TAKEBACK_RETURN_IF_ERROR(ApplyAll(changed));
  return r;
}

Result<store::Bank> Service::BankFor(const store::StoredSignal& s) {
  if (!s.owner.bank_id) return store::Bank{};  // case signals: the default rule
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = banks_.find(*s.owner.bank_id); it != banks_.end()) return it->second;
  }
  return store_->GetBank(*s.owner.bank_id);
}

Result<std::vector<std::vector<MatchHit>>> Service::Match(const Principal& who, const std::vector<Query>& queries) {
  MatchLimits limits;
  {
    std::lock_guard<std::mutex> lock(mu_);
    limits = limits_;
  }
  std::vector<std::vector<Candidate>> candidates(queries.size());
  bool plain_pdq = true;
  for (const Query& q : queries) plain_pdq &= q.type == "pdq" && q.dihedral.empty() && q.quality >= limits.min_quality;
  if (plain_pdq && queries.size() > 1) {
    std::vector<hash::PdqHash> hashes;
    hashes.reserve(queries.size());
    for (const Query& q : queries) hashes.push_back(q.pdq);
    Result<std::vector<std::vector<Candidate>>> r = index_.SearchPdqBatch(hashes, limits.pdq_radius);
    if (!r.ok()) return r.status();
    candidates = std::move(*r);
  } else {
    for (std::size_t i = 0; i < queries.size(); ++i) {
      Result<std::vector<Candidate>> r = index_.Search(queries[i], limits);
      if (!r.ok()) return r.status();
      candidates[i] = std::move(*r);
    }
  }
  hashes_checked_.fetch_add(queries.size(), std::memory_order_relaxed);

  std::vector<std::vector<MatchHit>> out(queries.size());
  std::vector<store::MatchRecord> records;
  std::vector<std::pair<std::size_t, std::size_t>> where;  // (query, hit) of each record
  for (std::size_t i = 0; i < queries.size(); ++i) {
    for (const Candidate& c : candidates[i]) {
      // Confirm with the store: the store is the truth, the index a cache.
      Result<store::StoredSignal> s = store_->GetSignal(c.signal_id, who.Actor());
      if (!s.ok() || s->state != store::SignalState::kActive || s->type != queries[i].type) continue;
      Result<store::Bank> bank = BankFor(*s);
      if (!bank.ok()) continue;
      if (s->type == "pdq" && (c.distance > bank->pdq_max_distance || s->quality < bank->pdq_min_quality ||
                               queries[i].quality < bank->pdq_min_quality)) {
        continue;
      }
      if (s->type == "vpdq" && c.query_percent < bank->vpdq_threshold && c.target_percent < bank->vpdq_threshold) {
        continue;
      }
      if (s->type == "face" && c.distance > bank->face_max_distance) continue;
      MatchHit hit;
      hit.signal_id = s->id;
      hit.type = s->type;
      hit.distance = c.distance;
      hit.variant = c.variant;
      hit.query_percent = c.query_percent;
      hit.target_percent = c.target_percent;
      hit.bank_id = s->owner.bank_id;
      hit.case_id = s->owner.case_id;
      hit.review_required = s->type == "face";
      records.push_back(store::MatchRecord{0, s->id, who.key_id, c.distance, ""});
      where.emplace_back(i, out[i].size());
      out[i].push_back(hit);
    }
  }
  if (!records.empty()) {
    TAKEBACK_RETURN_IF_ERROR(store_->RecordMatches(&records, who.Actor()));
    for (std::size_t r = 0; r < records.size(); ++r) out[where[r].first][where[r].second].match_id = records[r].id;
    matches_found_.fetch_add(records.size(), std::memory_order_relaxed);
  }
  return out;
}

}  // namespace takeback::cases
