// What an investigator's scan reads from the case store (issue 6): the active
// signals of chosen cases, or of every bank, with what a report needs to name
// them (case number, bank name, signal ids) and the cases' watch terms.
//
// Shared by the HTTP API (GET /v1/scan/sources, GET /v1/scan/signals) and by
// `takeback scan --db FILE`, so that both read, filter and audit alike: only
// active signals are returned (pending, withdrawn and rejected ones never
// match), and every page of signals read is written to the audit log with
// the reader's actor ("key:12", "local:alice").
//
// Thread-safe as the Store is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace takeback::cases {

// A case or a bank whose signals a scan reads.
struct ScanSource {
  std::string kind;  // "case" or "bank"
  std::int64_t id = 0;
  std::string name;                      // the case number, or the bank's name
  std::string status;                    // case: "open" / "withdrawn"; bank: "active"
  std::vector<std::string> watch_terms;  // open cases only (a withdrawn case's are not given out)
  store::Bank bank;                      // banks only
};

// The case with this number. kNotFound "no case NUMBER" when there is none
// (or the text cannot be a case number).
Result<ScanSource> FindScanCase(store::Store& store, const std::string& number);
// The bank with this name, or this numeric id. kNotFound naming it otherwise.
Result<ScanSource> FindScanBank(store::Store& store, const std::string& name_or_id);
// Every bank, by id.
Result<std::vector<ScanSource>> AllScanBanks(store::Store& store);

// One page of the source's active signals: id > after_id, by id, at most
// `limit` (1..10000). Audited (store::Store::ListActiveSignalsOf).
Result<std::vector<store::StoredSignal>> ReadScanSignals(store::Store& store, const ScanSource& source,
                                                         std::int64_t after_id, int limit, const std::string& actor);

}  // namespace takeback::cases
