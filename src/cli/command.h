// What every sub-command receives from main: its streams and the facts about
// the environment it may not look up itself (so tests can substitute them).
#pragma once

#include <iosfwd>

namespace takeback::cli {

// Exit statuses shared by all sub-commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitSomeFailed = 1;  // the run finished, but some inputs failed
inline constexpr int kExitUsage = 2;       // bad command line; nothing was done

struct CommandIo {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  bool err_is_terminal = false;  // enables progress lines
  unsigned hardware_threads = 1;
};

}  // namespace takeback::cli
