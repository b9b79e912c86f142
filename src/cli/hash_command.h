// `takeback hash`: PDQ hashes (and optionally dihedral hashes and exact
// digests) of image files, in the reference pdq-photo-hasher's text layout
// or as JSON lines.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/command.h"

namespace takeback::cli {

// Runs the sub-command on `args` (the arguments after "hash"). Returns
// kExitOk when every file hashed, kExitSomeFailed when some did not (each
// failure has one line on io.err and the run went on), kExitUsage on a bad
// command line.
int RunHashCommand(std::span<const std::string> args, const CommandIo& io);

// The text of `takeback hash --help`.
std::string_view HashCommandHelp();

}  // namespace takeback::cli
