// `takeback compare A B`: the vPDQ comparison of two images, videos or saved
// hash files, printing both shares and the verdict.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/command.h"

namespace takeback::cli {

// Runs the sub-command on `args` (the arguments after "compare"). Returns
// kExitOk (0) on a match, 1 when the two do not match, kExitUsage (2) on a
// bad command line or when an input cannot be read or hashed (one line on
// io.err says why).
int RunCompareCommand(std::span<const std::string> args, const CommandIo& io);

// The text of `takeback compare --help`.
std::string_view CompareCommandHelp();

}  // namespace takeback::cli
