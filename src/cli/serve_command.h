// `takeback serve`: the case store and HTTP API (issue 4; docs/api/openapi.yaml).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/command.h"

namespace takeback::cli {

// Serves until SIGTERM/SIGINT (exit 0 after a clean shutdown), or with
// --init-admin creates an admin key, prints it and exits. kExitUsage on a
// bad command line, kExitSomeFailed when the database or port cannot be used.
int RunServeCommand(std::span<const std::string> args, const CommandIo& io);
std::string_view ServeCommandHelp();

}  // namespace takeback::cli
