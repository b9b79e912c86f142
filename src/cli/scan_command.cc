#include "cli/scan_command.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/scan_signals.h"
#include "common/file.h"
#include "evidence/store.h"
#include "scan/report.h"
#include "scan/scan.h"
#include "signals/signals.h"

#ifndef TAKEBACK_VERSION
#define TAKEBACK_VERSION "unknown"
#endif

namespace takeback::cli {
namespace {

namespace fs = std::filesystem;

constexpr unsigned kMaxDefaultJobs = 8;
constexpr std::uint64_t kMaxJobs = 256;
constexpr std::uint64_t kMaxPreserveBytes = std::uint64_t{1} << 30;
constexpr int kFastJpegMinSide = 256;  // as `takeback hash --fast` (docs/formats/pdq.md)

constexpr std::string_view kHelp = R"help(Usage: takeback scan --signals FILE [OPTION]... EXPORT|FOLDER|FILE...
  or:  takeback scan --server URL [--case NUMBER]... [--bank NAME]... [OPTION]... EXPORT|FOLDER|FILE...
  or:  takeback scan --db FILE [--case NUMBER]... [--bank NAME]... [OPTION]... EXPORT|FOLDER|FILE...

Find a victim's images, videos, face and personal details in Telegram chat
exports and in folders, and write a report of what was found, where, when
and who posted it.

EXPORT is a folder made by Telegram Desktop's "Export chat history" in JSON
format (it holds result.json, photos/, video_files/, files/): a single chat
or a whole-account export. Any other FOLDER is scanned recursively, every
file identified by its content. result.json is read as a stream, so an
export of many gigabytes needs little memory.

Each photo, video, image sent as a file and thumbnail is hashed (PDQ and
its 8 rotations/flips, vPDQ at one frame per second for videos, MD5 and
SHA-256, and faces when a case has face signals) and matched against the
signals of every --signals file (written by `takeback register`), or of
cases and banks read from a Takeback server or its store file (below):
  pdq     Hamming distance <= 31, quality >= 50 (rotated and flipped copies too)
  vpdq    >= 80% of the video's frames in the registered video, or the reverse
  md5, sha256  the same file
  face    descriptor distance <= 0.5: always marked "review required" (a
          lead for a person to check, never proof)
Message texts are searched for each case's watch terms (names, phone
numbers, handles), ignoring case and width, and phone numbers in any
Korean or Chinese format (with or without +82/+86, spaces or dashes).

Media the export does not contain (Telegram's "(File not included...)"
placeholders, deleted files) are listed as missing evidence. Paths in the
export that lead outside its folder (absolute paths, "..", symbolic links)
are refused and never read. A damaged or truncated result.json is reported;
everything before the damage is still scanned.

Where the signals come from (at least one; they can be combined):
      --signals FILE     a case's signal-set file (repeat for several cases)
      --server URL       a Takeback server (`takeback serve`), e.g.
                         http://127.0.0.1:8080: the active (reviewed) signals
                         and the watch terms of each --case, and of each
                         --bank; with neither, of every bank. Needs an API key
                         of an investigator, caseworker or admin. Every read
                         is written to the server's audit log
      --key KEY          the API key for --server (default: $TAKEBACK_API_KEY;
                         prefer the variable: a command line is visible to
                         other users of the machine)
      --db FILE          the same, read from the server's SQLite store file
                         (`takeback serve --db FILE`) on this machine, for
                         work offline; only its audit log is written to
                         (actor "local:" and --user)
      --case NUMBER      a case number (TB-XXXX-XXXX); repeat for several
      --bank NAME|ID     a bank, by name or id; repeat for several
Withdrawn cases and withdrawn, rejected or not yet reviewed signals are
never used. A bank's signals match by the bank's own rule (its distances and
thresholds, as on the server); --face-threshold, when given, overrides it. Each match in the report names its case number or bank and the
signal's id, so a caseworker can act on it.

Options:
  -o, --out DIR          write DIR/report.json and DIR/report.html (default:
                         takeback-report; created if needed)
      --folder           treat every folder as a plain folder, even one that
                         holds result.json
      --faces            always compute faces (needs the models)
      --no-faces         never compute faces (faster; face signals are then
                         not matched). Default: faces when a case has face signals
      --face-threshold D face distance limit (default 0.5, see docs/formats/face.md)
      --face-max-pixels N  look for faces in a copy scaled down to at most N
                         pixels (default 500000: in a 1280x960 Telegram
                         photo, faces from about 125 pixels are found);
                         images up to a quarter of N are also searched at
                         twice their size, for small faces
      --thorough-faces   the `takeback faces` settings: up to 4 MP, the 2x
                         pass up to 1 MP, and rotated copies of faceless
                         images (finds more, costs about 4x more)
      --preserve DIR     capture every matched file into the evidence store
                         in DIR (created if needed; see `takeback evidence`),
                         with its chat, message id, sender id and time
      --evidence-dir DIR the same as --preserve
      --sealing-key FILE the evidence sealing key (default: $TAKEBACK_SEALING_KEY,
                         else DIR/keys/sealing.key)
      --user NAME        who captures the evidence, and who reads --db in its
                         audit log (default: $USER)
      --fast             decode large JPEGs at reduced size (libjpeg DCT
                         scaling, as `takeback hash --fast`): faster; PDQ
                         hashes may differ by a few bits from the exact ones
                         (docs/formats/pdq.md), far inside the match radius
      --no-images        do not embed matched images in report.html
  -j, --jobs N           hash N files at a time (default: the CPU cores, at most 8)
      --json             print the summary as JSON on stdout, and progress
                         events as JSON lines on stderr (below)
  -q, --quiet            no progress line
      --model-dir DIR    face recognition model folder (default: models/, or
                         $TAKEBACK_MODEL_DIR)
  -h, --help             show this help

Progress: on a terminal, stderr shows a line such as
  [ 42%] 1234 files, 3 matches, 85 files/s, ETA 1m05s
With --json, stderr gets instead at most two events a second, one JSON
object per line:
  {"event":"progress","files":1234,"matches":3,"fraction":0.42,"elapsed":14.5,"eta":20.0}
and at the end {"event":"done","files":...,"matches":...,"elapsed":...}.
Warnings are lines starting with "takeback scan: warning:".

The report (docs/formats/scan-report.md): report.json for programs;
report.html for people: self-contained (no network), images blurred until
clicked, every chat text escaped. Both are written with permissions 0600.

Exit status: 0 the scan finished (found something or not); 1 it finished
but a source was damaged or truncated, some files were unreadable or
evidence could not be preserved; 2 bad command line, unreadable signal
file, missing face models, or signals that could not be read from the
server or store (unreachable, key refused, role not allowed, unknown case:
one line on stderr says which and what to do).

Examples:
  takeback register --out case.json --watch-term "김지은" me.jpg clip.mp4
  takeback scan --signals case.json -o report ~/Downloads/Telegram\ Desktop/ChatExport_2024-08-21
  takeback scan --signals a.json --signals b.json --preserve evidence/ export1 export2 seized-disk/
  TAKEBACK_API_KEY=tbk_... takeback scan --server https://takeback.example.org --case TB-7QX2-M9KD export/
  takeback scan --db /var/lib/takeback/takeback.db --bank reports seized-disk/
)help";

