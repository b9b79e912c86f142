// `takeback scan --signals case.json EXPORT|FOLDER|FILE...`: finds a case's
// images, videos, face and watch terms in Telegram exports and folders, and
// writes report.json and report.html (issue 6).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/command.h"

namespace takeback::cli {

// Exit status: 0 the scan finished (whether or not it found anything);
// 1 it finished but some source was damaged or truncated, some files could
// not be read, or evidence could not be preserved; 2 bad command line,
// unreadable signal sets or missing face models.
int RunScanCommand(std::span<const std::string> args, const CommandIo& io);

std::string_view ScanCommandHelp();

}  // namespace takeback::cli
