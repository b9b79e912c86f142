// Where `takeback scan` gets the signals it matches (issue 6), besides
// signal-set files: a Takeback server (`--server URL --key KEY`, over
// GET /v1/scan/sources and GET /v1/scan/signals, paginated) or the server's
// SQLite store file read locally (`--db FILE`). Either way only active
// (reviewed) signals are read, of the chosen cases, or of every bank when no
// case or bank is chosen; every read is audited by the store, with the API
// key ("key:N") or the local user ("local:NAME") as the actor.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "scan/scan.h"

namespace takeback::cli {

struct ScanSignalSelection {
  std::vector<std::string> cases;  // case numbers
  std::vector<std::string> banks;  // bank names or ids
  bool all_banks() const { return cases.empty() && banks.empty(); }
};

// Called after each page read: the source ("case TB-..." / "bank NAME") and
// the signals read so far in total.
using SignalReadProgress = std::function<void(const std::string& source, std::size_t signals_read)>;

struct ScanSignalsRead {
  std::vector<scan::CaseSignals> sets;  // one per case or bank, in the order asked
  std::vector<std::string> warnings;    // withdrawn cases, signals that could not be decoded
};

// Reads from the server at `server` (http://host:port) with the API key
// `key`. Each error's message is one line saying what to do: kIoError (the
// server cannot be reached, or failed), kInvalidArgument (the key was
// refused, 401, or its role may not read signals, 403), kNotFound (an
// unknown case or bank), kCorrupt (a reply that is not a Takeback server's).
Result<ScanSignalsRead> FetchScanSignals(const std::string& server, const std::string& key,
                                         const ScanSignalSelection& selection, const SignalReadProgress& progress);

// Reads from the store file at `db_path` (never created: kNotFound when it
// does not exist). Nothing but the audit log is written to it.
Result<ScanSignalsRead> ReadScanSignalsFromStore(const std::string& db_path, const std::string& user,
                                                 const ScanSignalSelection& selection,
                                                 const SignalReadProgress& progress);

}  // namespace takeback::cli
