// `takeback register FILE... --out case.json`: a victim (or a caseworker on
// her device) turns her photos and videos into signals: PDQ, vPDQ, MD5,
// SHA-256 and face descriptors, computed locally. Only the signal-set file
// leaves the device (docs/formats/signal-set.md); the images never do.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/command.h"

namespace takeback::cli {

// Exit status: 0 every file gave signals and the file was written; 1 some
// files failed (the others were written) or nothing could be written; 2 bad
// command line or face models missing.
int RunRegisterCommand(std::span<const std::string> args, const CommandIo& io);

std::string_view RegisterCommandHelp();

}  // namespace takeback::cli
