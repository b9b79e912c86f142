#include "cli/hash_command.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/inputs.h"
#include "cli/ordered_pool.h"
#include "cli/progress.h"
#include "common/file.h"
#include "common/hex.h"
#include "hash/digest.h"
#include "hash/pdq.h"
#include "media/image.h"

namespace takeback::cli {
namespace {

constexpr std::uint64_t kDefaultMaxPixels = 100'000'000;
constexpr std::uint64_t kDefaultMaxFileSize = std::uint64_t{256} << 20;  // 256 MiB
constexpr unsigned kMaxDefaultJobs = 8;                                  // each job may hold a decoded image
constexpr std::uint64_t kMaxJobs = 256;
constexpr std::size_t kProgressMinFiles = 8;  // below this a progress line is noise

constexpr std::string_view kHelp = R"(Usage: takeback hash [OPTION]... FILE|DIR|-...

Compute the PDQ perceptual hash of each image, the same 256-bit hash that
Meta's reference pdq-photo-hasher prints, with its quality (0-100; below 50
the hash is not to be trusted). Hashes are what you register or match:
the image itself never leaves this machine.

Inputs are JPEG, PNG, WebP, GIF, BMP and HEIC/AVIF files, recognised by
their content, not their name. A DIR is hashed with -r only. "-" reads
more paths from standard input, one per line.

Options:
  -r, --recursive        hash every regular file below each DIR, in sorted
                         (byte-order) path order; symlinks to directories
                         are not followed, fifos and devices are skipped
      --json             print one JSON object per line (see below)
      --dihedral         also hash the 8 rotations/flips of each image
      --digests          also print the MD5 and SHA-256 of the file bytes
      --auto-orient      apply the EXIF Orientation tag before hashing (off by
                         default, like the reference hasher)
      --fast             decode large JPEGs at reduced size (libjpeg DCT
                         scaling, >= 256 px a side): faster, but hashes may
                         differ from the exact ones by a few bits (see
                         docs/formats/pdq.md); never use for golden hashes
      --max-pixels N     refuse images with more than N pixels
                         (default 100000000)
      --max-file-size B  refuse files larger than B bytes; suffixes K, M, G, T
                         are powers of 1024 (default 256M)
  -j, --jobs N           hash N files at a time (default: the number of CPU
                         cores, at most 8); output stays in input order
  -q, --quiet            no progress line (it is only shown when stderr is a
                         terminal and there are more than a few files)
  -h, --help             show this help

Text output, one line per file (comma-separated; the path is always last,
so it may itself contain commas):
  default       PDQ,QUALITY,PATH
  --digests     PDQ,QUALITY,MD5,SHA256,PATH
  --dihedral    ORIG,ROT90,ROT180,ROT270,FLIPX,FLIPY,FLIPPLUS1,FLIPMINUS1,QUALITY,PATH
                (ORIG is the plain PDQ hash; with --digests, MD5,SHA256 come
                before PATH here too)
Hashes and digests are lower-case hex.

JSON output (--json), one object per file:
  {"path":"a.jpg","format":"jpeg","width":800,"height":600,"pdq":"...",
   "quality":100, "dihedral":{"orig":"...","rot90":"...",...}, "md5":"...",
   "sha256":"..."}
"dihedral" appears with --dihedral, "md5" and "sha256" with --digests.
A file that fails gives {"path":"...","error":{"code":"corrupt","message":"..."}}.

A file that cannot be hashed (missing, unreadable, empty, not an image,
corrupt, over a limit) is reported on stderr as
  takeback: PATH: CODE: REASON
and the run goes on with the next file.

Exit status:
  0  every file was hashed
  1  some files could not be hashed (each is reported on stderr)
  2  bad command line (unknown option, missing value, no files)

Examples:
  takeback hash photo.jpg
  takeback hash -r --json ~/Pictures > hashes.jsonl
  find . -name '*.png' | takeback hash --dihedral --digests -
)";

struct HashOptions {
  bool recursive = false;
  bool json = false;
  bool dihedral = false;
  bool digests = false;
  bool quiet = false;
  bool help = false;
  unsigned jobs = 1;
  media::DecodeOptions decode;
  std::uint64_t max_file_size = kDefaultMaxFileSize;
  std::vector<std::string> inputs;
};

// What `takeback hash` learns about one file.
struct FileReport {
  std::string path;
  std::string format;
  int width = 0;
  int height = 0;
  int quality = 0;
  std::array<hash::PdqHash, hash::kNumDihedral> hashes{};  // [0] is the plain hash
  std::optional<hash::FileDigests> digests;
};

// Smallest side the --fast JPEG path keeps; measured in docs/BENCHMARKS.md.
constexpr int kFastJpegMinSide = 256;