constexpr std::array<OptionSpec, 26> kOptionSpecs = {{
    {"signals", '\0', true},
    {"out", 'o', true},
    {"folder", '\0', false},
    {"faces", '\0', false},
    {"no-faces", '\0', false},
    {"face-threshold", '\0', true},
    {"preserve", '\0', true},
    {"evidence-dir", '\0', true},
    {"sealing-key", '\0', true},
    {"user", '\0', true},
    {"no-images", '\0', false},
    {"jobs", 'j', true},
    {"json", '\0', false},
    {"quiet", 'q', false},
    {"model-dir", '\0', true},
    {"help", 'h', false},
    {"max-pixels", '\0', true},
    {"max-file-size", '\0', true},
    {"face-max-pixels", '\0', true},
    {"thorough-faces", '\0', false},
    {"fast", '\0', false},
    {"server", '\0', true},
    {"key", '\0', true},
    {"db", '\0', true},
    {"case", '\0', true},
    {"bank", '\0', true},
}};

struct ScanCommandOptions {
  bool help = false;
  std::vector<std::string> signal_files;
  std::string server;
  std::string key;
  std::string db;
  ScanSignalSelection selection;
  std::string out = "takeback-report";
  bool folder = false;
  std::optional<bool> faces;
  float face_threshold = face::kDefaultFaceMatchThreshold;
  bool face_threshold_given = false;
  std::string preserve;
  std::string sealing_key;
  std::string user;
  bool images = true;
  unsigned jobs = 1;
  bool json = false;
  bool quiet = false;
  face::ModelPaths models = face::DefaultModelPaths();
  std::uint64_t max_pixels = 100'000'000;
  std::uint64_t face_max_pixels = 500'000;
  bool thorough_faces = false;
  bool fast = false;
  std::uint64_t max_file_size = std::uint64_t{256} << 20;
  std::vector<std::string> inputs;
};

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once at start-up
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

