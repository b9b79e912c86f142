#include "cli/evidence_command.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "common/file.h"
#include "common/hex.h"
#include "evidence/bundle.h"
#include "evidence/store.h"

#ifndef TAKEBACK_VERSION
#define TAKEBACK_VERSION "unknown"
#endif

namespace takeback::cli {
namespace {

namespace ev = takeback::evidence;

constexpr std::uint64_t kMaxCaptureBytes = std::uint64_t{4} << 30;

constexpr std::string_view kHelp = R"(Usage: takeback evidence SUBCOMMAND [OPTION]... [ARG]...

Keep what was found in a form that holds up in court: the original bytes,
where and when they were seen, by whom, and proof that nothing was altered
or removed since. Every capture is appended to an append-only log (an
RFC 9162 Merkle tree with Ed25519-signed tree heads); the originals are
sealed (encrypted at rest, addressed by SHA-256, never modified).

Sub-commands:
  add FILE... --source KIND   capture files; KIND says where they were seen:
                              chat, url, path, upload, ...
  export --case CASE OUT      write a court bundle for CASE into directory OUT,
                              or into a zip archive when OUT ends in .zip
  verify BUNDLE               check a bundle (directory or .zip) offline;
                              prints every check
  log                         list the entries of the log
  head                        print the latest signed tree head (save it:
                              it is what 'consistency' checks against)
  consistency HEAD_FILE       prove that a saved head is a prefix of the log
                              now (nothing altered or removed since)
  check                       re-check the whole evidence directory

Options for every sub-command:
  -d, --dir DIR          the evidence directory (default: $TAKEBACK_EVIDENCE_DIR,
                         else ./evidence); created on first use with a new
                         signing key (DIR/keys/signing.key, mode 0600)
      --sealing-key FILE the key that encrypts the originals (default:
                         $TAKEBACK_SEALING_KEY, else DIR/keys/sealing.key);
                         keep it apart from DIR, e.g. on another disk
      --json             machine-readable output, one JSON object per line
  -h, --help             show this help

Options for add (where and when the item was seen):
      --source KIND      required: chat, url, path, upload or another word
      --chat NAME        chat, group or channel
      --message-id ID    message id within the chat
      --sender-id ID     account that sent or posted it
      --url URL          where it was found on the web
      --observed-time T  when it was seen there, UTC: 2026-11-24T21:03:00Z
      --case CASE        case reference (what export selects on)
      --note TEXT        free text kept in the entry
      --user NAME        who captures (default: $USER)
      --media-type TYPE  override the type recognised from the content
      --commit-every N   make entries durable every N files (default: all
                         at once); each line is printed once durable
With --source path the file's absolute path is recorded as the source.

Options for export:
      --case CASE          required
      --tsa-command CMD    get an RFC 3161 timestamp on the tree head: CMD runs
                           with /bin/sh, reads the request from the file
                           "$TAKEBACK_TSA_REQUEST" and writes the response to
                           "$TAKEBACK_TSA_RESPONSE" (an openssl ts -reply
                           command, or curl posting to a TSA URL)
      --tsa-ca FILE        the TSA's CA certificate (PEM); needed with
                           --tsa-command

Options for verify:
      --key-id HEX         require the bundle to be signed by this log key
      --tsa-ca FILE        trust this TSA CA instead of the bundle's copy

Options for check:
      --sealed             also decrypt every sealed original and compare its
                           SHA-256 (slow on large logs)

Output: add prints INDEX SHA256 FILE per file; verify prints "ok" or "FAIL"
and what was checked, one line per check, then a verdict.

Exit status:
  0  done; for verify and check: everything verified
  1  something failed or did not verify (one line on stderr says what)
  2  bad command line

Examples:
  takeback evidence add --source chat --chat "Family" --message-id 4711 \
      --sender-id +15550100 --observed-time 2026-11-24T21:03:00Z \
      --case CASE-7 photo.jpg
  takeback evidence head > head-2026-11-25.txt
  takeback evidence export --case CASE-7 bundle-case-7
  takeback evidence verify bundle-case-7
  takeback evidence export --case CASE-7 case-7.zip   # one file to hand over
  takeback evidence verify case-7.zip
  takeback evidence consistency head-2026-11-25.txt
)";

constexpr std::array<OptionSpec, 19> kSpecs = {{
    {"dir", 'd', true},     {"sealing-key", '\0', true},   {"json", '\0', false},        {"help", 'h', false},
    {"source", '\0', true}, {"chat", '\0', true},          {"message-id", '\0', true},   {"sender-id", '\0', true},
    {"url", '\0', true},    {"observed-time", '\0', true}, {"case", '\0', true},         {"note", '\0', true},
    {"user", '\0', true},   {"media-type", '\0', true},    {"commit-every", '\0', true}, {"tsa-command", '\0', true},
    {"tsa-ca", '\0', true}, {"key-id", '\0', true},        {"sealed", '\0', false},
}};

// Which options each sub-command takes (besides dir, sealing-key, json, help).
bool OptionAllowed(std::string_view sub, std::string_view option) {
  static const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> kAllowed = {
      {"add",
       {"source", "chat", "message-id", "sender-id", "url", "observed-time", "case", "note", "user", "media-type",
        "commit-every"}},
      {"export", {"case", "tsa-command", "tsa-ca"}},
      {"verify", {"key-id", "tsa-ca"}},
      {"check", {"sealed"}},
      {"log", {"case"}},
      {"head", {}},
      {"consistency", {}},
  };
  if (option == "dir" || option == "sealing-key" || option == "json" || option == "help") return true;
  for (const auto& [name, options] : kAllowed) {
    if (name == sub) return std::find(options.begin(), options.end(), option) != options.end();
  }
  return false;
}

int Usage(const CommandIo& io, const std::string& message) {
  io.err << "takeback evidence: " << message << "\n"
         << "Try 'takeback evidence --help' for more information.\n";
  return kExitUsage;
}

int Failed(const CommandIo& io, const std::string& message) {
  io.err << "takeback evidence: " << message << "\n";
  return kExitSomeFailed;
}

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once, single-threaded
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

Result<std::unique_ptr<ev::EvidenceStore>> OpenStore(const ParsedArgs& parsed) {
  ev::StoreOptions options;
  options.dir = parsed.Value("dir").value_or(EnvOr("TAKEBACK_EVIDENCE_DIR", "evidence"));
  options.sealing_key_path = parsed.Value("sealing-key").value_or(EnvOr("TAKEBACK_SEALING_KEY", ""));
  return ev::EvidenceStore::Open(options);
}

std::string StatusLine(const Status& s) { return std::string(ErrorCodeName(s.code())) + ": " + s.message(); }

int RunAdd(const ParsedArgs& parsed, const CommandIo& io) {
  if (parsed.positionals.empty()) return Usage(io, "add: no files given");
  const std::optional<std::string> source = parsed.Value("source");
  if (!source || source->empty()) return Usage(io, "add: --source KIND is required (chat, url, path, upload, ...)");
  std::uint64_t commit_every = parsed.positionals.size();
  if (const std::optional<std::string> text = parsed.Value("commit-every")) {
    const std::optional<std::uint64_t> n = ParseUint(*text);
    if (!n || *n == 0)
      return Usage(io, "add: invalid value '" + *text + "' for --commit-every (expected a number > 0)");
    commit_every = *n;
  }
  ev::Entry base;
  base.source.kind = *source;
  base.source.chat = parsed.Value("chat").value_or("");
  base.source.message_id = parsed.Value("message-id").value_or("");
  base.source.sender_id = parsed.Value("sender-id").value_or("");
  base.source.url = parsed.Value("url").value_or("");
  base.observed_time = parsed.Value("observed-time").value_or("");
  if (!base.observed_time.empty() && !ev::IsUtcTime(base.observed_time)) {
    return Usage(io, "add: --observed-time must be UTC as YYYY-MM-DDTHH:MM:SSZ, got '" + base.observed_time + "'");
  }
  base.case_ref = parsed.Value("case").value_or("");
  base.note = parsed.Value("note").value_or("");
  base.captured_by = parsed.Value("user").value_or(EnvOr("USER", "unknown"));
  base.media_type = parsed.Value("media-type").value_or("");
  base.tool = std::string("takeback ") + TAKEBACK_VERSION;

  Result<std::unique_ptr<ev::EvidenceStore>> store = OpenStore(parsed);
  if (!store.ok()) return Failed(io, StatusLine(store.status()));
  if ((*store)->log().recovered_tail_bytes() > 0) {
    io.err << "takeback evidence: note: removed a torn record of " << (*store)->log().recovered_tail_bytes()
           << " bytes at the end of the log (an append cut short by a crash; it was never acknowledged)\n";
  }
  const bool json = parsed.Has("json");
  std::vector<std::string> pending;  // output lines, printed once durable
  for (std::size_t i = 0; i < parsed.positionals.size(); ++i) {
    const std::string& path = parsed.positionals[i];
    Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(path, kMaxCaptureBytes);
    if (!bytes.ok()) return Failed(io, path + ": " + StatusLine(bytes.status()) + " (files before it were captured)");
    ev::CaptureItem item;
    item.bytes = *bytes;
    item.entry = base;
    if (*source == "path") {
      std::error_code ec;
      item.entry.source.path = std::filesystem::absolute(path, ec).lexically_normal().string();
    }
    Result<std::uint64_t> index = (*store)->Add(item);
    if (!index.ok()) return Failed(io, path + ": " + StatusLine(index.status()));
    const std::string sha = HexEncode(ev::Sha256(*bytes));
    if (json) {
      pending.push_back(nlohmann::json({{"index", *index}, {"sha256", sha}, {"path", path}}).dump());
    } else {
      pending.push_back(std::to_string(*index) + " " + sha + " " + path);
    }
    if (pending.size() >= commit_every || i + 1 == parsed.positionals.size()) {
      Result<ev::SignedTreeHead> head = (*store)->Commit();
      if (!head.ok()) return Failed(io, "cannot commit: " + StatusLine(head.status()));
      for (const std::string& line : pending) io.out << line << "\n";
      io.out.flush();
      pending.clear();
    }
  }
  return kExitOk;
}

int RunExport(const ParsedArgs& parsed, const CommandIo& io) {
  const std::optional<std::string> case_ref = parsed.Value("case");
  if (!case_ref || case_ref->empty()) return Usage(io, "export: --case CASE is required");
  if (parsed.positionals.size() != 1) return Usage(io, "export: give exactly one output directory or .zip file");
  ev::ExportOptions options;
  options.case_ref = *case_ref;
  options.out_dir = parsed.positionals[0];
  options.tsa_command = parsed.Value("tsa-command").value_or("");
  options.tsa_ca_file = parsed.Value("tsa-ca").value_or("");
  if (!options.tsa_command.empty() && options.tsa_ca_file.empty()) {
    return Usage(io, "export: --tsa-command needs --tsa-ca FILE (the TSA's CA certificate)");
  }
  Result<std::unique_ptr<ev::EvidenceStore>> store = OpenStore(parsed);
  if (!store.ok()) return Failed(io, StatusLine(store.status()));
  Result<ev::ExportSummary> summary = ev::ExportBundle(**store, options);
  if (!summary.ok()) return Failed(io, "export: " + StatusLine(summary.status()));
  if (parsed.Has("json")) {
    io.out << nlohmann::json({{"bundle", options.out_dir},
                              {"case", options.case_ref},
                              {"entries", summary->entries},
                              {"tree_size", summary->tree_size},
                              {"root", summary->root},
                              {"key_id", summary->key_id},
                              {"timestamp", summary->timestamp}})
                  .dump()
           << "\n";
  } else {
    io.out << "exported " << summary->entries << " entries of case " << options.case_ref << " to " << options.out_dir
           << "\nlog size " << summary->tree_size << ", root " << summary->root << "\nsigning key id "
           << summary->key_id << "\n";
    if (!summary->timestamp.empty()) io.out << "RFC 3161 timestamp " << summary->timestamp << "\n";
    io.out << "check it with: takeback evidence verify " << options.out_dir << " (see " << options.out_dir
           << "/README.txt)\n";
  }
  return kExitOk;
}

int RunVerify(const ParsedArgs& parsed, const CommandIo& io) {
  if (parsed.positionals.size() != 1) return Usage(io, "verify: give exactly one bundle (a directory or a .zip file)");
  ev::VerifyOptions options;
  options.expected_key_id = parsed.Value("key-id").value_or("");
  options.tsa_ca_file = parsed.Value("tsa-ca").value_or("");
  const ev::BundleVerification v = ev::VerifyBundle(parsed.positionals[0], options);
  const bool json = parsed.Has("json");
  for (const ev::BundleCheck& check : v.checks) {
    if (json) {
      io.out << nlohmann::json({{"ok", check.ok}, {"check", check.what}}).dump() << "\n";
    } else {
      io.out << (check.ok ? "ok    " : "FAIL  ") << check.what << "\n";
    }
  }
  const std::string verdict = v.ok() ? "VERIFIED: bundle for case '" + v.case_ref + "', " + std::to_string(v.entries) +
                                           " entries, every check passed"
                                     : "NOT VERIFIED: the bundle failed the checks marked FAIL";
  if (json) {
    io.out << nlohmann::json({{"verified", v.ok()}, {"case", v.case_ref}, {"entries", v.entries}}).dump() << "\n";
  } else {
    io.out << verdict << "\n";
  }
  if (!v.ok()) {
    for (const ev::BundleCheck& check : v.checks) {
      if (!check.ok) return Failed(io, "verify: " + check.what);
    }
  }
  return v.ok() ? kExitOk : kExitSomeFailed;
}

int RunLog(const ParsedArgs& parsed, const CommandIo& io) {
  if (!parsed.positionals.empty()) return Usage(io, "log: takes no arguments");
  Result<std::unique_ptr<ev::EvidenceStore>> store = OpenStore(parsed);
  if (!store.ok()) return Failed(io, StatusLine(store.status()));
  const std::optional<std::string> case_ref = parsed.Value("case");
  const ev::EvidenceLog& log = (*store)->log();
  for (std::uint64_t i = 0; i < log.committed_size(); ++i) {
    Result<ev::Entry> entry = log.ReadEntry(i);
    if (!entry.ok()) return Failed(io, StatusLine(entry.status()));
    if (case_ref && entry->case_ref != *case_ref) continue;
    if (parsed.Has("json")) {
      Result<std::string> bytes = log.EntryBytes(i);
      if (!bytes.ok()) return Failed(io, StatusLine(bytes.status()));
      io.out << "{\"index\":" << i << ",\"entry\":" << *bytes << "}\n";
    } else {
      io.out << i << " " << entry->sha256 << " " << entry->captured_time << " "
             << (entry->case_ref.empty() ? "-" : entry->case_ref) << " " << entry->source.kind << "\n";
    }
  }
  return kExitOk;
}

int RunHead(const ParsedArgs& parsed, const CommandIo& io) {
  if (!parsed.positionals.empty()) return Usage(io, "head: takes no arguments");
  Result<std::unique_ptr<ev::EvidenceStore>> store = OpenStore(parsed);
  if (!store.ok()) return Failed(io, StatusLine(store.status()));
  Result<ev::SignedTreeHead> head = (*store)->Commit();  // the latest stored head (signs one for an unsigned tail)
  if (!head.ok()) return Failed(io, StatusLine(head.status()));
  if (parsed.Has("json")) {
    io.out << nlohmann::json({{"size", head->head.size},
                              {"root", ev::HashHex(head->head.root)},
                              {"time", head->head.time},
                              {"key_id", head->head.key_id},
                              {"signature", HexEncode(head->signature)}})
                  .dump()
           << "\n";
  } else {
    io.out << ev::FormatHeadLine(*head);
  }
  return kExitOk;
}

int RunConsistency(const ParsedArgs& parsed, const CommandIo& io) {
  if (parsed.positionals.size() != 1) return Usage(io, "consistency: give the file of a saved tree head");
  Result<std::vector<std::uint8_t>> text = ReadFileLimited(parsed.positionals[0], 1 << 16);
  if (!text.ok()) return Failed(io, parsed.positionals[0] + ": " + StatusLine(text.status()));
  std::string line(text->begin(), text->end());
  if (const std::size_t nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
  Result<ev::SignedTreeHead> old_head = ev::ParseHeadLine(line);
  if (!old_head.ok()) {
    return Failed(io, parsed.positionals[0] +
                          ": not a saved tree head (from 'takeback evidence head'): " + old_head.status().message());
  }
  Result<std::unique_ptr<ev::EvidenceStore>> store = OpenStore(parsed);
  if (!store.ok()) return Failed(io, StatusLine(store.status()));
  Result<std::vector<ev::Hash>> proof = (*store)->ProveConsistency(*old_head);
  if (!proof.ok()) return Failed(io, "consistency: " + proof.status().message());
  const std::uint64_t size = (*store)->log().committed_size();
  const std::string root = ev::HashHex(*(*store)->log().tree().Root(size));
  if (parsed.Has("json")) {
    nlohmann::json hashes = nlohmann::json::array();
    for (const ev::Hash& h : *proof) hashes.push_back(ev::HashHex(h));
    io.out << nlohmann::json({{"consistent", true},
                              {"old_size", old_head->head.size},
                              {"old_root", ev::HashHex(old_head->head.root)},
                              {"new_size", size},
                              {"new_root", root},
                              {"proof", hashes}})
                  .dump()
           << "\n";
  } else {
    io.out << "ok    the saved head (" << old_head->head.size << " entries, " << old_head->head.time
           << ") is a prefix of the log now (" << size << " entries, root " << root << ")\n"
           << "      RFC 9162 consistency proof of " << proof->size() << " hashes verifies\n";
  }
  return kExitOk;
}

int RunCheck(const ParsedArgs& parsed, const CommandIo& io) {
  if (!parsed.positionals.empty()) return Usage(io, "check: takes no arguments");
  Result<std::unique_ptr<ev::EvidenceStore>> store = OpenStore(parsed);
  if (!store.ok()) return Failed(io, "check: " + StatusLine(store.status()));
  if ((*store)->log().recovered_tail_bytes() > 0) {
    io.out << "note  removed a torn record of " << (*store)->log().recovered_tail_bytes()
           << " bytes at the end of the log (never acknowledged)\n";
  }
  std::vector<std::string> lines;
  const Status s = (*store)->Check(parsed.Has("sealed"), lines);
  for (const std::string& line : lines) io.out << line << "\n";
  if (!s.ok()) return Failed(io, "check: " + s.message());
  return kExitOk;
}

}  // namespace

std::string_view EvidenceCommandHelp() { return kHelp; }

int RunEvidenceCommand(std::span<const std::string> args, const CommandIo& io) {
  Result<ParsedArgs> parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) return Usage(io, parsed.status().message());
  if (parsed->Has("help")) {
    io.out << kHelp;
    return kExitOk;
  }
  if (parsed->positionals.empty())
    return Usage(io, "no sub-command given (add, export, verify, log, head, consistency, check)");
  const std::string sub = parsed->positionals[0];
  parsed->positionals.erase(parsed->positionals.begin());
  constexpr std::array<std::string_view, 7> kSubs = {"add", "export", "verify", "log", "head", "consistency", "check"};
  if (std::find(kSubs.begin(), kSubs.end(), sub) == kSubs.end()) {
    return Usage(io, "unknown sub-command '" + sub + "' (add, export, verify, log, head, consistency, check)");
  }
  for (const auto& option : parsed->options) {
    if (!OptionAllowed(sub, option.first))
      return Usage(io, "option --" + option.first + " does not apply to '" + sub + "'");
  }
  if (sub == "add") return RunAdd(*parsed, io);
  if (sub == "export") return RunExport(*parsed, io);
  if (sub == "verify") return RunVerify(*parsed, io);
  if (sub == "log") return RunLog(*parsed, io);
  if (sub == "head") return RunHead(*parsed, io);
  if (sub == "consistency") return RunConsistency(*parsed, io);
  if (sub == "check") return RunCheck(*parsed, io);
  return Usage(io, "unknown sub-command '" + sub + "' (add, export, verify, log, head, consistency, check)");
}

}  // namespace takeback::cli