constexpr std::array<OptionSpec, 11> kOptionSpecs = {{
    {"recursive", 'r', false},
    {"json", '\0', false},
    {"dihedral", '\0', false},
    {"digests", '\0', false},
    {"auto-orient", '\0', false},
    {"fast", '\0', false},
    {"max-pixels", '\0', true},
    {"max-file-size", '\0', true},
    {"jobs", 'j', true},
    {"quiet", 'q', false},
    {"help", 'h', false},
}};

Result<std::uint64_t> PositiveNumberOption(const ParsedArgs& parsed, std::string_view name, std::uint64_t default_value,
                                           bool byte_size) {
  const std::optional<std::string> text = parsed.Value(name);
  if (!text) return default_value;
  const std::optional<std::uint64_t> value = byte_size ? ParseByteSize(*text) : ParseUint(*text);
  if (!value || *value == 0) {
    return InvalidArgument("invalid value '" + *text + "' for --" + std::string(name) +
                           (byte_size ? " (expected a size such as 1048576, 512M or 1G)" : " (expected a number > 0)"));
  }
  return *value;
}

Result<HashOptions> ParseHashOptions(std::span<const std::string> args, unsigned hardware_threads) {
  Result<ParsedArgs> parsed = ParseArgs(args, kOptionSpecs);
  if (!parsed.ok()) return parsed.status();
  HashOptions options;
  options.help = parsed->Has("help");
  if (options.help) return options;
  options.recursive = parsed->Has("recursive");
  options.json = parsed->Has("json");
  options.dihedral = parsed->Has("dihedral");
  options.digests = parsed->Has("digests");
  options.quiet = parsed->Has("quiet");
  options.decode.auto_orient = parsed->Has("auto-orient");
  if (parsed->Has("fast")) options.decode.jpeg_fast_min_side = kFastJpegMinSide;
  const Result<std::uint64_t> max_pixels = PositiveNumberOption(*parsed, "max-pixels", kDefaultMaxPixels, false);
  if (!max_pixels.ok()) return max_pixels.status();
  options.decode.max_pixels = *max_pixels;
  const Result<std::uint64_t> max_size = PositiveNumberOption(*parsed, "max-file-size", kDefaultMaxFileSize, true);
  if (!max_size.ok()) return max_size.status();
  options.max_file_size = *max_size;
  const unsigned default_jobs = std::clamp(hardware_threads, 1U, kMaxDefaultJobs);
  const Result<std::uint64_t> jobs = PositiveNumberOption(*parsed, "jobs", default_jobs, false);
  if (!jobs.ok()) return jobs.status();
  if (*jobs > kMaxJobs) return InvalidArgument("--jobs must be at most " + std::to_string(kMaxJobs));
  options.jobs = static_cast<unsigned>(*jobs);
  options.inputs = std::move(parsed->positionals);
  if (options.inputs.empty()) return InvalidArgument("no files given");
  return options;
}

Status CheckDecodedImage(const media::Image& image) {
  const bool sane = image.width > 0 && image.height > 0 && (image.channels == 1 || image.channels == 3) &&
                    image.pixels.size() == static_cast<std::size_t>(image.width) *
                                               static_cast<std::size_t>(image.height) *
                                               static_cast<std::size_t>(image.channels);
  if (!sane) return Internal("decoder returned an inconsistent image");
  return Status::Ok();
}

void HashPixels(const media::Image& image, bool dihedral, FileReport& report) {
  const hash::PixelView view{image.pixels.data(), image.width, image.height, image.channels,
                             static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.channels)};
  if (dihedral) {
    const hash::PdqDihedralResult result = hash::PdqDihedralHashPixels(view);
    report.hashes = result.hashes;
    report.quality = result.quality;
  } else {
    const hash::PdqResult result = hash::PdqHashPixels(view);
    report.hashes[0] = result.hash;
    report.quality = result.quality;
  }
}

Result<FileReport> HashFileUnguarded(const std::string& path, const HashOptions& options) {
  FileReport report;
  report.path = path;
  Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(path, options.max_file_size);
  if (!bytes.ok()) return bytes.status();
  if (bytes->empty()) return Corrupt("empty file (0 bytes)");
  if (options.digests) report.digests = hash::ComputeDigests(*bytes);
  report.format = std::string(media::ImageFormatName(media::SniffImageFormat(*bytes)));
  Result<media::Image> image = media::DecodeImage(*bytes, options.decode);
  if (!image.ok()) return image.status();
  std::vector<std::uint8_t>().swap(*bytes);  // free the file before hashing
  TAKEBACK_RETURN_IF_ERROR(CheckDecodedImage(*image));
  report.width = image->width;
  report.height = image->height;
  HashPixels(*image, options.dihedral, report);
  return report;
}

