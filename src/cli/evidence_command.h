// `takeback evidence`: capture items into the tamper-evident evidence log,
// export court bundles for a case and verify them offline (issue 7).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/command.h"

namespace takeback::cli {

// Runs `takeback evidence SUBCOMMAND ...` (`args` are the arguments after
// "evidence"). kExitOk on success; kExitSomeFailed when a check failed or an
// operation could not be done (one line on io.err names it); kExitUsage on a
// bad command line.
int RunEvidenceCommand(std::span<const std::string> args, const CommandIo& io);

// The text of `takeback evidence --help`.
std::string_view EvidenceCommandHelp();

}  // namespace takeback::cli
