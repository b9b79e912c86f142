#include "cli/register_command.h"

#include <array>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/inputs.h"
#include "cli/register_client.h"
#include "signals/signals.h"

#ifndef TAKEBACK_VERSION
#define TAKEBACK_VERSION "unknown"
#endif

namespace takeback::cli {
namespace {

constexpr std::string_view kHelp = R"(Usage: takeback register [OPTION]... --out FILE IMAGE|VIDEO|DIR...

Register your images and videos: compute, on this machine, the signals that
let Takeback find copies of them, and write them to a signal-set file. The
images themselves never leave this machine; only the signal-set file is
handed to a lawyer, an investigator or a support centre.

Per image: its PDQ perceptual hash (finds re-encoded, resized, rotated and
flipped copies), its MD5 and SHA-256 (exact copies) and, unless --no-faces,
a descriptor of each face in it (finds deepfakes that paste the face onto
another body; a face match is always a lead for human review). Per video:
its vPDQ hash (every frame, near-duplicate frames dropped), MD5 and SHA-256.
Files are recognised by their content, not their name.

Signals are labelled "photo 1", "video 1", ... in the order given; file
names are not written to the file, because names can reveal who you are.
The file is written with permissions 0600 (signals are sensitive).

Options:
      --out FILE         the signal-set file to write (required; replaced
                         atomically if it exists)
      --case-ref REF     your case reference, if a support centre gave you one
      --watch-term TEXT  a name, phone number or handle that should not appear
                         in chats (doxxing); repeat for several. Matching
                         ignores case, width and, for phone numbers, spaces,
                         dashes and the country code
      --no-faces         do not look for faces (faster; no face models needed)
      --server URL       send the signals to a Takeback server instead of (or,
                         with --out, besides) writing a file: opens a case and
                         prints its case number and PIN (shown only once)
      --case NUMBER      with --server: add to this existing case (its PIN is
                         read from $TAKEBACK_CASE_PIN, else from stdin)
  -r, --recursive        register every file below each DIR
      --model-dir DIR    folder with the face recognition model (default:
                         models/, or $TAKEBACK_MODEL_DIR; scripts/fetch-models
                         fills it)
      --landmarks FILE   dlib 68-point shape predictor (default: Debian
                         libdlib-data's file)
  -h, --help             show this help

Output: the file (see docs/formats/signal-set.md), and on stderr one line per
input: its label, what was registered and any warning, e.g.
  takeback register: photo 1: pdq (quality 100), md5, sha256, 1 face: me.jpg

Exit status: 0 every file registered; 1 some files failed (the file holds the
others) or the file could not be written; 2 bad command line or face models
missing (use --no-faces to register hashes only).

Examples:
  takeback register --out case.json --watch-term "Kim Ji-eun" --watch-term 010-1234-5678 me1.jpg me2.jpg clip.mp4
  takeback register --no-faces -r --out case.json ~/Pictures/private
  takeback scan --signals case.json ChatExport_2024-08-21/
)";

// Server mode (`--server URL`, the service engineer's register client) adds
// its option here and its branch in RunRegisterCommand; offline mode is
// complete without it.
constexpr std::array<OptionSpec, 10> kOptionSpecs = {{
    {"server", '\0', true},
    {"case", '\0', true},
    {"out", '\0', true},
    {"case-ref", '\0', true},
    {"watch-term", '\0', true},
    {"no-faces", '\0', false},
    {"recursive", 'r', false},
    {"model-dir", '\0', true},
    {"landmarks", '\0', true},
    {"help", 'h', false},
}};

struct RegisterOptions {
  bool help = false;
  bool recursive = false;
  std::string out;
  std::string case_ref;
  std::vector<std::string> watch_terms;
  signals::MakeOptions make;
  std::vector<std::string> inputs;
  RegisterServerOptions server;
};

Result<RegisterOptions> ParseRegisterOptions(std::span<const std::string> args) {
  Result<ParsedArgs> parsed = ParseArgs(args, kOptionSpecs);
  if (!parsed.ok()) return parsed.status();
  RegisterOptions options;
  options.help = parsed->Has("help");
  if (options.help) return options;
  options.recursive = parsed->Has("recursive");
  options.make.faces = !parsed->Has("no-faces");
  for (const auto& [name, value] : parsed->options) {
    if (name != "watch-term") continue;
    if (value.empty()) return InvalidArgument("--watch-term needs a non-empty text");
    options.watch_terms.push_back(value);
  }
  if (const std::optional<std::string> ref = parsed->Value("case-ref")) options.case_ref = *ref;
  if (const std::optional<std::string> dir = parsed->Value("model-dir")) {
    options.make.models.recognition_manifest =
        (std::filesystem::path(*dir) / "face_recognition_model-weights_manifest.json").string();
  }
  if (const std::optional<std::string> file = parsed->Value("landmarks")) options.make.models.shape_predictor = *file;
  options.server.server = parsed->Value("server").value_or("");
  options.server.case_number = parsed->Value("case").value_or("");
  const std::optional<std::string> out = parsed->Value("out");
  if ((!out || out->empty()) && options.server.server.empty()) {
    return InvalidArgument("--out FILE or --server URL is required (where to send the signal set)");
  }
  options.out = out.value_or("");
  options.inputs = std::move(parsed->positionals);
  if (options.inputs.empty()) return InvalidArgument("no files given");
  return options;
}

std::string Describe(const signals::FileSignals& file) {
  std::string text;
  for (const signals::Signal& s : file.signals) {
    if (s.type == signals::SignalType::kFace) continue;
    if (!text.empty()) text += ", ";
    text += std::string(signals::SignalTypeName(s.type));
    if (s.type == signals::SignalType::kPdq) text += " (quality " + std::to_string(s.quality) + ")";
    if (s.type == signals::SignalType::kVpdq) text += " (" + std::to_string(s.frames.size()) + " frames)";
  }
  if (!file.video) text += ", " + std::to_string(file.faces) + (file.faces == 1 ? " face" : " faces");
  return text;
}

int UsageError(const CommandIo& io, const Status& status) {
  io.err << "takeback register: " << status.message() << "\n"
         << "Usage: takeback register [OPTION]... --out FILE IMAGE|VIDEO|DIR...\n"
         << "Try 'takeback register --help' for more information.\n";
  return kExitUsage;
}

}  // namespace

std::string_view RegisterCommandHelp() { return kHelp; }

int RunRegisterCommand(std::span<const std::string> args, const CommandIo& io) {
  Result<RegisterOptions> options = ParseRegisterOptions(args);
  if (!options.ok()) return UsageError(io, options.status());
  if (options->help) {
    io.out << kHelp;
    return kExitOk;
  }
  std::vector<std::string> paths;
  int exit_code = kExitOk;
  for (const InputItem& item : CollectInputs(options->inputs, options->recursive, io.in)) {
    if (!item.error.ok()) {
      io.err << "takeback register: " << item.path << ": " << item.error.ToString() << "\n";
      exit_code = kExitSomeFailed;
      continue;
    }
    paths.push_back(item.path);
  }
  Result<std::vector<signals::FileSignals>> made = signals::MakeSignals(paths, options->make);
  if (!made.ok()) {
    io.err << "takeback register: " << made.status().ToString()
           << "\n(to register hashes only, without faces, add --no-faces)\n";
    return kExitUsage;
  }
  signals::SignalSet set;
  set.case_ref = options->case_ref;
  set.watch_terms = options->watch_terms;
  set.created = signals::NowRfc3339();
  set.tool = std::string("takeback ") + TAKEBACK_VERSION;
  for (signals::FileSignals& file : *made) {
    if (!file.status.ok()) {
      io.err << "takeback register: " << file.path << ": " << file.status.ToString() << "\n";
      exit_code = kExitSomeFailed;
      continue;
    }
    const std::string label = file.signals.empty() ? "?" : file.signals.front().label;
    io.err << "takeback register: " << label << ": " << Describe(file) << ": " << file.path << "\n";
    for (const std::string& note : file.notes)
      io.err << "takeback register: " << label << ": warning: " << note << "\n";
    for (signals::Signal& s : file.signals) set.signals.push_back(std::move(s));
  }
  if (set.signals.empty() && set.watch_terms.empty()) {
    io.err << "takeback register: nothing to register; " << options->out << " not written\n";
    return kExitSomeFailed;
  }
  if (!options->server.server.empty()) {
    const int sent = SendSignalSetToServer(set, options->server, io);
    if (sent != kExitOk || options->out.empty()) return sent != kExitOk ? sent : exit_code;
  }
  const Status written = signals::WriteSignalSet(options->out, set);
  if (!written.ok()) {
    io.err << "takeback register: " << written.ToString() << "\n";
    return kExitSomeFailed;
  }
  io.err << "takeback register: wrote " << set.signals.size() << " signals and " << set.watch_terms.size()
         << " watch terms to " << options->out << "\n";
  return exit_code;
}

}  // namespace takeback::cli
