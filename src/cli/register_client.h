// The server half of `takeback register` (issue 4): sends a signal set
// computed on this machine to a Takeback server, opening a new case (POST
// /v1/cases) or adding to an existing one (POST /v1/cases/NUMBER/signals
// with its PIN). Only hashes and face descriptors travel; never images.
#pragma once

#include <string>

#include "cli/command.h"
#include "signals/signals.h"

namespace takeback::cli {

struct RegisterServerOptions {
  std::string server;       // http(s)://host:port
  std::string case_number;  // empty: open a new case
  std::string pin;          // with case_number (from $TAKEBACK_CASE_PIN)
};

// Sends `set`; prints the case number and (for a new case) the PIN on
// io.out with a notice that the PIN is shown only once. Returns kExitOk,
// or kExitSomeFailed with the server's error message on io.err.
int SendSignalSetToServer(const signals::SignalSet& set, const RegisterServerOptions& options, const CommandIo& io);

}  // namespace takeback::cli
