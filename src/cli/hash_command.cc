#include "cli/hash_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
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
constexpr std::size_t kProgressMinFiles = 8;                             // below this a progress line is noise
constexpr std::uint64_t kDefaultMaxVideoSize = std::uint64_t{64} << 30;  // 64 GiB, streamed from disk
constexpr std::size_t kSniffBytes = std::size_t{64} * 1024;
constexpr std::size_t kDigestChunk = 1 << 20;
constexpr double kMaxFps = 1000;
constexpr int kMaxPruneDistance = 256;

constexpr std::string_view kHelp = R"(Usage: takeback hash [OPTION]... FILE|DIR|-...

Compute the PDQ perceptual hash of each image, the same 256-bit hash that
Meta's reference pdq-photo-hasher prints, with its quality (0-100; below 50
the hash is not to be trusted). Hashes are what you register or match:
the image itself never leaves this machine.

Inputs are JPEG, PNG, WebP, GIF, BMP and HEIC/AVIF images and MP4/MOV,
MKV/WebM, AVI videos and animated GIFs, recognised by their content, not
their name. A DIR is hashed with -r only. "-" reads more paths from standard
input, one per line.

A video gets a vPDQ hash: the PDQ hash of each of its frames, bit-exact with
Meta's reference vpdq-hash-video on every frame, plus the MD5 and SHA-256 of
the file (see docs/formats/vpdq.md).

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

Video options:
      --every-frame      hash every frame (the default; what registered,
                         bank videos need)
      --fps F            hash the first frame at or after every 1/F seconds
                         instead (sparse sampling for uploads/queries)
      --seek             with --fps: seek to the keyframe before each sample
                         when that skips decoding (else decode everything)
      --keyframes        hash key frames only (at most --fps of them per
                         second when --fps is given): the cheapest query
                         sampling, each key frame is a real frame that a
                         densely hashed registered copy contains
      --prune D          drop frames within D bits of the last frame kept
                         (consecutive near-identical frames); off by default
      --vpdq-dir DIR     write each video's frame lines to DIR/NAME.txt
                         (NAME: the file name without its extension), exactly
                         the reference's file, and print only the header line
      --max-frames N     stop decoding a video after N frames (default 216000,
                         2 hours at 30 fps); the hash then covers the start
      --max-seconds S    stop decoding a video after S seconds of wall time
                         (default 600)
      --max-video-size B refuse videos larger than B bytes (default 64G;
                         videos over --max-file-size are read in pieces)
      --threads N        decoder threads per video (default 1; -j sets how
                         many files are hashed at a time)

Text output, one line per file (comma-separated; the path is always last,
so it may itself contain commas):
  default       PDQ,QUALITY,PATH
  --digests     PDQ,QUALITY,MD5,SHA256,PATH
  --dihedral    ORIG,ROT90,ROT180,ROT270,FLIPX,FLIPY,FLIPPLUS1,FLIPMINUS1,QUALITY,PATH
                (ORIG is the plain PDQ hash; with --digests, MD5,SHA256 come
                before PATH here too)
Hashes and digests are lower-case hex.
A video prints a header line, then one line per hashed frame in the
reference vpdq-hash-video layout:
  vpdq,FRAMES,MD5,SHA256,PATH
  FRAME_NUMBER,QUALITY,PDQ,TIMESTAMP_SECONDS      (e.g. 0,100,e429...,0.000)

JSON output (--json), one object per file:
  {"path":"a.jpg","format":"jpeg","width":800,"height":600,"pdq":"...",
   "quality":100, "dihedral":{"orig":"...","rot90":"...",...}, "md5":"...",
   "sha256":"..."}
"dihedral" appears with --dihedral, "md5" and "sha256" with --digests.
A video gives
  {"path":"a.mp4","type":"video","format":"mp4","codec":"h264","width":480,
   "height":720,"fps":30.0,"duration":20.47,"frames_decoded":614,
   "truncated":false,"md5":"...","sha256":"...",
   "vpdq":[{"frame":0,"quality":100,"pdq":"...","timestamp":0.0},...]}
A video cut short by --max-frames/--max-seconds has "truncated":true and
a warning on stderr; its hash covers the frames before the cut.
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
  std::uint64_t max_video_size = kDefaultMaxVideoSize;
  VideoHashOptions video;
  std::string vpdq_dir;
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
  std::optional<VideoHash> video;
};

// Smallest side the --fast JPEG path keeps; measured in docs/BENCHMARKS.md.
constexpr int kFastJpegMinSide = 256;