Result<ScanCommandOptions> ParseScanOptions(std::span<const std::string> args, unsigned hardware_threads) {
  Result<ParsedArgs> parsed = ParseArgs(args, kOptionSpecs);
  if (!parsed.ok()) return parsed.status();
  ScanCommandOptions options;
  options.help = parsed->Has("help");
  if (options.help) return options;
  for (const auto& [name, value] : parsed->options) {
    if (name == "signals") options.signal_files.push_back(value);
    if (name == "case") options.selection.cases.push_back(value);
    if (name == "bank") options.selection.banks.push_back(value);
  }
  options.server = parsed->Value("server").value_or("");
  options.db = parsed->Value("db").value_or("");
  options.key = parsed->Value("key").value_or(EnvOr("TAKEBACK_API_KEY", ""));
  if (options.signal_files.empty() && options.server.empty() && options.db.empty()) {
    return InvalidArgument(
        "say where the signals come from: --signals FILE (from `takeback register`), --server URL or --db FILE");
  }
  if (parsed->Has("server") && options.server.empty()) return InvalidArgument("--server needs a URL");
  if (!options.server.empty() && options.server.rfind("http://", 0) != 0 && options.server.rfind("https://", 0) != 0) {
    return InvalidArgument("--server needs a URL starting with http:// or https:// (got " + options.server + ")");
  }
  if (parsed->Has("db") && options.db.empty()) return InvalidArgument("--db needs the store file");
  if (options.server.empty() && options.db.empty() && (parsed->Has("case") || parsed->Has("bank"))) {
    return InvalidArgument("--case and --bank choose what to read from --server or --db");
  }
  if (parsed->Has("key") && options.server.empty()) return InvalidArgument("--key is the API key for --server");
  for (const std::string& c : options.selection.cases) {
    if (c.empty()) return InvalidArgument("--case needs a case number");
  }
  for (const std::string& b : options.selection.banks) {
    if (b.empty()) return InvalidArgument("--bank needs a bank name or id");
  }
  if (const std::optional<std::string> out = parsed->Value("out")) {
    if (out->empty()) return InvalidArgument("--out needs a directory");
    options.out = *out;
  }
  options.folder = parsed->Has("folder");
  if (parsed->Has("faces") && parsed->Has("no-faces"))
    return InvalidArgument("--faces and --no-faces exclude each other");
  if (parsed->Has("faces")) options.faces = true;
  if (parsed->Has("no-faces")) options.faces = false;
  if (const std::optional<std::string> t = parsed->Value("face-threshold")) {
    char* end = nullptr;
    const double v = std::strtod(t->c_str(), &end);
    if (end == t->c_str() || *end != '\0' || !std::isfinite(v) || v <= 0 || v > 2) {
      return InvalidArgument("--face-threshold needs a number above 0, at most 2");
    }
    options.face_threshold = static_cast<float>(v);
    options.face_threshold_given = true;
  }
  options.preserve = parsed->Value("preserve").value_or(parsed->Value("evidence-dir").value_or(""));
  if (parsed->Has("preserve") && parsed->Has("evidence-dir") &&
      parsed->Value("preserve") != parsed->Value("evidence-dir")) {
    return InvalidArgument("--preserve and --evidence-dir name different directories");
  }
  options.sealing_key = parsed->Value("sealing-key").value_or(EnvOr("TAKEBACK_SEALING_KEY", ""));
  options.user = parsed->Value("user").value_or(EnvOr("USER", "unknown"));
  options.images = !parsed->Has("no-images");
  options.json = parsed->Has("json");
  options.quiet = parsed->Has("quiet");
  options.jobs = std::clamp(hardware_threads, 1U, kMaxDefaultJobs);
  if (const std::optional<std::string> j = parsed->Value("jobs")) {
    const std::optional<std::uint64_t> v = ParseUint(*j);
    if (!v || *v == 0 || *v > kMaxJobs) return InvalidArgument("--jobs needs a number from 1 to 256");
    options.jobs = static_cast<unsigned>(*v);
  }
  if (const std::optional<std::string> dir = parsed->Value("model-dir")) {
    options.models.recognition_manifest = (fs::path(*dir) / "face_recognition_model-weights_manifest.json").string();
  }
  if (const std::optional<std::string> n = parsed->Value("max-pixels")) {
    const std::optional<std::uint64_t> v = ParseUint(*n);
    if (!v || *v == 0) return InvalidArgument("--max-pixels needs a positive number");
    options.max_pixels = *v;
  }
  if (const std::optional<std::string> n = parsed->Value("max-file-size")) {
    const std::optional<std::uint64_t> v = ParseByteSize(*n);
    if (!v || *v == 0) return InvalidArgument("--max-file-size needs a size such as 512M");
    options.max_file_size = *v;
  }
  if (const std::optional<std::string> n = parsed->Value("face-max-pixels")) {
    const std::optional<std::uint64_t> v = ParseUint(*n);
    if (!v || *v < 10'000) return InvalidArgument("--face-max-pixels needs a number of at least 10000");
    options.face_max_pixels = *v;
  }
  options.thorough_faces = parsed->Has("thorough-faces");
  options.fast = parsed->Has("fast");
  options.inputs = std::move(parsed->positionals);
  if (options.inputs.empty()) return InvalidArgument("nothing to scan (give an export folder, a folder or files)");
  return options;
}

int UsageError(const CommandIo& io, const std::string& message) {
  io.err << "takeback scan: " << message << "\n"
         << "Usage: takeback scan --signals FILE|--server URL|--db FILE [OPTION]... EXPORT|FOLDER|FILE...\n"
         << "Try 'takeback scan --help' for more information.\n";
  return kExitUsage;
}

std::string FormatDuration(double seconds) {
  const auto s = static_cast<long long>(std::max(0.0, seconds) + 0.5);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + (s % 60 < 10 ? "0" : "") + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + (s % 3600 / 60 < 10 ? "0" : "") + std::to_string(s % 3600 / 60) + "m";
}

// Terminal progress line or JSON progress events, throttled.
class ProgressReporter {
 public:
  ProgressReporter(const CommandIo& io, bool json, bool enabled)
      : io_(io), json_(json), enabled_(enabled), start_(Clock::now()), last_(start_) {}

  void Update(const scan::ScanProgress& p, std::size_t source, std::size_t sources) {
    if (!enabled_) return;
    const Clock::time_point now = Clock::now();
    if (now - last_ < (json_ ? std::chrono::milliseconds(500) : std::chrono::milliseconds(100))) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    // Overall fraction: sources done so far plus the current one's share.
    const double fraction =
        (static_cast<double>(source) + p.fraction) / static_cast<double>(std::max<std::size_t>(1, sources));
    const double eta = fraction > 0.01 ? elapsed * (1 - fraction) / fraction : -1;
    if (json_) {
      nlohmann::ordered_json e;
      e["event"] = "progress";
      e["files"] = p.files_done;
      e["matches"] = p.matches;
      e["fraction"] = std::round(fraction * 1000) / 1000;
      e["elapsed"] = std::round(elapsed * 10) / 10;
      if (eta >= 0) e["eta"] = std::round(eta * 10) / 10;
      io_.err << e.dump() << "\n" << std::flush;
      return;
    }
    const double rate = elapsed > 0 ? static_cast<double>(p.files_done) / elapsed : 0;
    const int percent = static_cast<int>(fraction * 100);
    std::string line = "[" +
                       std::string(percent < 10    ? "  "
                                   : percent < 100 ? " "
                                                   : "") +
                       std::to_string(percent) + "%] " + std::to_string(p.files_done) + " files, " +
                       std::to_string(p.matches) + " matches, " + std::to_string(static_cast<long long>(rate)) +
                       " files/s";
    if (eta >= 0) line += ", ETA " + FormatDuration(eta);
    io_.err << "\r" << line << "\x1b[K" << std::flush;
    visible_ = true;
  }

  void Clear() {
    if (visible_) io_.err << "\r\x1b[K" << std::flush;
    visible_ = false;
  }

  double Elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  const CommandIo& io_;
  bool json_;
  bool enabled_;
  bool visible_ = false;
  Clock::time_point start_;
  Clock::time_point last_;
};

// Captures every matched file into the evidence store; fills evidence_index.
Status Preserve(const ScanCommandOptions& options, scan::ScanReport& report, const CommandIo& io,
                std::size_t& failures) {
  evidence::StoreOptions store_options;
  store_options.dir = options.preserve;
  store_options.sealing_key_path = options.sealing_key;
  Result<std::unique_ptr<evidence::EvidenceStore>> store = evidence::EvidenceStore::Open(store_options);
  if (!store.ok()) return store.status();
  // One entry per file, case and message, however many signals matched it.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::uint64_t> done;
  std::size_t added = 0;
  for (scan::MatchRecord& m : report.matches) {
    if (m.file.resolved.empty()) continue;
    const std::string message = m.source.message_id ? std::to_string(*m.source.message_id) : "";
    const auto key = std::make_tuple(m.file.resolved, m.case_ref, m.source.chat_name, message);
    if (const auto it = done.find(key); it != done.end()) {
      m.evidence_index = it->second;
      continue;
    }
    Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(m.file.resolved, kMaxPreserveBytes);
    if (!bytes.ok()) {
      ++failures;
      report.AddWarning("could not preserve " + m.file.path + ": " + bytes.status().message());
      continue;
    }
    evidence::CaptureItem item;
    item.bytes = *bytes;
    evidence::Entry& e = item.entry;
    if (m.source.kind == "telegram") {
      e.source.kind = "chat";
      e.source.chat = m.source.chat_name + (m.source.chat_id ? " (id " + std::to_string(*m.source.chat_id) + ")" : "");
      e.source.message_id = message;
      e.source.sender_id = m.source.sender_id;
      e.source.url = m.source.link;
    } else {
      e.source.kind = "path";
    }
    e.source.path = m.file.path;
    if (m.source.date_unixtime) e.observed_time = scan::UtcTime(*m.source.date_unixtime);
    e.captured_by = options.user;
    e.tool = std::string("takeback ") + TAKEBACK_VERSION;
    e.case_ref = m.case_ref;
    e.note = "takeback scan: " + m.signal_type + " match with " + m.signal_label;
    Result<std::uint64_t> index = (*store)->Add(item);
    if (!index.ok()) return index.status();
    done.emplace(key, *index);
    m.evidence_index = *index;
    ++added;
  }
  if (added > 0) {
    Result<evidence::SignedTreeHead> head = (*store)->Commit();
    if (!head.ok()) return head.status();
  }
  if (!options.json) {
    io.err << "takeback scan: preserved " << added << " items in " << options.preserve << "\n";
  }
  return Status::Ok();
}

bool IsTelegramExport(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return fs::is_regular_file(fs::path(path) / "result.json", ec);
  return fs::path(path).filename() == "result.json";
}

}  // namespace

