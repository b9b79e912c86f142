// The SQLite implementation of Store: one connection, serialised by a mutex
// (SQLite itself serialises writers; one connection keeps transactions
// simple, and the match path never touches the database unless it finds a
// hit). Schema and migrations: docs/formats/service-store.md.
#include <array>
#include <cstring>
#include <mutex>
#include <span>
#include <utility>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "store/secrets.h"
#include "store/store.h"

namespace takeback::store {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kCaseworker:
      return "caseworker";
    case Role::kPlatform:
      return "platform";
    case Role::kInvestigator:
      return "investigator";
    case Role::kFlagger:
      return "flagger";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kAdmin, Role::kCaseworker, Role::kPlatform, Role::kInvestigator, Role::kFlagger}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

std::string_view SignalStateName(SignalState state) {
  switch (state) {
    case SignalState::kPendingReview:
      return "pending_review";
    case SignalState::kActive:
      return "active";
    case SignalState::kWithdrawn:
      return "withdrawn";
    case SignalState::kRejected:
      return "rejected";
  }
  return "unknown";
}

std::optional<SignalState> ParseSignalState(std::string_view name) {
  for (SignalState s :
       {SignalState::kPendingReview, SignalState::kActive, SignalState::kWithdrawn, SignalState::kRejected}) {
    if (SignalStateName(s) == name) return s;
  }
  return std::nullopt;
}

namespace {

// Each migration runs once, in order, inside its own transaction. Never edit
// one that has shipped: add the next.
constexpr std::array<std::string_view, 1> kMigrations = {R"sql(
CREATE TABLE organisations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY,
  org_id INTEGER REFERENCES organisations(id),
  role TEXT NOT NULL CHECK (role IN ('admin','caseworker','platform','investigator','flagger')),
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  label TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE TABLE banks (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  org_id INTEGER REFERENCES organisations(id),
  description TEXT NOT NULL DEFAULT '',
  pdq_max_distance INTEGER NOT NULL DEFAULT 31,
  pdq_min_quality INTEGER NOT NULL DEFAULT 50,
  vpdq_threshold REAL NOT NULL DEFAULT 80,
  face_max_distance REAL NOT NULL DEFAULT 0.5,
  auto_approve INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);
CREATE TABLE cases (
  id INTEGER PRIMARY KEY,
  case_number TEXT NOT NULL UNIQUE,
  pin_hash TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open','withdrawn')),
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER NOT NULL DEFAULT 0,
  watch_terms TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL,
  withdrawn_at TEXT
);
CREATE TABLE reports (
  id INTEGER PRIMARY KEY,
  key_id INTEGER NOT NULL REFERENCES api_keys(id),
  bank_id INTEGER NOT NULL REFERENCES banks(id),
  url TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL,
  notes TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('pending_review','approved','rejected')),
  created_at TEXT NOT NULL,
  decided_at TEXT
);
CREATE TABLE signals (
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL CHECK (type IN ('pdq','md5','sha256','vpdq','face')),
  value BLOB NOT NULL,
  quality INTEGER NOT NULL DEFAULT 0,
  label TEXT NOT NULL DEFAULT '',
  case_id INTEGER REFERENCES cases(id),
  bank_id INTEGER REFERENCES banks(id),
  report_id INTEGER REFERENCES reports(id),
  state TEXT NOT NULL CHECK (state IN ('pending_review','active','withdrawn','rejected')),
  seq INTEGER NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  CHECK ((case_id IS NULL) <> (bank_id IS NULL))
);
CREATE INDEX signals_case ON signals(case_id);
CREATE INDEX signals_report ON signals(report_id);
CREATE INDEX signals_state ON signals(state, id);
CREATE INDEX signals_type_state ON signals(type, state, id);
CREATE TABLE matches (
  id INTEGER PRIMARY KEY,
  signal_id INTEGER NOT NULL REFERENCES signals(id),
  key_id INTEGER NOT NULL REFERENCES api_keys(id),
  distance REAL NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX matches_signal ON matches(signal_id);
CREATE TABLE feedback (
  id INTEGER PRIMARY KEY,
  match_id INTEGER NOT NULL REFERENCES matches(id),
  key_id INTEGER NOT NULL REFERENCES api_keys(id),
  verdict TEXT NOT NULL CHECK (verdict IN ('removed','not_violating','false_positive')),
  notes TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
CREATE INDEX feedback_match ON feedback(match_id);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
);
-- Flaggers' reports land here unless they name a bank.
INSERT INTO banks (id, name, description, created_at)
  VALUES (1, 'reports', 'Signals reported by trusted flaggers, reviewed by caseworkers', '1970-01-01T00:00:00Z');
)sql"};

// Thin RAII statement with typed binds; errors are kept and reported once.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK) {
      error_ = sqlite3_errmsg(db);
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, std::int64_t v) {
    if (stmt_ != nullptr) sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<std::int64_t>(v)); }
  Stmt& Bind(int i, double v) {
    if (stmt_ != nullptr) sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, std::string_view v) {
    if (stmt_ != nullptr) sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& BindBlob(int i, std::span<const std::uint8_t> v) {
    if (stmt_ != nullptr) {
      sqlite3_bind_blob(stmt_, i, v.empty() ? "" : static_cast<const void*>(v.data()), static_cast<int>(v.size()),
                        SQLITE_TRANSIENT);
    }
    return *this;
  }
  Stmt& Bind(int i, std::optional<std::int64_t> v) {
    if (stmt_ != nullptr) {
      if (v) {
        sqlite3_bind_int64(stmt_, i, *v);
      } else {
        sqlite3_bind_null(stmt_, i);
      }
    }
    return *this;
  }

  // True while a row is available; false at the end or on error (see status()).
  bool Step() {
    if (stmt_ == nullptr) return false;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) {
      error_ = sqlite3_errmsg(db_);
      code_ = rc;
    }
    return false;
  }
  void Reset() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Status Run() {
    while (Step()) {
    }
    return status();
  }
  Status status() const {
    if (error_.empty()) return Status::Ok();
    if ((code_ & 0xff) == SQLITE_CONSTRAINT) return InvalidArgument("constraint failed: " + error_);
    if ((code_ & 0xff) == SQLITE_CORRUPT || (code_ & 0xff) == SQLITE_NOTADB) return Corrupt("database: " + error_);
    return IoError("database: " + error_);
  }

  std::int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::optional<std::int64_t> OptInt(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Int(col);
  }
  std::string Text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::vector<std::uint8_t> Blob(int col) const {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
    const int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::vector<std::uint8_t>() : std::vector<std::uint8_t>(p, p + n);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string error_;
  int code_ = SQLITE_ERROR;
};

