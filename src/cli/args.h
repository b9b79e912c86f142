// A small command-line option parser for the sub-commands (no third-party
// flag library). It only splits argv into options and positionals; each
// sub-command validates the values itself.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace takeback::cli {

struct OptionSpec {
  std::string_view long_name;  // without the leading "--"
  char short_name = '\0';      // '\0' when the option has no short form
  bool takes_value = false;
};

// The result of splitting argv. Options are kept in command-line order,
// each under its long name; flags have an empty value.
struct ParsedArgs {
  std::vector<std::pair<std::string, std::string>> options;
  std::vector<std::string> positionals;

  [[nodiscard]] bool Has(std::string_view long_name) const;
  // The value of the last occurrence, or nullopt when the option is absent.
  [[nodiscard]] std::optional<std::string> Value(std::string_view long_name) const;
};

// Splits `args` (argv without the program and command names). Accepts
// "--name", "--name=value", "--name value", "-x", "-xVALUE", "-x VALUE",
// grouped short flags ("-rq"), "--" to end options, and "-" as a positional.
// Errors (kInvalidArgument): an unknown option, a missing value, a value
// given to a flag.
Result<ParsedArgs> ParseArgs(std::span<const std::string> args, std::span<const OptionSpec> specs);

// Parses a non-negative decimal integer ("0", "4000"); nullopt on anything
// else, including signs, spaces and overflow.
std::optional<std::uint64_t> ParseUint(std::string_view text);

// Parses a byte count with an optional binary suffix: "1048576", "512K",
// "512M", "1G", "2T" (also "512MB", "512MiB"; case-insensitive; K = 1024).
// nullopt on anything else or on overflow.
std::optional<std::uint64_t> ParseByteSize(std::string_view text);

}  // namespace takeback::cli