// Thread-safe. Turns the exceptions a decoder may still raise (allocation
// failure on a huge image) into error values: one bad file never ends a run.
Result<FileReport> HashFile(const InputItem& item, const HashOptions& options) {
  if (!item.error.ok()) return item.error;
  try {
    return HashFileUnguarded(item.path, options);
  } catch (const std::bad_alloc&) {
    return TooLarge("out of memory while decoding");
  } catch (const std::exception& e) {
    return Internal(std::string("unexpected error: ") + e.what());
  }
}

std::string FormatText(const FileReport& report, const HashOptions& options) {
  std::string line;
  const int count = options.dihedral ? hash::kNumDihedral : 1;
  for (int d = 0; d < count; ++d) line += report.hashes[static_cast<std::size_t>(d)].ToHex() + ",";
  line += std::to_string(report.quality) + ",";
  if (report.digests) line += HexEncode(report.digests->md5) + "," + HexEncode(report.digests->sha256) + ",";
  line += report.path;
  return line;
}

// Paths are bytes, not necessarily UTF-8: invalid sequences become U+FFFD
// rather than making the JSON writer throw.
std::string DumpJson(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string FormatJson(const FileReport& report, const HashOptions& options) {
  nlohmann::ordered_json value;
  value["path"] = report.path;
  value["format"] = report.format;
  value["width"] = report.width;
  value["height"] = report.height;
  value["pdq"] = report.hashes[0].ToHex();
  value["quality"] = report.quality;
  if (options.dihedral) {
    nlohmann::ordered_json dihedral = nlohmann::ordered_json::object();
    for (int d = 0; d < hash::kNumDihedral; ++d) {
      dihedral[std::string(hash::DihedralName(static_cast<hash::Dihedral>(d)))] =
          report.hashes[static_cast<std::size_t>(d)].ToHex();
    }
    value["dihedral"] = std::move(dihedral);
  }
  if (report.digests) {
    value["md5"] = HexEncode(report.digests->md5);
    value["sha256"] = HexEncode(report.digests->sha256);
  }
  return DumpJson(value);
}

std::string FormatJsonError(const std::string& path, const Status& status) {
  nlohmann::ordered_json value;
  value["path"] = path;
  value["error"] = {{"code", std::string(ErrorCodeName(status.code()))}, {"message", status.message()}};
  return DumpJson(value);
}

int UsageError(const CommandIo& io, const Status& status) {
  io.err << "takeback hash: " << status.message() << "\n"
         << "Usage: takeback hash [OPTION]... FILE|DIR|-...\n"
         << "Try 'takeback hash --help' for more information.\n";
  return kExitUsage;
}

// Hashes every input and prints the results in input order. Returns the
// number of inputs that failed.
std::size_t HashAll(const std::vector<InputItem>& items, const HashOptions& options, const CommandIo& io) {
  const bool show_progress = io.err_is_terminal && !options.quiet && items.size() > kProgressMinFiles;
  ProgressMeter progress(io.err, items.size(), show_progress);
  progress.Update(0);
  std::size_t failures = 0;
  auto work = [&](std::size_t i) { return HashFile(items[i], options); };
  auto emit = [&](std::size_t i, Result<FileReport>&& result) {
    if (result.ok()) {
      io.out << (options.json ? FormatJson(*result, options) : FormatText(*result, options)) << '\n';
    } else {
      ++failures;
      progress.Clear();
      io.err << "takeback: " << items[i].path << ": " << result.status().ToString() << '\n';
      if (options.json) io.out << FormatJsonError(items[i].path, result.status()) << '\n';
    }
    progress.Update(i + 1);
  };
  RunOrdered<Result<FileReport>>(items.size(), options.jobs, work, emit);
  progress.Clear();
  return failures;
}

}  // namespace

std::string_view HashCommandHelp() { return kHelp; }

int RunHashCommand(std::span<const std::string> args, const CommandIo& io) {
  const Result<HashOptions> options = ParseHashOptions(args, io.hardware_threads);
  if (!options.ok()) return UsageError(io, options.status());
  if (options->help) {
    io.out << kHelp;
    return kExitOk;
  }
  const std::vector<InputItem> items = CollectInputs(options->inputs, options->recursive, io.in);
  const std::size_t failures = HashAll(items, *options, io);
  io.out.flush();
  if (!io.out) {
    io.err << "takeback: error writing the output\n";
    return kExitSomeFailed;
  }
  return failures == 0 ? kExitOk : kExitSomeFailed;
}

}  // namespace takeback::cli
