// takeback: the command-line program. main() only finds the sub-command and
// hands it the process's streams; each sub-command lives in its own file.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "cli/compare_command.h"
#include "cli/evidence_command.h"
#include "cli/faces_command.h"
#include "cli/hash_command.h"
#include "cli/match_command.h"
#include "cli/register_command.h"
#include "cli/scan_command.h"
#include "cli/serve_command.h"

#ifndef TAKEBACK_VERSION
#define TAKEBACK_VERSION "unknown"
#endif

namespace takeback::cli {
namespace {

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(std::span<const std::string> args, const CommandIo& io);
  std::string_view (*help)();
};

constexpr std::array<Command, 8> kCommands = {{
    {"hash", "print PDQ hashes of images and vPDQ hashes of videos", &RunHashCommand, &HashCommandHelp},
    {"compare", "compare two images, videos or hash files (vPDQ match)", &RunCompareCommand, &CompareCommandHelp},
    {"evidence", "capture evidence into a signed log; export and verify court bundles", &RunEvidenceCommand,
     &EvidenceCommandHelp},
    {"faces", "find faces and print their descriptors, for review", &RunFacesCommand, &FacesCommandHelp},
    {"register", "turn your images into signals (hashes, faces) on this machine", &RunRegisterCommand,
     &RegisterCommandHelp},
    {"match", "check images and videos against a Takeback server's banks", &RunMatchCommand, &MatchCommandHelp},
    {"serve", "run the case store and HTTP API (victims, platforms, reviewers)", &RunServeCommand, &ServeCommandHelp},
    {"scan", "find a case's images, face and details in Telegram exports and folders", &RunScanCommand,
     &ScanCommandHelp},
}};

// Named in the design, not built yet: say so instead of "unknown command".
constexpr std::array<std::string_view, 0> kPlannedCommands = {};

const Command* FindCommand(std::string_view name) {
  for (const Command& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

void PrintTopHelp(std::ostream& out) {
  out << "Usage: takeback COMMAND [OPTION]... [ARG]...\n"
         "\n"
         "Takeback finds and takes down non-consensual intimate images. Victims hash\n"
         "their own photos (the photos never leave their device), platforms check\n"
         "uploads against those hashes, investigators scan chat exports.\n"
         "\n"
         "Commands:\n";
  for (const Command& command : kCommands) out << "  " << command.name << "    " << command.summary << "\n";
  out << "\n"
         "Options:\n"
         "  -h, --help       show this help (\"takeback COMMAND --help\" for a command)\n"
         "      --version    print the version\n"
         "\n"
         "Exit status: 0 success, 1 some inputs failed, 2 bad command line.\n"
         "\n"
         "Examples:\n"
         "  takeback hash photo.jpg\n"
         "  takeback hash -r --json photos/ > hashes.jsonl\n"
         "  takeback help hash\n";
}

int UsageError(std::ostream& err, const std::string& message) {
  err << "takeback: " << message << "\n"
      << "Usage: takeback COMMAND [OPTION]... [ARG]...\n"
      << "Try 'takeback --help' for more information.\n";
  return kExitUsage;
}

int Help(std::span<const std::string> args, const CommandIo& io) {
  if (args.empty()) {
    PrintTopHelp(io.out);
    return kExitOk;
  }
  const Command* command = FindCommand(args[0]);
  if (command == nullptr) return UsageError(io.err, "no help for unknown command '" + args[0] + "'");
  io.out << command->help();
  return kExitOk;
}

int Dispatch(std::span<const std::string> args, const CommandIo& io) {
  if (args.empty()) return UsageError(io.err, "no command given");
  const std::string& first = args[0];
  if (first == "-h" || first == "--help") return Help({}, io);
  if (first == "help") return Help(args.subspan(1), io);
  if (first == "--version") {
    io.out << "takeback " << TAKEBACK_VERSION << "\n";
    return kExitOk;
  }
  if (const Command* command = FindCommand(first)) return command->run(args.subspan(1), io);
  if (std::find(kPlannedCommands.begin(), kPlannedCommands.end(), first) != kPlannedCommands.end()) {
    return UsageError(io.err, "command '" + first + "' is not available in this version yet");
  }
  if (first.starts_with('-')) return UsageError(io.err, "unknown option '" + first + "'");
  return UsageError(io.err, "unknown command '" + first + "'");
}

}  // namespace
}  // namespace takeback::cli

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  const takeback::cli::CommandIo io{
      .in = std::cin,
      .out = std::cout,
      .err = std::cerr,
      .err_is_terminal = ::isatty(STDERR_FILENO) == 1,
      .hardware_threads = std::max(1U, std::thread::hardware_concurrency()),
  };
  return takeback::cli::Dispatch(args, io);
}