std::string_view ScanCommandHelp() { return kHelp; }

int RunScanCommand(std::span<const std::string> args, const CommandIo& io) {
  Result<ScanCommandOptions> parsed = ParseScanOptions(args, io.hardware_threads);
  if (!parsed.ok()) return UsageError(io, parsed.status().message());
  ScanCommandOptions& options = *parsed;
  if (options.help) {
    io.out << kHelp;
    return kExitOk;
  }
  scan::ScanReport report;
  report.tool = std::string("takeback ") + TAKEBACK_VERSION;
  report.started = signals::NowRfc3339();
  std::vector<scan::CaseSignals> cases;
  bool any_face = false;
  for (const std::string& file : options.signal_files) {
    Result<signals::SignalSet> set = signals::ReadSignalSet(file);
    if (!set.ok()) {
      io.err << "takeback scan: " << set.status().ToString() << "\n";
      return kExitUsage;
    }
    for (const signals::Signal& s : set->signals) any_face |= s.type == signals::SignalType::kFace;
    report.cases.push_back({file, set->case_ref, set->signals.size(), set->watch_terms});
    scan::CaseSignals c;
    c.file = file;
    c.set = std::move(*set);
    cases.push_back(std::move(c));
  }
  for (const bool from_server : {true, false}) {
    const std::string& where = from_server ? options.server : options.db;
    if (where.empty()) continue;
    const bool show = !options.quiet && (options.json || io.err_is_terminal);
    bool shown = false;
    const auto progress = [&](const std::string& source, std::size_t n) {
      if (!show) return;
      if (options.json) {
        nlohmann::ordered_json e;
        e["event"] = "signals";
        e["source"] = source;
        e["signals"] = n;
        io.err << e.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n" << std::flush;
      } else {
        io.err << "\rreading signals from " << where << ": " << n << " (" << source << ")\x1b[K" << std::flush;
        shown = true;
      }
    };
    Result<ScanSignalsRead> read =
        from_server ? FetchScanSignals(options.server, options.key, options.selection, progress)
                    : ReadScanSignalsFromStore(options.db, options.user, options.selection, progress);
    if (shown) io.err << "\r\x1b[K" << std::flush;
    if (!read.ok()) {
      io.err << "takeback scan: " << read.status().message() << "\n";
      return kExitUsage;
    }
    for (std::string& w : read->warnings) {
      io.err << "takeback scan: warning: " << w << "\n";
      report.AddWarning(std::move(w));
    }
    if (read->sets.empty()) {
      io.err << "takeback scan: " << where << " has no banks to scan against; name cases with --case NUMBER\n";
      return kExitUsage;
    }
    for (scan::CaseSignals& c : read->sets) {
      // A bank's own rule applies to its signals; --face-threshold, when
      // given, to every face signal.
      if (c.rule && options.face_threshold_given) c.rule->face_threshold = options.face_threshold;
      for (const signals::Signal& s : c.set.signals) any_face |= s.type == signals::SignalType::kFace;
      scan::CaseSummary summary{c.file, c.set.case_ref, c.set.signals.size(), c.set.watch_terms};
      summary.kind = c.kind;
      summary.name = c.name;
      report.cases.push_back(std::move(summary));
      cases.push_back(std::move(c));
    }
  }
  {
    std::size_t signal_count = 0;
    std::size_t term_count = 0;
    for (const scan::CaseSignals& c : cases) {
      signal_count += c.set.signals.size();
      term_count += c.set.watch_terms.size();
    }
    if (signal_count == 0 && term_count == 0) {
      io.err << "takeback scan: nothing to look for: the chosen cases and banks have no active signals and no watch "
                "terms (signals act only once a caseworker has approved them)\n";
      return kExitUsage;
    }
  }
  scan::MatchOptions match_options;
  match_options.face_threshold = options.face_threshold;
  Result<std::unique_ptr<scan::Matcher>> matcher = scan::Matcher::Build(std::move(cases), match_options);
  if (!matcher.ok()) {
    io.err << "takeback scan: " << matcher.status().ToString() << "\n";
    return kExitUsage;
  }
  scan::HashOptions hash_options;
  hash_options.faces = options.faces.value_or(any_face);
  hash_options.models = options.models;
  if (!options.thorough_faces) {
    hash_options.detect.max_detect_pixels = static_cast<std::int64_t>(options.face_max_pixels);
    hash_options.detect.max_upscaled_pixels = static_cast<std::int64_t>(options.face_max_pixels);
    hash_options.detect.try_rotations = false;
  }
  hash_options.decode.max_pixels = options.max_pixels;
  if (options.fast) hash_options.decode.jpeg_fast_min_side = kFastJpegMinSide;
  hash_options.max_image_bytes = options.max_file_size;
  hash_options.video.sample_fps = 1;
  if (any_face && !hash_options.faces) {
    io.err << "takeback scan: warning: --no-faces: the cases' face signals will not be matched\n";
  }
  Result<std::unique_ptr<scan::MediaHasher>> hasher = scan::MediaHasher::Create(hash_options);
  if (!hasher.ok()) {
    io.err << "takeback scan: " << hasher.status().ToString() << "\n(add --no-faces to scan without face matching)\n";
    return kExitUsage;
  }
  std::error_code ec;
  fs::create_directories(options.out, ec);
  if (!fs::is_directory(options.out, ec)) return UsageError(io, "cannot create the report directory " + options.out);

  scan::ScanOptions scan_options;
  scan_options.jobs = options.jobs;
  scan_options.batch_size = std::max<std::size_t>(64, std::size_t{options.jobs} * 32);
  scan::Scanner scanner(**matcher, **hasher, scan_options, report);
  ProgressReporter progress(io, options.json, !options.quiet && (options.json || io.err_is_terminal));
  std::size_t source_number = 0;
  scanner.set_progress([&](const scan::ScanProgress& p) { progress.Update(p, source_number, options.inputs.size()); });
  int exit_code = kExitOk;
  for (const std::string& input : options.inputs) {
    const Status status =
        !options.folder && IsTelegramExport(input) ? scanner.ScanTelegramExport(input) : scanner.ScanPath(input);
    if (!status.ok()) {
      progress.Clear();
      io.err << "takeback scan: " << input << ": " << status.ToString() << "\n";
      report.AddWarning(input + ": " + status.ToString());
      exit_code = kExitSomeFailed;
    }
    ++source_number;
  }
  progress.Clear();
  std::size_t preserve_failures = 0;
  if (!options.preserve.empty()) {
    const Status preserved = Preserve(options, report, io, preserve_failures);
    if (!preserved.ok()) {
      io.err << "takeback scan: cannot preserve evidence in " << options.preserve << ": " << preserved.ToString()
             << "\n";
      report.AddWarning("evidence not preserved: " + preserved.ToString());
      ++preserve_failures;
    }
  }
  report.finished = signals::NowRfc3339();
  if (report.truncated || report.failure_count > 0 || preserve_failures > 0) exit_code = kExitSomeFailed;
  const std::string json_path = (fs::path(options.out) / "report.json").string();
  const std::string html_path = (fs::path(options.out) / "report.html").string();
  scan::HtmlOptions html_options;
  html_options.embed_images = options.images;
  Status written = scan::WriteTextFile(json_path, scan::FormatReportJson(report));
  if (written.ok()) written = scan::WriteTextFile(html_path, scan::FormatReportHtml(report, html_options));
  if (!written.ok()) {
    io.err << "takeback scan: " << written.ToString() << "\n";
    return kExitSomeFailed;
  }
  if (!options.json) {
    for (const std::string& w : report.warnings) io.err << "takeback scan: warning: " << w << "\n";
  }
  std::size_t messages = 0;
  for (const scan::SourceSummary& s : report.sources) messages += s.messages;
  if (options.json) {
    nlohmann::ordered_json done;
    done["event"] = "done";
    done["files"] = report.files_hashed;
    done["matches"] = report.matches.size();
    done["elapsed"] = std::round(progress.Elapsed() * 10) / 10;
    io.err << done.dump() << "\n";
    nlohmann::ordered_json summary;
    summary["report_json"] = json_path;
    summary["report_html"] = html_path;
    summary["messages"] = messages;
    summary["files_hashed"] = report.files_hashed;
    summary["matches"] = report.matches.size();
    summary["doxxing"] = report.doxxing.size();
    summary["missing"] = report.missing_count;
    summary["failures"] = report.failure_count;
    summary["warnings"] = report.warning_count;
    summary["truncated"] = report.truncated;
    io.out << summary.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else {
    io.out << "Scanned " << messages << " messages and " << report.files_hashed << " files: " << report.matches.size()
           << " matches, " << report.doxxing.size() << " doxxing hits, " << report.missing_count << " missing files, "
           << report.failure_count << " unreadable files.\n"
           << "Report: " << html_path << " (and report.json)\n";
  }
  return exit_code;
}

}  // namespace takeback::cli
