#include "cli/args.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace takeback::cli {
namespace {

const OptionSpec* FindLong(std::span<const OptionSpec> specs, std::string_view name) {
  for (const OptionSpec& spec : specs) {
    if (spec.long_name == name) return &spec;
  }
  return nullptr;
}

const OptionSpec* FindShort(std::span<const OptionSpec> specs, char name) {
  for (const OptionSpec& spec : specs) {
    if (spec.short_name != '\0' && spec.short_name == name) return &spec;
  }
  return nullptr;
}

// Handles "--name", "--name=value" and "--name value"; advances `i` past a
// value taken from the next argument.
Status ParseLong(std::span<const std::string> args, std::size_t& i, std::span<const OptionSpec> specs,
                 ParsedArgs& out) {
  const std::string_view body = std::string_view(args[i]).substr(2);
  const std::size_t eq = body.find('=');
  const std::string_view name = body.substr(0, eq);
  const OptionSpec* spec = FindLong(specs, name);
  if (spec == nullptr) return InvalidArgument("unknown option '--" + std::string(name) + "'");
  if (!spec->takes_value) {
    if (eq != std::string_view::npos) return InvalidArgument("option '--" + std::string(name) + "' takes no value");
    out.options.emplace_back(std::string(name), "");
    return Status::Ok();
  }
  if (eq != std::string_view::npos) {
    out.options.emplace_back(std::string(name), std::string(body.substr(eq + 1)));
    return Status::Ok();
  }
  if (i + 1 >= args.size()) return InvalidArgument("option '--" + std::string(name) + "' needs a value");
  out.options.emplace_back(std::string(name), args[++i]);
  return Status::Ok();
}

// Handles "-x", "-rq" (grouped flags), "-jVALUE" and "-j VALUE".
Status ParseShort(std::span<const std::string> args, std::size_t& i, std::span<const OptionSpec> specs,
                  ParsedArgs& out) {
  const std::string& arg = args[i];
  for (std::size_t k = 1; k < arg.size(); ++k) {
    const OptionSpec* spec = FindShort(specs, arg[k]);
    if (spec == nullptr) return InvalidArgument("unknown option '-" + std::string(1, arg[k]) + "'");
    const std::string long_name(spec->long_name);
    if (!spec->takes_value) {
      out.options.emplace_back(long_name, "");
      continue;
    }
    if (k + 1 < arg.size()) {
      out.options.emplace_back(long_name, arg.substr(k + 1));
      return Status::Ok();
    }
    if (i + 1 >= args.size()) return InvalidArgument("option '-" + std::string(1, arg[k]) + "' needs a value");
    out.options.emplace_back(long_name, args[++i]);
    return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace

bool ParsedArgs::Has(std::string_view long_name) const {
  return std::any_of(options.begin(), options.end(), [&](const auto& option) { return option.first == long_name; });
}

std::optional<std::string> ParsedArgs::Value(std::string_view long_name) const {
  std::optional<std::string> value;
  for (const auto& [name, text] : options) {
    if (name == long_name) value = text;
  }
  return value;
}

Result<ParsedArgs> ParseArgs(std::span<const std::string> args, std::span<const OptionSpec> specs) {
  ParsedArgs out;
  bool options_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || arg == "-" || arg.empty() || arg[0] != '-') {
      out.positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    const Status status = arg[1] == '-' ? ParseLong(args, i, specs, out) : ParseShort(args, i, specs, out);
    if (!status.ok()) return status;
  }
  return out;
}

std::optional<std::uint64_t> ParseUint(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> ParseByteSize(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) ++digits;
  const std::optional<std::uint64_t> number = ParseUint(text.substr(0, digits));
  if (!number) return std::nullopt;
  std::string suffix;
  for (const char c : text.substr(digits)) suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.ends_with("IB")) {
    suffix.resize(suffix.size() - 2);
    if (suffix.empty()) return std::nullopt;  // "5iB"
  } else if (suffix.size() > 1 && suffix.ends_with('B')) {
    suffix.pop_back();
  } else if (suffix == "B") {
    suffix.clear();
  }
  int shift = 0;
  if (suffix == "K") {
    shift = 10;
  } else if (suffix == "M") {
    shift = 20;
  } else if (suffix == "G") {
    shift = 30;
  } else if (suffix == "T") {
    shift = 40;
  } else if (!suffix.empty()) {
    return std::nullopt;
  }
  if (*number > (std::numeric_limits<std::uint64_t>::max() >> shift)) return std::nullopt;
  return *number << shift;
}

}  // namespace takeback::cli
