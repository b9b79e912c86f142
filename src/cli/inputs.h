// Turns the command line's FILE|DIR|- arguments into the list of files to
// process, in a deterministic order.
#pragma once

#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace takeback::cli {

// One file to process. `error` is set when the input already failed while
// being listed (missing path, a directory without -r, an unreadable
// directory); such an item is reported in its place in the output order.
struct InputItem {
  std::string path;
  Status error;
};

// Expands `args` in order:
// - "-" reads paths from `in`, one per line (a trailing '\r' is dropped,
//   empty lines are skipped); each is then handled like an argument.
// - a regular file (or a symlink to one) becomes one item, its path as given;
// - a directory is an error item unless `recursive`; with `recursive`, the
//   regular files below it, sorted by path (byte order). Symlinks to files
//   are followed, symlinks to directories are not (no loops, no escaping the
//   tree); other file types (fifos, sockets, devices) are skipped.
// - anything else (missing, a fifo given by name, ...) becomes an error item.
// Never throws on filesystem errors.
std::vector<InputItem> CollectInputs(std::span<const std::string> args, bool recursive, std::istream& in);

}  // namespace takeback::cli
