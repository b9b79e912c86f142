// `takeback match`: hash files on this machine and check them against a
// Takeback server's banks and cases (POST /v1/match) (issue 4).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/command.h"

namespace takeback::cli {

int RunMatchCommand(std::span<const std::string> args, const CommandIo& io);
std::string_view MatchCommandHelp();

}  // namespace takeback::cli
