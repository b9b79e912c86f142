// `takeback faces IMAGE...`: detect, align and embed the faces in images
// (issue 5). Prints one JSON object per image.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/command.h"

namespace takeback::cli {

int RunFacesCommand(std::span<const std::string> args, const CommandIo& io);

std::string_view FacesCommandHelp();

}  // namespace takeback::cli