constexpr std::array<OptionSpec, 21> kOptionSpecs = {{
    {"recursive", 'r', false},   {"json", '\0', false},          {"dihedral", '\0', false},
    {"digests", '\0', false},    {"auto-orient", '\0', false},   {"fast", '\0', false},
    {"max-pixels", '\0', true},  {"max-file-size", '\0', true},  {"jobs", 'j', true},
    {"quiet", 'q', false},       {"help", 'h', false},           {"every-frame", '\0', false},
    {"fps", '\0', true},         {"seek", '\0', false},          {"keyframes", '\0', false},
    {"prune", '\0', true},       {"vpdq-dir", '\0', true},       {"max-frames", '\0', true},
    {"max-seconds", '\0', true}, {"max-video-size", '\0', true}, {"threads", '\0', true},
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

Status ParseVideoOptions(const ParsedArgs& parsed, VideoHashOptions& video) {
  if (parsed.Has("every-frame") && parsed.Has("fps"))
    return InvalidArgument("--every-frame and --fps exclude each other");
  if (const std::optional<std::string> fps = parsed.Value("fps")) {
    const Result<double> value = ParseFpsOption(*fps);
    if (!value.ok()) return value.status();
    video.video.sample_fps = *value;
  }
  video.video.seek = parsed.Has("seek");
  if (video.video.seek && video.video.sample_fps == 0) return InvalidArgument("--seek needs --fps");
  video.video.keyframes_only = parsed.Has("keyframes");
  if (video.video.keyframes_only && parsed.Has("every-frame")) {
    return InvalidArgument("--every-frame and --keyframes exclude each other");
  }
  if (const std::optional<std::string> prune = parsed.Value("prune")) {
    const std::optional<std::uint64_t> d = ParseUint(*prune);
    if (!d || *d > kMaxPruneDistance) return InvalidArgument("invalid value '" + *prune + "' for --prune (0..256)");
    video.prune = static_cast<int>(*d);
  }
  const Result<std::uint64_t> frames = PositiveNumberOption(parsed, "max-frames", video.video.max_frames, false);
  if (!frames.ok()) return frames.status();
  video.video.max_frames = *frames;
  if (const std::optional<std::string> secs = parsed.Value("max-seconds")) {
    const Result<double> value = ParseFpsOption(*secs);  // same shape: a finite number > 0
    if (!value.ok()) return InvalidArgument("invalid value '" + *secs + "' for --max-seconds (expected seconds > 0)");
    video.video.max_seconds = *value;
  }
  const Result<std::uint64_t> threads = PositiveNumberOption(parsed, "threads", 1, false);
  if (!threads.ok()) return threads.status();
  if (*threads > 64) return InvalidArgument("--threads must be at most 64");
  video.video.threads = static_cast<int>(*threads);
  return Status::Ok();
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
  // Video frames have their own, lower default limit; --max-pixels sets both.
  if (parsed->Has("max-pixels")) options.video.video.max_pixels = *max_pixels;
  const Result<std::uint64_t> max_size = PositiveNumberOption(*parsed, "max-file-size", kDefaultMaxFileSize, true);
  if (!max_size.ok()) return max_size.status();
  options.max_file_size = *max_size;
  const unsigned default_jobs = std::clamp(hardware_threads, 1U, kMaxDefaultJobs);
  const Result<std::uint64_t> jobs = PositiveNumberOption(*parsed, "jobs", default_jobs, false);
  if (!jobs.ok()) return jobs.status();
  if (*jobs > kMaxJobs) return InvalidArgument("--jobs must be at most " + std::to_string(kMaxJobs));
  options.jobs = static_cast<unsigned>(*jobs);
  TAKEBACK_RETURN_IF_ERROR(ParseVideoOptions(*parsed, options.video));
  const Result<std::uint64_t> max_video = PositiveNumberOption(*parsed, "max-video-size", kDefaultMaxVideoSize, true);
  if (!max_video.ok()) return max_video.status();
  options.max_video_size = *max_video;
  if (const std::optional<std::string> dir = parsed->Value("vpdq-dir")) {
    if (dir->empty()) return InvalidArgument("--vpdq-dir needs a directory");
    std::error_code ec;
    if (!std::filesystem::is_directory(*dir, ec)) return InvalidArgument("--vpdq-dir: not a directory: " + *dir);
    options.vpdq_dir = *dir;
  }
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

Result<FileReport> HashVideoReport(const std::string& path, std::span<const std::uint8_t> bytes,
                                   const HashOptions& options) {
  FileReport report;
  report.path = path;
  Result<VideoHash> video = HashVideo(path, bytes, options.video);
  if (!video.ok()) return video.status();
  report.format = std::string(media::VideoFormatName(video->info.format));
  report.width = video->info.width;
  report.height = video->info.height;
  report.video = std::move(*video);
  return report;
}

Result<FileReport> HashFileUnguarded(const std::string& path, const HashOptions& options) {
  FileReport report;
  report.path = path;
  Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(path, options.max_file_size);
  if (!bytes.ok()) {
    // Videos may be far larger than any image: they are streamed from disk.
    if (bytes.status().code() == ErrorCode::kTooLarge && LooksLikeVideoFile(path)) {
      std::error_code ec;
      const std::uintmax_t size = std::filesystem::file_size(path, ec);
      if (!ec && size > options.max_video_size) {
        return TooLarge("video is " + std::to_string(size) + " bytes, over the limit of " +
                        std::to_string(options.max_video_size) + " bytes");
      }
      return HashVideoReport(path, {}, options);
    }
    return bytes.status();
  }
  if (bytes->empty()) return Corrupt("empty file (0 bytes)");
  if (media::SniffVideoFormat(*bytes) != media::VideoFormat::kUnknown) return HashVideoReport(path, *bytes, options);
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

std::string FormatVideoHeader(const FileReport& report) {
  return "vpdq," + std::to_string(report.video->frames.size()) + "," + HexEncode(report.video->digests.md5) + "," +
         HexEncode(report.video->digests.sha256) + "," + report.path;
}

std::string FormatText(const FileReport& report, const HashOptions& options) {
  if (report.video) {
    std::string text = FormatVideoHeader(report);
    if (!options.vpdq_dir.empty()) return text;
    text += "\n";
    text += hash::FormatVpdqText(report.video->frames);
    text.pop_back();  // the caller ends the last line
    return text;
  }
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

std::string FormatVideoJson(const FileReport& report) {
  const VideoHash& video = *report.video;
  nlohmann::ordered_json value;
  value["path"] = report.path;
  value["type"] = "video";
  value["format"] = report.format;
  value["codec"] = video.info.codec;
  value["width"] = report.width;
  value["height"] = report.height;
  value["fps"] = video.info.frame_rate;
  value["duration"] = video.info.duration_seconds;
  value["frames_decoded"] = video.stats.frames_decoded;
  value["truncated"] = video.stats.truncated;
  value["md5"] = HexEncode(video.digests.md5);
  value["sha256"] = HexEncode(video.digests.sha256);
  std::string text = DumpJson(value);
  text.pop_back();  // splice the frames in without a JSON round trip per frame
  return text + ",\"vpdq\":" + hash::FormatVpdqJson(video.frames) + "}";
}

std::string FormatJson(const FileReport& report, const HashOptions& options) {
  if (report.video) return FormatVideoJson(report);
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

// Writes DIR/NAME.txt (NAME: the file name without its extension) with the
// reference's frame lines.
Status WriteVpdqFile(const std::string& dir, const FileReport& report) {
  const std::filesystem::path out =
      std::filesystem::path(dir) / (std::filesystem::path(report.path).stem().string() + ".txt");
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file << hash::FormatVpdqText(report.video->frames);
  file.close();
  if (!file) return IoError("cannot write " + out.string());
  return Status::Ok();
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
    if (result.ok() && result->video && !options.vpdq_dir.empty()) {
      const Status written = WriteVpdqFile(options.vpdq_dir, *result);
      if (!written.ok()) result = written;
    }
    if (result.ok() && result->video && result->video->stats.truncated) {
      progress.Clear();
      io.err << "takeback: " << items[i].path << ": warning: stopped at the " << result->video->stats.truncated_reason
             << "; the hash covers the first " << result->video->stats.frames_decoded << " frames\n";
    }
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

Result<double> ParseFpsOption(std::string_view text) {
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value) || value <= 0 || value > kMaxFps) {
    return InvalidArgument("invalid value '" + std::string(text) + "' (expected a number > 0, at most 1000)");
  }
  return value;
}

bool LooksLikeVideoFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  std::vector<std::uint8_t> prefix(kSniffBytes);
  std::size_t done = 0;
  while (done < prefix.size()) {
    const ssize_t n = ::read(fd, prefix.data() + done, prefix.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  prefix.resize(done);
  const media::VideoFormat format = media::SniffVideoFormat(prefix);
  return format != media::VideoFormat::kUnknown && format != media::VideoFormat::kGif;
}

namespace {

Result<hash::FileDigests> DigestFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open " + path + " to digest it");
  hash::StreamingDigests digests;
  std::vector<std::uint8_t> chunk(kDigestChunk);
  while (true) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return IoError("read failed while digesting " + path);
    }
    if (n == 0) break;
    digests.Update(std::span(chunk).first(static_cast<std::size_t>(n)));
  }
  ::close(fd);
  return digests.Finish();
}

}  // namespace

Result<VideoHash> HashVideo(const std::string& path, std::span<const std::uint8_t> bytes,
                            const VideoHashOptions& options) {
  Result<std::unique_ptr<media::VideoReader>> reader = bytes.empty()
                                                           ? media::VideoReader::OpenFile(path, options.video)
                                                           : media::VideoReader::OpenMemory(bytes, options.video);
  if (!reader.ok()) return reader.status();
  VideoHash out;
  out.info = (*reader)->info();
  hash::VpdqPruner pruner(options.prune);
  media::VideoFrame frame;
  while (true) {
    Result<bool> more = (*reader)->Next(frame);
    if (!more.ok()) return more.status();
    if (!*more) break;
    const hash::PdqResult r =
        hash::VpdqHashFrame({frame.data, frame.width, frame.height, frame.channels, frame.stride});
    const hash::VpdqFrame f{frame.frame_number, r.quality, r.hash, frame.timestamp};
    if (pruner.Keep(f)) out.frames.push_back(f);
  }
  out.stats = (*reader)->stats();
  if (out.stats.frames_decoded == 0) return Corrupt("the video has no decodable frame");
  if (bytes.empty()) {
    Result<hash::FileDigests> digests = DigestFile(path);
    if (!digests.ok()) return digests.status();
    out.digests = *digests;
  } else {
    out.digests = hash::ComputeDigests(bytes);
  }
  return out;
}

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