constexpr std::string_view kSignalColumns =
    "id, type, value, quality, label, case_id, bank_id, report_id, state, seq, created_at";

StoredSignal ReadSignal(const Stmt& s) {
  StoredSignal out;
  out.id = s.Int(0);
  out.type = s.Text(1);
  out.value = s.Blob(2);
  out.quality = static_cast<int>(s.Int(3));
  out.label = s.Text(4);
  out.owner.case_id = s.OptInt(5);
  out.owner.bank_id = s.OptInt(6);
  out.owner.report_id = s.OptInt(7);
  out.state = ParseSignalState(s.Text(8)).value_or(SignalState::kRejected);
  out.seq = s.Int(9);
  out.created_at = s.Text(10);
  return out;
}

ApiKey ReadKey(const Stmt& s) {
  ApiKey k;
  k.id = s.Int(0);
  k.org_id = s.OptInt(1);
  k.role = ParseRole(s.Text(2)).value_or(Role::kFlagger);
  k.label = s.Text(3);
  k.prefix = s.Text(4);
  k.created_at = s.Text(5);
  k.revoked = !s.IsNull(6);
  return k;
}
constexpr std::string_view kKeyColumns = "id, org_id, role, label, prefix, created_at, revoked_at";

Bank ReadBank(const Stmt& s) {
  Bank b;
  b.id = s.Int(0);
  b.name = s.Text(1);
  b.org_id = s.OptInt(2);
  b.description = s.Text(3);
  b.pdq_max_distance = static_cast<int>(s.Int(4));
  b.pdq_min_quality = static_cast<int>(s.Int(5));
  b.vpdq_threshold = s.Double(6);
  b.face_max_distance = s.Double(7);
  b.auto_approve = s.Int(8) != 0;
  b.created_at = s.Text(9);
  return b;
}
constexpr std::string_view kBankColumns =
    "id, name, org_id, description, pdq_max_distance, pdq_min_quality, vpdq_threshold, face_max_distance, "
    "auto_approve, created_at";

CaseRecord ReadCase(const Stmt& s) {
  CaseRecord c;
  c.id = s.Int(0);
  c.number = s.Text(1);
  c.pin_hash = s.Text(2);
  c.status = s.Text(3);
  c.failed_attempts = static_cast<int>(s.Int(4));
  c.locked_until = s.Int(5);
  const nlohmann::json terms = nlohmann::json::parse(s.Text(6), nullptr, false);
  if (terms.is_array()) {
    for (const auto& t : terms) {
      if (t.is_string()) c.watch_terms.push_back(t.get<std::string>());
    }
  }
  c.created_at = s.Text(7);
  return c;
}
constexpr std::string_view kCaseColumns =
    "id, case_number, pin_hash, status, failed_attempts, locked_until, watch_terms, created_at";

