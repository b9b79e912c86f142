#include "cases/scan_read.h"

#include <algorithm>
#include <charconv>

namespace takeback::cases {
namespace {

constexpr std::size_t kMaxNameBytes = 200;
constexpr int kMaxPage = 10000;

ScanSource FromBank(const store::Bank& b) {
  ScanSource s;
  s.kind = "bank";
  s.id = b.id;
  s.name = b.name;
  s.status = "active";
  s.bank = b;
  return s;
}

}  // namespace

Result<ScanSource> FindScanCase(store::Store& store, const std::string& number) {
  if (number.empty() || number.size() > kMaxNameBytes) return NotFound("no case \"" + number.substr(0, 40) + "\"");
  Result<store::CaseRecord> c = store.GetCaseByNumber(number);
  if (!c.ok()) {
    if (c.status().code() == ErrorCode::kNotFound) return NotFound("no case " + number);
    return c.status();
  }
  ScanSource s;
  s.kind = "case";
  s.id = c->id;
  s.name = c->number;
  s.status = c->status;
  // A withdrawn case is no longer looked for: neither its signals (none are
  // active) nor its watch terms.
  if (c->status == "open") s.watch_terms = c->watch_terms;
  return s;
}

Result<ScanSource> FindScanBank(store::Store& store, const std::string& name_or_id) {
  if (name_or_id.empty() || name_or_id.size() > kMaxNameBytes) {
    return NotFound("no bank \"" + name_or_id.substr(0, 40) + "\"");
  }
  Result<std::vector<store::Bank>> banks = store.ListBanks();
  if (!banks.ok()) return banks.status();
  // A name wins over an id, so that a bank named "7" is found by its name.
  for (const store::Bank& b : *banks) {
    if (b.name == name_or_id) return FromBank(b);
  }
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(name_or_id.data(), name_or_id.data() + name_or_id.size(), id);
  if (ec == std::errc() && end == name_or_id.data() + name_or_id.size()) {
    for (const store::Bank& b : *banks) {
      if (b.id == id) return FromBank(b);
    }
  }
  return NotFound("no bank named or numbered \"" + name_or_id + "\"");
}

Result<std::vector<ScanSource>> AllScanBanks(store::Store& store) {
  Result<std::vector<store::Bank>> banks = store.ListBanks();
  if (!banks.ok()) return banks.status();
  std::vector<ScanSource> out;
  out.reserve(banks->size());
  for (const store::Bank& b : *banks) out.push_back(FromBank(b));
  std::sort(out.begin(), out.end(), [](const ScanSource& a, const ScanSource& b) { return a.id < b.id; });
  return out;
}

Result<std::vector<store::StoredSignal>> ReadScanSignals(store::Store& store, const ScanSource& source,
                                                         std::int64_t after_id, int limit, const std::string& actor) {
  if (limit < 1 || limit > kMaxPage) return InvalidArgument("a page holds 1 to 10000 signals");
  store::SignalOwner owner;
  if (source.kind == "case") {
    owner.case_id = source.id;
  } else if (source.kind == "bank") {
    owner.bank_id = source.id;
  } else {
    return InvalidArgument("a scan reads the signals of a case or a bank, not \"" + source.kind + "\"");
  }
  return store.ListActiveSignalsOf(owner, after_id, limit, actor);
}

}  // namespace takeback::cases
