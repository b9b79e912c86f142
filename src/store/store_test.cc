#include "store/store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "store/secrets.h"

namespace takeback::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("store_test_" + std::to_string(::getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "takeback.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open() {
    Result<std::unique_ptr<Store>> s = OpenSqliteStore(path_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static NewSignal Pdq(std::uint8_t fill) { return NewSignal{"pdq", std::vector<std::uint8_t>(32, fill), 90, "photo"}; }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(StoreTest, MigratesOnceAndReopens) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->SchemaVersion(), 1);
    ASSERT_TRUE(store->CreateOrganisation("Hotline", "system").ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto orgs = store->ListOrganisations();
  ASSERT_TRUE(orgs.ok());
  ASSERT_EQ(orgs->size(), 1U);
  EXPECT_EQ((*orgs)[0].name, "Hotline");
  // The default bank for flaggers' reports exists exactly once.
  auto banks = store->ListBanks();
  ASSERT_TRUE(banks.ok());
  ASSERT_EQ(banks->size(), 1U);
  EXPECT_EQ((*banks)[0].name, "reports");
}

TEST_F(StoreTest, RefusesAFileThatIsNotADatabase) {
  std::ofstream(path_) << "this is not sqlite, just some text long enough to fill a header page................";
  Result<std::unique_ptr<Store>> s = OpenSqliteStore(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kCorrupt) << s.status().ToString();
}

TEST_F(StoreTest, SequenceGrowsOnEveryChangeAndWithdrawalIsADelta) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto empty_seq = store->MaxSeq();
  ASSERT_TRUE(empty_seq.ok()) << empty_seq.status().ToString();
  EXPECT_EQ(*empty_seq, 0);
  std::vector<StoredSignal> added;
  auto c = store->CreateCase("TB-AAAA-BBBB", "hash", {"name"}, {Pdq(1), Pdq(2)}, "test", &added);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(added.size(), 2U);
  EXPECT_LT(added[0].seq, added[1].seq);
  EXPECT_EQ(added[0].state, SignalState::kPendingReview);

  auto approved = store->DecideSignal(added[0].id, SignalState::kActive, "reviewer");
  ASSERT_TRUE(approved.ok());
  EXPECT_GT(approved->seq, added[1].seq);
  // Deciding twice is refused.
  EXPECT_EQ(store->DecideSignal(added[0].id, SignalState::kRejected, "reviewer").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->DecideSignal(999, SignalState::kActive, "reviewer").status().code(), ErrorCode::kNotFound);

  auto withdrawn = store->WithdrawCase(c->id, "case");
  ASSERT_TRUE(withdrawn.ok());
  ASSERT_EQ(withdrawn->size(), 2U);
  for (const StoredSignal& s : *withdrawn) {
    EXPECT_EQ(s.state, SignalState::kWithdrawn);
    EXPECT_GT(s.seq, approved->seq);
  }
  auto changes = store->ChangesSince(approved->seq, 100, "platform");
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 2U);
  EXPECT_LT((*changes)[0].seq, (*changes)[1].seq);
  // MaxSeq (what the index snapshot records) is the last change's sequence,
  // the same figure the full-scan Stats() reports.
  auto max_seq = store->MaxSeq();
  auto stats = store->Stats();
  ASSERT_TRUE(max_seq.ok() && stats.ok());
  EXPECT_EQ(*max_seq, (*changes)[1].seq);
  EXPECT_EQ(*max_seq, stats->max_seq);
  // A withdrawn case takes no more signals.
  SignalOwner owner;
  owner.case_id = c->id;
  EXPECT_EQ(store->AddSignals(owner, {Pdq(3)}, SignalState::kPendingReview, "case").status().code(),
            ErrorCode::kInvalidArgument);
  auto counts = store->CountCase(c->id, "case");
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->withdrawn, 2);
  EXPECT_EQ(counts->active, 0);
  // Every one of those writes and reads left an audit row.
  auto audit = store->ListAudit(0, 100);
  ASSERT_TRUE(audit.ok());
  bool saw_withdraw = false, saw_delta = false, saw_read = false;
  for (const AuditEntry& e : *audit) {
    saw_withdraw |= e.action == "case.withdraw";
    saw_delta |= e.action == "signals.delta";
    saw_read |= e.action == "case.read";
  }
  EXPECT_TRUE(saw_withdraw && saw_delta && saw_read);
}

TEST_F(StoreTest, PinLockoutIsPersisted) {
  auto pin_hash = HashPin("0123456789");
  ASSERT_TRUE(pin_hash.ok());
  EXPECT_TRUE(VerifyPin("0123456789", *pin_hash));
  EXPECT_FALSE(VerifyPin("0123456788", *pin_hash));
  std::int64_t id = 0;
  {
    auto store = Open();
    auto c = store->CreateCase("TB-CCCC-DDDD", *pin_hash, {}, {}, "test", nullptr);
    ASSERT_TRUE(c.ok());
    id = c->id;
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(store->RecordPinAttempt(id, false, 1000, 5, 900).ok());
  }
  auto store = Open();
  auto c = store->RecordPinAttempt(id, false, 1000, 5, 900);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->locked_until, 1900);
  EXPECT_EQ(c->failed_attempts, 0);
}