Report ReadReport(const Stmt& s) {
  Report r;
  r.id = s.Int(0);
  r.key_id = s.Int(1);
  r.bank_id = s.Int(2);
  r.url = s.Text(3);
  r.category = s.Text(4);
  r.notes = s.Text(5);
  r.state = s.Text(6);
  r.created_at = s.Text(7);
  return r;
}
constexpr std::string_view kReportColumns = "id, key_id, bank_id, url, category, notes, state, created_at";

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override { sqlite3_close_v2(db_); }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status Init() {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_busy_timeout(db_, 5000);
    // journal_mode returns a row; read it to learn whether WAL took.
    {
      Stmt s(db_, "PRAGMA journal_mode=WAL");
      if (!s.Step()) return s.status().ok() ? Corrupt("database: journal_mode gave no answer") : s.status();
      if (s.Text(0) != "wal") return IoError("database: WAL journal mode unavailable (" + s.Text(0) + ")");
    }
    TAKEBACK_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"));
    TAKEBACK_RETURN_IF_ERROR(
        Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"));
    int current = 0;
    {
      Stmt s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      if (!s.Step()) return s.status();
      current = static_cast<int>(s.Int(0));
    }
    if (current > static_cast<int>(kMigrations.size())) {
      return Corrupt("database schema version " + std::to_string(current) + " is newer than this build knows (" +
                     std::to_string(kMigrations.size()) + "); upgrade takeback");
    }
    for (int v = current + 1; v <= static_cast<int>(kMigrations.size()); ++v) {
      TAKEBACK_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
      Status st = Exec(std::string(kMigrations[static_cast<std::size_t>(v - 1)]));
      if (st.ok()) {
        st = Stmt(db_, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                 .Bind(1, v)
                 .Bind(2, NowRfc3339())
                 .Run();
      }
      if (!st.ok()) {
        (void)Exec("ROLLBACK");
        return Corrupt("migration " + std::to_string(v) + " failed: " + st.message());
      }
      TAKEBACK_RETURN_IF_ERROR(Exec("COMMIT"));
    }
    schema_version_ = static_cast<int>(kMigrations.size());
    return Status::Ok();
  }

  int SchemaVersion() const override { return schema_version_; }

  Result<Organisation> CreateOrganisation(const std::string& name, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    Organisation org{0, name, NowRfc3339()};
    Status st = InTransaction([&]() -> Status {
      Stmt s(db_, "INSERT INTO organisations (name, created_at) VALUES (?, ?)");
      TAKEBACK_RETURN_IF_ERROR(s.Bind(1, name).Bind(2, org.created_at).Run());
      org.id = sqlite3_last_insert_rowid(db_);
      return AuditLocked({0, "", actor, "organisation.create", "organisation:" + std::to_string(org.id), ""});
    });
    if (!st.ok()) {
      if (st.code() == ErrorCode::kInvalidArgument) return InvalidArgument("an organisation named this exists");
      return st;
    }
    return org;
  }

  Result<std::vector<Organisation>> ListOrganisations() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Organisation> out;
    Stmt s(db_, "SELECT id, name, created_at FROM organisations ORDER BY id");
    while (s.Step()) out.push_back({s.Int(0), s.Text(1), s.Text(2)});
    TAKEBACK_RETURN_IF_ERROR(s.status());
    return out;
  }

  Result<ApiKey> CreateApiKey(Role role, std::optional<std::int64_t> org_id, const std::string& label,
                              const std::string& key_hash, const std::string& prefix,
                              const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    ApiKey key;
    key.role = role;
    key.org_id = org_id;
    key.label = label;
    key.prefix = prefix;
    key.created_at = NowRfc3339();
    Status st = InTransaction([&]() -> Status {
      if (org_id) TAKEBACK_RETURN_IF_ERROR(RequireRow("organisations", *org_id, "organisation"));
      Stmt s(db_, "INSERT INTO api_keys (org_id, role, key_hash, prefix, label, created_at) VALUES (?,?,?,?,?,?)");
      TAKEBACK_RETURN_IF_ERROR(s.Bind(1, org_id)
                                   .Bind(2, RoleName(role))
                                   .Bind(3, key_hash)
                                   .Bind(4, prefix)
                                   .Bind(5, label)
                                   .Bind(6, key.created_at)
                                   .Run());
      key.id = sqlite3_last_insert_rowid(db_);
      return AuditLocked(
          {0, "", actor, "key.create", "key:" + std::to_string(key.id), "role " + std::string(RoleName(role))});
    });
    if (!st.ok()) return st;
    return key;
  }

  Result<ApiKey> FindApiKey(const std::string& key_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT " + std::string(kKeyColumns) + " FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL");
    s.Bind(1, key_hash);
    if (!s.Step()) {
      TAKEBACK_RETURN_IF_ERROR(s.status());
      return NotFound("no such key");
    }
    return ReadKey(s);
  }

  Result<std::vector<ApiKey>> ListApiKeys() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ApiKey> out;
    Stmt s(db_, "SELECT " + std::string(kKeyColumns) + " FROM api_keys ORDER BY id");
    while (s.Step()) out.push_back(ReadKey(s));
    TAKEBACK_RETURN_IF_ERROR(s.status());
    return out;
  }

  Status RevokeApiKey(std::int64_t id, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    return InTransaction([&]() -> Status {
      TAKEBACK_RETURN_IF_ERROR(RequireRow("api_keys", id, "key"));
      TAKEBACK_RETURN_IF_ERROR(Stmt(db_, "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
                                   .Bind(1, NowRfc3339())
                                   .Bind(2, id)
                                   .Run());
      return AuditLocked({0, "", actor, "key.revoke", "key:" + std::to_string(id), ""});
    });
  }

  Result<std::int64_t> CountApiKeys() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL");
    if (!s.Step()) return s.status();
    return s.Int(0);
  }

  Result<Bank> CreateBank(const Bank& bank, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    Bank out = bank;
    out.created_at = NowRfc3339();
    Status st = InTransaction([&]() -> Status {
      if (bank.org_id) TAKEBACK_RETURN_IF_ERROR(RequireRow("organisations", *bank.org_id, "organisation"));
      Stmt s(db_,
             "INSERT INTO banks (name, org_id, description, pdq_max_distance, pdq_min_quality, vpdq_threshold, "
             "face_max_distance, auto_approve, created_at) VALUES (?,?,?,?,?,?,?,?,?)");
      s.Bind(1, bank.name).Bind(2, bank.org_id).Bind(3, bank.description).Bind(4, bank.pdq_max_distance);
      s.Bind(5, bank.pdq_min_quality).Bind(6, bank.vpdq_threshold).Bind(7, bank.face_max_distance);
      s.Bind(8, bank.auto_approve ? 1 : 0).Bind(9, out.created_at);
      Status run = s.Run();
      if (run.code() == ErrorCode::kInvalidArgument) return InvalidArgument("a bank named this exists");
      TAKEBACK_RETURN_IF_ERROR(run);
      out.id = sqlite3_last_insert_rowid(db_);
      return AuditLocked({0, "", actor, "bank.create", "bank:" + std::to_string(out.id), ""});
    });
    if (!st.ok()) return st;
    return out;
  }

  Result<std::vector<Bank>> ListBanks() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Bank> out;
    Stmt s(db_, "SELECT " + std::string(kBankColumns) + " FROM banks ORDER BY id");
    while (s.Step()) out.push_back(ReadBank(s));
    TAKEBACK_RETURN_IF_ERROR(s.status());
    return out;
  }

  Result<Bank> GetBank(std::int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT " + std::string(kBankColumns) + " FROM banks WHERE id = ?");
    s.Bind(1, id);
    if (!s.Step()) {
      TAKEBACK_RETURN_IF_ERROR(s.status());
      return NotFound("no bank with id " + std::to_string(id));
    }
    return ReadBank(s);
  }

  Result<CaseRecord> CreateCase(const std::string& number, const std::string& pin_hash,
                                const std::vector<std::string>& watch_terms, const std::vector<NewSignal>& signals,
                                const std::string& actor, std::vector<StoredSignal>* added) override {
    std::lock_guard<std::mutex> lock(mu_);
    CaseRecord c;
    c.number = number;
    c.pin_hash = pin_hash;
    c.status = "open";
    c.watch_terms = watch_terms;
    c.created_at = NowRfc3339();
    Status st = InTransaction([&]() -> Status {
      Stmt s(db_,
             "INSERT INTO cases (case_number, pin_hash, status, watch_terms, created_at) VALUES (?, ?, 'open', ?, ?)");
      TAKEBACK_RETURN_IF_ERROR(
          s.Bind(1, number).Bind(2, pin_hash).Bind(3, nlohmann::json(watch_terms).dump()).Bind(4, c.created_at).Run());
      c.id = sqlite3_last_insert_rowid(db_);
      TAKEBACK_RETURN_IF_ERROR(AuditLocked(
          {0, "", actor, "case.create", "case:" + std::to_string(c.id), std::to_string(signals.size()) + " signals"}));
      SignalOwner owner;
      owner.case_id = c.id;
      return InsertSignalsLocked(owner, signals, SignalState::kPendingReview, actor, added);
    });
    if (!st.ok()) return st;
    return c;
  }

  Result<CaseRecord> GetCaseByNumber(const std::string& number) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT " + std::string(kCaseColumns) + " FROM cases WHERE case_number = ?");
    s.Bind(1, number);
    if (!s.Step()) {
      TAKEBACK_RETURN_IF_ERROR(s.status());
      return NotFound("no such case");
    }
    return ReadCase(s);
  }

  Result<CaseRecord> RecordPinAttempt(std::int64_t case_id, bool success, std::int64_t now, int max_failures,
                                      std::int64_t lock_seconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    Status st = InTransaction([&]() -> Status {
      if (success) {
        return Stmt(db_, "UPDATE cases SET failed_attempts = 0 WHERE id = ?").Bind(1, case_id).Run();
      }
      TAKEBACK_RETURN_IF_ERROR(
          Stmt(db_, "UPDATE cases SET failed_attempts = failed_attempts + 1 WHERE id = ?").Bind(1, case_id).Run());
      TAKEBACK_RETURN_IF_ERROR(Stmt(db_,
                                    "UPDATE cases SET locked_until = ?, failed_attempts = 0 "
                                    "WHERE id = ? AND failed_attempts >= ?")
                                   .Bind(1, now + lock_seconds)
                                   .Bind(2, case_id)
                                   .Bind(3, max_failures)
                                   .Run());
      return AuditLocked({0, "", "anonymous", "case.pin_failed", "case:" + std::to_string(case_id), ""});
    });
    if (!st.ok()) return st;
    Stmt s(db_, "SELECT " + std::string(kCaseColumns) + " FROM cases WHERE id = ?");
    s.Bind(1, case_id);
    if (!s.Step()) {
      TAKEBACK_RETURN_IF_ERROR(s.status());
      return NotFound("no such case");
    }
    return ReadCase(s);
  }

  Result<CaseCounts> CountCase(std::int64_t case_id, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    CaseCounts counts;
    {
      Stmt s(db_, "SELECT state, COUNT(*) FROM signals WHERE case_id = ? GROUP BY state");
      s.Bind(1, case_id);
      while (s.Step()) {
        const auto state = ParseSignalState(s.Text(0));
        if (!state) continue;
        switch (*state) {
          case SignalState::kPendingReview:
            counts.pending = s.Int(1);
            break;
          case SignalState::kActive:
            counts.active = s.Int(1);
            break;
          case SignalState::kWithdrawn:
            counts.withdrawn = s.Int(1);
            break;
          case SignalState::kRejected:
            counts.rejected = s.Int(1);
            break;
        }
      }
      TAKEBACK_RETURN_IF_ERROR(s.status());
    }
    {
      Stmt s(db_, "SELECT COUNT(*) FROM matches m JOIN signals s ON s.id = m.signal_id WHERE s.case_id = ?");
      s.Bind(1, case_id);
      if (!s.Step()) return s.status();
      counts.matches = s.Int(0);
    }
    {
      Stmt s(db_,
             "SELECT COUNT(DISTINCT f.match_id) FROM feedback f JOIN matches m ON m.id = f.match_id "
             "JOIN signals s ON s.id = m.signal_id WHERE s.case_id = ? AND f.verdict = 'removed'");
      s.Bind(1, case_id);
      if (!s.Step()) return s.status();
      counts.takedowns = s.Int(0);
    }
    TAKEBACK_RETURN_IF_ERROR(AuditLocked({0, "", actor, "case.read", "case:" + std::to_string(case_id), ""}));
    return counts;
  }

  Result<std::vector<StoredSignal>> WithdrawCase(std::int64_t case_id, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<StoredSignal> changed;
    Status st = InTransaction([&]() -> Status {
      TAKEBACK_RETURN_IF_ERROR(RequireRow("cases", case_id, "case"));
      TAKEBACK_RETURN_IF_ERROR(
          Stmt(db_, "UPDATE cases SET status = 'withdrawn', withdrawn_at = COALESCE(withdrawn_at, ?) WHERE id = ?")
              .Bind(1, NowRfc3339())
              .Bind(2, case_id)
              .Run());
      std::vector<std::int64_t> ids;
      {
        Stmt s(db_, "SELECT id FROM signals WHERE case_id = ? AND state IN ('pending_review','active') ORDER BY id");
        s.Bind(1, case_id);
        while (s.Step()) ids.push_back(s.Int(0));
        TAKEBACK_RETURN_IF_ERROR(s.status());
      }
      for (std::int64_t id : ids) {
        Result<StoredSignal> sig = SetStateLocked(id, SignalState::kWithdrawn);
        if (!sig.ok()) return sig.status();
        changed.push_back(std::move(*sig));
      }
      return AuditLocked({0, "", actor, "case.withdraw", "case:" + std::to_string(case_id),
                          std::to_string(ids.size()) + " signals withdrawn"});
    });
    if (!st.ok()) return st;
    return changed;
  }

  Result<std::vector<StoredSignal>> AddSignals(const SignalOwner& owner, const std::vector<NewSignal>& signals,
                                               SignalState state, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<StoredSignal> added;
    Status st = InTransaction([&]() -> Status {
      if (owner.case_id) {
        Stmt s(db_, "SELECT status FROM cases WHERE id = ?");
        s.Bind(1, *owner.case_id);
        if (!s.Step()) return s.status().ok() ? NotFound("no such case") : s.status();
        if (s.Text(0) != "open") return InvalidArgument("the case is withdrawn; open a new case");
      }
      if (owner.bank_id) TAKEBACK_RETURN_IF_ERROR(RequireRow("banks", *owner.bank_id, "bank"));
      return InsertSignalsLocked(owner, signals, state, actor, &added);
    });
    if (!st.ok()) return st;
    return added;
  }

  Result<StoredSignal> GetSignal(std::int64_t id, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    Result<StoredSignal> sig = GetSignalLocked(id);
    if (sig.ok())
      TAKEBACK_RETURN_IF_ERROR(AuditLocked({0, "", actor, "signal.read", "signal:" + std::to_string(id), ""}));
    return sig;
  }

  Result<StoredSignal> DecideSignal(std::int64_t id, SignalState to, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredSignal out;
    Status st = InTransaction([&]() -> Status {
      Result<StoredSignal> cur = GetSignalLocked(id);
      if (!cur.ok()) return cur.status();
      if (cur->state != SignalState::kPendingReview) {
        return InvalidArgument("signal " + std::to_string(id) + " is " + std::string(SignalStateName(cur->state)) +
                               ", not pending_review");
      }
      Result<StoredSignal> next = SetStateLocked(id, to);
      if (!next.ok()) return next.status();
      out = std::move(*next);
      return AuditLocked({0, "", actor, to == SignalState::kActive ? "signal.approve" : "signal.reject",
                          "signal:" + std::to_string(id), ""});
    });
    if (!st.ok()) return st;
    return out;
  }

  Result<std::vector<StoredSignal>> ListSignals(SignalState state, std::int64_t after_id, int limit,
                                                const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<StoredSignal> out;
    Stmt s(db_,
           "SELECT " + std::string(kSignalColumns) + " FROM signals WHERE state = ? AND id > ? ORDER BY id LIMIT ?");
    s.Bind(1, SignalStateName(state)).Bind(2, after_id).Bind(3, limit);
    while (s.Step()) out.push_back(ReadSignal(s));
    TAKEBACK_RETURN_IF_ERROR(s.status());
    TAKEBACK_RETURN_IF_ERROR(
        AuditLocked({0, "", actor, "signals.list", "signals:" + std::string(SignalStateName(state)),
                     std::to_string(out.size()) + " signals"}));
    return out;
  }

  Result<std::vector<StoredSignal>> ChangesSince(std::int64_t since, int limit, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<StoredSignal> out;
    Stmt s(db_, "SELECT " + std::string(kSignalColumns) + " FROM signals WHERE seq > ? ORDER BY seq LIMIT ?");
    s.Bind(1, since).Bind(2, limit);
    while (s.Step()) out.push_back(ReadSignal(s));
    TAKEBACK_RETURN_IF_ERROR(s.status());
    TAKEBACK_RETURN_IF_ERROR(
        AuditLocked({0, "", actor, "signals.delta", "signals:delta",
                     "since " + std::to_string(since) + ", " + std::to_string(out.size()) + " changes"}));
    return out;
  }

  Status ScanChanges(std::int64_t since, const std::function<bool(const StoredSignal&)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT " + std::string(kSignalColumns) + " FROM signals WHERE seq > ? ORDER BY seq");
    s.Bind(1, since);
    while (s.Step()) {
      if (!fn(ReadSignal(s))) break;
    }
    return s.status();
  }

  Status ScanActive(const std::string& type, const std::function<bool(const StoredSignal&)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    // Two statements so that the typed scan can use signals_type_state.
    Stmt s(db_, "SELECT " + std::string(kSignalColumns) + " FROM signals WHERE state = 'active'" +
                    (type.empty() ? std::string() : std::string(" AND type = ?")) + " ORDER BY id");
    if (!type.empty()) s.Bind(1, type);
    while (s.Step()) {
      if (!fn(ReadSignal(s))) break;
    }
    return s.status();
  }

  Result<std::vector<StoredSignal>> ListActiveSignalsOf(const SignalOwner& owner, std::int64_t after_id, int limit,
                                                        const std::string& actor) override {
    if (owner.case_id.has_value() == owner.bank_id.has_value()) {
      return InvalidArgument("ListActiveSignalsOf needs exactly one of a case or a bank");
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<StoredSignal> out;
    // signals_case serves the case query; banks are few and use signals_state.
    Stmt s(db_, "SELECT " + std::string(kSignalColumns) + " FROM signals WHERE " +
                    (owner.case_id ? "case_id" : "bank_id") +
                    " = ? AND state = 'active' AND id > ? ORDER BY id LIMIT ?");
    s.Bind(1, owner.case_id ? *owner.case_id : *owner.bank_id).Bind(2, after_id).Bind(3, limit);
    while (s.Step()) out.push_back(ReadSignal(s));
    TAKEBACK_RETURN_IF_ERROR(s.status());
    TAKEBACK_RETURN_IF_ERROR(AuditLocked(
        {0, "", actor, "signals.read",
         owner.case_id ? "case:" + std::to_string(*owner.case_id) : "bank:" + std::to_string(*owner.bank_id),
         std::to_string(out.size()) + " active signals after id " + std::to_string(after_id)}));
    return out;
  }

  Result<std::int64_t> MaxSeq() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT COALESCE(MAX(seq), 0) FROM signals");  // the UNIQUE index on seq answers it
    if (!s.Step()) return s.status();
    return s.Int(0);
  }

  Result<SignalStats> Stats() override {
    std::lock_guard<std::mutex> lock(mu_);
    SignalStats stats;
    Stmt s(db_,
           "SELECT COUNT(*), COALESCE(SUM(state = 'active'), 0), COALESCE(SUM(state = 'pending_review'), 0), "
           "COALESCE(MAX(seq), 0) FROM signals");
    if (!s.Step()) return s.status();
    stats.total = s.Int(0);
    stats.active = s.Int(1);
    stats.pending = s.Int(2);
    stats.max_seq = s.Int(3);
    return stats;
  }

  Result<Report> CreateReport(const Report& report, const std::vector<NewSignal>& signals, const std::string& actor,
                              std::vector<StoredSignal>* added) override {
    std::lock_guard<std::mutex> lock(mu_);
    Report out = report;
    out.state = "pending_review";
    out.created_at = NowRfc3339();
    Status st = InTransaction([&]() -> Status {
      TAKEBACK_RETURN_IF_ERROR(RequireRow("banks", report.bank_id, "bank"));
      Stmt s(db_,
             "INSERT INTO reports (key_id, bank_id, url, category, notes, state, created_at) "
             "VALUES (?,?,?,?,?,'pending_review',?)");
      s.Bind(1, report.key_id).Bind(2, report.bank_id).Bind(3, report.url).Bind(4, report.category);
      TAKEBACK_RETURN_IF_ERROR(s.Bind(5, report.notes).Bind(6, out.created_at).Run());
      out.id = sqlite3_last_insert_rowid(db_);
      TAKEBACK_RETURN_IF_ERROR(AuditLocked({0, "", actor, "report.create", "report:" + std::to_string(out.id),
                                            std::to_string(signals.size()) + " signals"}));
      SignalOwner owner;
      owner.bank_id = report.bank_id;
      owner.report_id = out.id;
      TAKEBACK_RETURN_IF_ERROR(InsertSignalsLocked(owner, signals, SignalState::kPendingReview, actor, added));
      for (const StoredSignal& sig : *added) out.signal_ids.push_back(sig.id);
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return out;
  }

  Result<std::vector<Report>> ListReports(const std::string& state, std::int64_t after_id, int limit,
                                          const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Report> out;
    {
      Stmt s(db_, "SELECT " + std::string(kReportColumns) +
                      " FROM reports WHERE (? = '' OR state = ?) AND id > ? ORDER BY id LIMIT ?");
      s.Bind(1, state).Bind(2, state).Bind(3, after_id).Bind(4, limit);
      while (s.Step()) out.push_back(ReadReport(s));
      TAKEBACK_RETURN_IF_ERROR(s.status());
    }
    for (Report& r : out) TAKEBACK_RETURN_IF_ERROR(LoadReportSignalIds(&r));
    TAKEBACK_RETURN_IF_ERROR(
        AuditLocked({0, "", actor, "reports.list", "reports", std::to_string(out.size()) + " reports"}));
    return out;
  }

  Result<Report> DecideReport(std::int64_t id, bool approve, const std::string& actor,
                              std::vector<StoredSignal>* changed) override {
    std::lock_guard<std::mutex> lock(mu_);
    Report out;
    Status st = InTransaction([&]() -> Status {
      {
        Stmt s(db_, "SELECT " + std::string(kReportColumns) + " FROM reports WHERE id = ?");
        s.Bind(1, id);
        if (!s.Step()) return s.status().ok() ? NotFound("no report with id " + std::to_string(id)) : s.status();
        out = ReadReport(s);
      }
      if (out.state != "pending_review")
        return InvalidArgument("report " + std::to_string(id) + " is already " + out.state);
      out.state = approve ? "approved" : "rejected";
      TAKEBACK_RETURN_IF_ERROR(Stmt(db_, "UPDATE reports SET state = ?, decided_at = ? WHERE id = ?")
                                   .Bind(1, out.state)
                                   .Bind(2, NowRfc3339())
                                   .Bind(3, id)
                                   .Run());
      std::vector<std::int64_t> ids;
      {
        Stmt s(db_, "SELECT id FROM signals WHERE report_id = ? AND state = 'pending_review' ORDER BY id");
        s.Bind(1, id);
        while (s.Step()) ids.push_back(s.Int(0));
        TAKEBACK_RETURN_IF_ERROR(s.status());
      }
      for (std::int64_t sid : ids) {
        Result<StoredSignal> sig = SetStateLocked(sid, approve ? SignalState::kActive : SignalState::kRejected);
        if (!sig.ok()) return sig.status();
        changed->push_back(std::move(*sig));
      }
      TAKEBACK_RETURN_IF_ERROR(LoadReportSignalIds(&out));
      return AuditLocked({0, "", actor, approve ? "report.approve" : "report.reject", "report:" + std::to_string(id),
                          std::to_string(ids.size()) + " signals"});
    });
    if (!st.ok()) return st;
    return out;
  }

  Status RecordMatches(std::vector<MatchRecord>* matches, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    return InTransaction([&]() -> Status {
      const std::string now = NowRfc3339();
      for (MatchRecord& m : *matches) {
        m.created_at = now;
        TAKEBACK_RETURN_IF_ERROR(
            Stmt(db_, "INSERT INTO matches (signal_id, key_id, distance, created_at) VALUES (?,?,?,?)")
                .Bind(1, m.signal_id)
                .Bind(2, m.key_id)
                .Bind(3, m.distance)
                .Bind(4, now)
                .Run());
        m.id = sqlite3_last_insert_rowid(db_);
        TAKEBACK_RETURN_IF_ERROR(AuditLocked(
            {0, "", actor, "signal.match", "signal:" + std::to_string(m.signal_id), "match " + std::to_string(m.id)}));
      }
      return Status::Ok();
    });
  }

  Result<MatchRecord> GetMatch(std::int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT id, signal_id, key_id, distance, created_at FROM matches WHERE id = ?");
    s.Bind(1, id);
    if (!s.Step()) {
      TAKEBACK_RETURN_IF_ERROR(s.status());
      return NotFound("no match with id " + std::to_string(id));
    }
    return MatchRecord{s.Int(0), s.Int(1), s.Int(2), s.Double(3), s.Text(4)};
  }

  Result<std::int64_t> AddFeedback(std::int64_t match_id, std::int64_t key_id, const std::string& verdict,
                                   const std::string& notes, const std::string& actor) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::int64_t id = 0;
    Status st = InTransaction([&]() -> Status {
      TAKEBACK_RETURN_IF_ERROR(RequireRow("matches", match_id, "match"));
      TAKEBACK_RETURN_IF_ERROR(
          Stmt(db_, "INSERT INTO feedback (match_id, key_id, verdict, notes, created_at) VALUES (?,?,?,?,?)")
              .Bind(1, match_id)
              .Bind(2, key_id)
              .Bind(3, verdict)
              .Bind(4, notes)
              .Bind(5, NowRfc3339())
              .Run());
      id = sqlite3_last_insert_rowid(db_);
      return AuditLocked({0, "", actor, "feedback.create", "match:" + std::to_string(match_id), verdict});
    });
    if (!st.ok()) return st;
    return id;
  }

  Status Audit(const AuditEntry& entry) override {
    std::lock_guard<std::mutex> lock(mu_);
    return AuditLocked(entry);
  }

  Result<std::vector<AuditEntry>> ListAudit(std::int64_t before, int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<AuditEntry> out;
    Stmt s(db_,
           "SELECT id, at, actor, action, object, detail FROM audit_log WHERE (? = 0 OR id < ?) ORDER BY id DESC "
           "LIMIT ?");
    s.Bind(1, before).Bind(2, before).Bind(3, limit);
    while (s.Step()) out.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5)});
    TAKEBACK_RETURN_IF_ERROR(s.status());
    return out;
  }

 private:
  Status Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      return IoError("database: " + message);
    }
    return Status::Ok();
  }

  // Runs fn inside BEGIN IMMEDIATE .. COMMIT; rolls back when it fails.
  Status InTransaction(const std::function<Status()>& fn) {
    TAKEBACK_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status st = fn();
    if (st.ok()) st = Exec("COMMIT");
    if (!st.ok()) (void)Exec("ROLLBACK");
    return st;
  }

  Status RequireRow(std::string_view table, std::int64_t id, std::string_view what) {
    Stmt s(db_, "SELECT 1 FROM " + std::string(table) + " WHERE id = ?");
    s.Bind(1, id);
    if (s.Step()) return Status::Ok();
    TAKEBACK_RETURN_IF_ERROR(s.status());
    return NotFound("no " + std::string(what) + " with id " + std::to_string(id));
  }

  Status AuditLocked(const AuditEntry& e) {
    return Stmt(db_, "INSERT INTO audit_log (at, actor, action, object, detail) VALUES (?,?,?,?,?)")
        .Bind(1, e.at.empty() ? NowRfc3339() : e.at)
        .Bind(2, e.actor)
        .Bind(3, e.action)
        .Bind(4, e.object)
        .Bind(5, e.detail)
        .Run();
  }

  Result<std::int64_t> NextSeqLocked() {
    Stmt s(db_, "SELECT COALESCE(MAX(seq), 0) + 1 FROM signals");
    if (!s.Step()) return s.status();
    return s.Int(0);
  }

  Status InsertSignalsLocked(const SignalOwner& owner, const std::vector<NewSignal>& signals, SignalState state,
                             const std::string& actor, std::vector<StoredSignal>* added) {
    if (signals.empty()) return Status::Ok();
    Result<std::int64_t> seq = NextSeqLocked();
    if (!seq.ok()) return seq.status();
    const std::string now = NowRfc3339();
    Stmt s(db_,
           "INSERT INTO signals (type, value, quality, label, case_id, bank_id, report_id, state, seq, created_at) "
           "VALUES (?,?,?,?,?,?,?,?,?,?)");
    TAKEBACK_RETURN_IF_ERROR(s.status());
    std::int64_t next = *seq;
    for (const NewSignal& sig : signals) {
      s.Reset();
      s.Bind(1, sig.type).BindBlob(2, sig.value).Bind(3, sig.quality).Bind(4, sig.label);
      s.Bind(5, owner.case_id).Bind(6, owner.bank_id).Bind(7, owner.report_id);
      s.Bind(8, SignalStateName(state)).Bind(9, next).Bind(10, now);
      TAKEBACK_RETURN_IF_ERROR(s.Run());
      StoredSignal out;
      out.id = sqlite3_last_insert_rowid(db_);
      out.type = sig.type;
      out.value = sig.value;
      out.quality = sig.quality;
      out.label = sig.label;
      out.owner = owner;
      out.state = state;
      out.seq = next++;
      out.created_at = now;
      if (added != nullptr) added->push_back(std::move(out));
    }
    return AuditLocked(
        {0, "", actor, "signals.add",
         owner.case_id ? "case:" + std::to_string(*owner.case_id) : "bank:" + std::to_string(*owner.bank_id),
         std::to_string(signals.size()) + " signals, " + std::string(SignalStateName(state))});
  }

  Result<StoredSignal> GetSignalLocked(std::int64_t id) {
    Stmt s(db_, "SELECT " + std::string(kSignalColumns) + " FROM signals WHERE id = ?");
    s.Bind(1, id);
    if (!s.Step()) {
      TAKEBACK_RETURN_IF_ERROR(s.status());
      return NotFound("no signal with id " + std::to_string(id));
    }
    return ReadSignal(s);
  }

  Result<StoredSignal> SetStateLocked(std::int64_t id, SignalState to) {
    Result<std::int64_t> seq = NextSeqLocked();
    if (!seq.ok()) return seq.status();
    TAKEBACK_RETURN_IF_ERROR(Stmt(db_, "UPDATE signals SET state = ?, seq = ? WHERE id = ?")
                                 .Bind(1, SignalStateName(to))
                                 .Bind(2, *seq)
                                 .Bind(3, id)
                                 .Run());
    return GetSignalLocked(id);
  }

  Status LoadReportSignalIds(Report* r) {
    Stmt s(db_, "SELECT id FROM signals WHERE report_id = ? ORDER BY id");
    s.Bind(1, r->id);
    r->signal_ids.clear();
    while (s.Step()) r->signal_ids.push_back(s.Int(0));
    return s.status();
  }

  std::mutex mu_;  // guards db_ (one connection, one transaction at a time)
  sqlite3* db_;
  int schema_version_ = 0;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return IoError("cannot open database " + path + ": " + message);
  }
  auto store = std::make_unique<SqliteStore>(db);
  Status st = store->Init();
  if (!st.ok()) {
    if (st.message().find("file is not a database") != std::string::npos) {
      return Corrupt(path + " is not a Takeback database (" + st.message() + ")");
    }
    return Status(st.code(), path + ": " + st.message());
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace takeback::store