TEST_F(StoreTest, KeysAreFoundByHashAndRevoked) {
  auto store = Open();
  const std::string key = GenerateApiKey();
  EXPECT_EQ(key.size(), 56U);
  auto created =
      store->CreateApiKey(Role::kPlatform, std::nullopt, "uploads", HashApiKey(key), ApiKeyPrefix(key), "admin");
  ASSERT_TRUE(created.ok());
  auto found = store->FindApiKey(HashApiKey(key));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->role, Role::kPlatform);
  EXPECT_EQ(store->CreateApiKey(Role::kAdmin, 42, "", "x", "x", "admin").status().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store->RevokeApiKey(created->id, "admin").ok());
  EXPECT_EQ(store->FindApiKey(HashApiKey(key)).status().code(), ErrorCode::kNotFound);
}

TEST_F(StoreTest, ReportDecisionActivatesItsSignals) {
  auto store = Open();
  auto key = store->CreateApiKey(Role::kFlagger, std::nullopt, "", "h", "p", "admin");
  ASSERT_TRUE(key.ok());
  Report r;
  r.key_id = key->id;
  r.bank_id = 1;
  r.url = "https://t.me/x/1";
  r.category = "ncii";
  std::vector<StoredSignal> added;
  auto report =
      store->CreateReport(r, {Pdq(7), NewSignal{"md5", std::vector<std::uint8_t>(16, 3), 0, ""}}, "flagger", &added);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->signal_ids.size(), 2U);
  std::vector<StoredSignal> changed;
  auto decided = store->DecideReport(report->id, true, "reviewer", &changed);
  ASSERT_TRUE(decided.ok());
  EXPECT_EQ(decided->state, "approved");
  ASSERT_EQ(changed.size(), 2U);
  EXPECT_EQ(changed[0].state, SignalState::kActive);
  int active = 0;
  ASSERT_TRUE(store->ScanActive("", [&](const StoredSignal&) { return ++active > 0; }).ok());
  EXPECT_EQ(active, 2);
  EXPECT_FALSE(store->DecideReport(report->id, false, "reviewer", &changed).ok());
}

// What an investigator's scan reads (issue 6): only the owner's active
// signals, paged by id, every page audited.
TEST_F(StoreTest, ListActiveSignalsOfReadsOnlyTheOwnersActiveSignals) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<StoredSignal> a;
  auto case_a = store->CreateCase("TB-AAAA-AAAA", "x", {}, {Pdq(1), Pdq(2), Pdq(3), Pdq(4)}, "anonymous", &a);
  ASSERT_TRUE(case_a.ok()) << case_a.status().ToString();
  std::vector<StoredSignal> b;
  auto case_b = store->CreateCase("TB-BBBB-BBBB", "x", {}, {Pdq(5)}, "anonymous", &b);
  ASSERT_TRUE(case_b.ok());
  ASSERT_EQ(a.size(), 4U);
  ASSERT_TRUE(store->DecideSignal(a[0].id, SignalState::kActive, "key:1").ok());
  ASSERT_TRUE(store->DecideSignal(a[1].id, SignalState::kRejected, "key:1").ok());
  ASSERT_TRUE(store->DecideSignal(a[3].id, SignalState::kActive, "key:1").ok());
  ASSERT_TRUE(store->DecideSignal(b[0].id, SignalState::kActive, "key:1").ok());
  // a[2] stays pending.
  SignalOwner owner;
  owner.case_id = case_a->id;
  auto page = store->ListActiveSignalsOf(owner, 0, 1, "key:7");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->size(), 1U);
  EXPECT_EQ((*page)[0].id, a[0].id);
  page = store->ListActiveSignalsOf(owner, a[0].id, 10, "key:7");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1U);
  EXPECT_EQ((*page)[0].id, a[3].id);
  EXPECT_EQ((*page)[0].state, SignalState::kActive);
  // Withdrawn: nothing left.
  ASSERT_TRUE(store->WithdrawCase(case_a->id, "case:TB-AAAA-AAAA").ok());
  page = store->ListActiveSignalsOf(owner, 0, 10, "key:7");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->empty());
  // Case B is untouched; the reports bank has none.
  owner.case_id = case_b->id;
  page = store->ListActiveSignalsOf(owner, 0, 10, "key:7");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1U);
  EXPECT_EQ((*page)[0].id, b[0].id);
  SignalOwner bank;
  bank.bank_id = 1;
  page = store->ListActiveSignalsOf(bank, 0, 10, "key:7");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->empty());
  EXPECT_EQ(store->ListActiveSignalsOf(SignalOwner{}, 0, 10, "key:7").status().code(), ErrorCode::kInvalidArgument);
  // Every page read is in the audit log with the reader.
  auto audit = store->ListAudit(0, 100);
  ASSERT_TRUE(audit.ok());
  int reads = 0;
  for (const AuditEntry& e : *audit) {
    if (e.action != "signals.read") continue;
    ++reads;
    EXPECT_EQ(e.actor, "key:7");
  }
  EXPECT_EQ(reads, 5);
}

}  // namespace
}  // namespace takeback::store
