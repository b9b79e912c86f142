#include "cli/compare_command.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/hash_command.h"
#include "common/file.h"
#include "hash/pdq.h"
#include "hash/vpdq.h"
#include "media/image.h"
#include "media/video.h"

namespace takeback::cli {
namespace {

constexpr int kExitNoMatch = 1;
constexpr std::uint64_t kDefaultMaxFileSize = std::uint64_t{256} << 20;  // held in memory; larger videos stream
constexpr std::uint64_t kMaxHashFileSize = std::uint64_t{64} << 20;
constexpr int kMaxDistance = 256;

constexpr std::string_view kHelp = R"(Usage: takeback compare [OPTION]... A B

Compare two images, videos or saved hash files with the vPDQ rule and say
whether they match. A is the query (an upload), B the target (a registered
item); each may be
  - an image (JPEG, PNG, WebP, GIF, BMP, HEIC/AVIF): one frame,
  - a video (MP4/MOV, MKV/WebM, AVI, animated GIF): hashed here, every
    frame unless --fps is given,
  - a saved hash file: vPDQ text (the reference's FRAME,QUALITY,PDQ,TIMESTAMP
    lines, or `takeback hash` output for one video or one image) or JSON
    (a `takeback hash --json` line, or a bare array of frames).

The rule (ThreatExchange vpdq): frames of quality below --quality are
dropped and identical hashes counted once; a frame is found in the other
side when some frame there is within --distance bits. Two shares follow:
the query frames found in the target and the target frames found in the
query. A match when EITHER share reaches its threshold: a clip cut from a
registered video matches (query share), and so does an upload holding a
registered video among other footage (target share). A photo matches a
video that contains it as a frame.

Options:
      --fps F               hash video A at F frames per second (sparse query
                            sampling); B, the registered side, is always hashed
                            every frame (default: every frame for both)
      --seek                with --fps: seek instead of decoding everything
      --keyframes           hash only the key frames of video A (at most --fps
                            per second when given): the cheapest query sampling
      --prune D             drop frames within D bits of the last frame kept
      --distance D          frame match distance in bits (default 31, inclusive)
      --quality Q           ignore frames of quality below Q (default 50)
      --query-threshold P   percent of query frames needed (default 80)
      --target-threshold P  percent of target frames needed (default 80)
      --json                print one JSON object
      --max-frames N        decode at most N frames per video (default 216000)
      --max-seconds S       stop decoding a video after S seconds (default 600)
      --max-file-size B     hold inputs up to B bytes in memory (default 256M;
                            larger videos are streamed from disk)
      --threads N           decoder threads per video (default 1)
  -h, --help                show this help

Output:
  query:  A (video, 245 frames, 239 unique with quality >= 50)
  target: B (video, 614 frames, 600 unique with quality >= 50)
  query frames found in target: 100.00% (239/239)
  target frames found in query: 39.17% (235/600)
  verdict: match

JSON (--json): {"query":{"path":"A","kind":"video","frames":245,"unique":239},
  "target":{...},"query_percent":100.0,"target_percent":39.17,"match":true}

Exit status: 0 match, 1 no match, 2 bad command line or an input that
cannot be read or hashed.

Examples:
  takeback compare upload.mp4 registered.mp4
  takeback hash --prune 4 --vpdq-dir bank/ registered.mp4
  takeback compare --fps 1 upload.mp4 bank/registered.txt
  takeback compare still.jpg registered.mp4
)";

constexpr std::array<OptionSpec, 15> kOptionSpecs = {{
    {"fps", '\0', true},
    {"every-frame", '\0', false},
    {"seek", '\0', false},
    {"keyframes", '\0', false},
    {"prune", '\0', true},
    {"distance", '\0', true},
    {"quality", '\0', true},
    {"query-threshold", '\0', true},
    {"target-threshold", '\0', true},
    {"json", '\0', false},
    {"max-frames", '\0', true},
    {"max-seconds", '\0', true},
    {"max-file-size", '\0', true},
    {"threads", '\0', true},
    {"help", 'h', false},
}};

struct CompareOptions {
  bool help = false;
  bool json = false;
  VideoHashOptions query_video;   // A: may be sampled
  VideoHashOptions target_video;  // B: every frame
  hash::VpdqMatchOptions match;
  std::uint64_t max_file_size = kDefaultMaxFileSize;
  std::string query_path;
  std::string target_path;
};

struct Side {
  std::string kind;  // "image", "video", "hashes"
  std::vector<hash::VpdqFrame> frames;
  bool truncated = false;
};

Result<double> PercentOption(const ParsedArgs& parsed, std::string_view name, double default_value) {
  const std::optional<std::string> text = parsed.Value(name);
  if (!text) return default_value;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || ptr != text->data() + text->size() || !(value >= 0 && value <= 100)) {
    return InvalidArgument("invalid value '" + *text + "' for --" + std::string(name) + " (expected 0..100)");
  }
  return value;
}

Result<int> IntOption(const ParsedArgs& parsed, std::string_view name, int default_value, int max_value) {
  const std::optional<std::string> text = parsed.Value(name);
  if (!text) return default_value;
  const std::optional<std::uint64_t> value = ParseUint(*text);
  if (!value || *value > static_cast<std::uint64_t>(max_value)) {
    return InvalidArgument("invalid value '" + *text + "' for --" + std::string(name) + " (expected 0.." +
                           std::to_string(max_value) + ")");
  }
  return static_cast<int>(*value);
}

Result<CompareOptions> ParseCompareOptions(std::span<const std::string> args) {
  Result<ParsedArgs> parsed = ParseArgs(args, kOptionSpecs);
  if (!parsed.ok()) return parsed.status();
  CompareOptions options;
  options.help = parsed->Has("help");
  if (options.help) return options;
  options.json = parsed->Has("json");
  VideoHashOptions video;
  if (parsed->Has("every-frame") && parsed->Has("fps")) {
    return InvalidArgument("--every-frame and --fps exclude each other");
  }
  if (const std::optional<std::string> frames = parsed->Value("max-frames")) {
    const std::optional<std::uint64_t> n = ParseUint(*frames);
    if (!n || *n == 0) return InvalidArgument("invalid value '" + *frames + "' for --max-frames");
    video.video.max_frames = *n;
  }
  if (const std::optional<std::string> secs = parsed->Value("max-seconds")) {
    const Result<double> s = ParseFpsOption(*secs);
    if (!s.ok()) return InvalidArgument("invalid value '" + *secs + "' for --max-seconds");
    video.video.max_seconds = *s;
  }
  const Result<int> threads = IntOption(*parsed, "threads", 1, 64);
  if (!threads.ok()) return threads.status();
  video.video.threads = std::max(1, *threads);
  if (parsed->Has("prune")) {
    const Result<int> prune = IntOption(*parsed, "prune", -1, kMaxDistance);
    if (!prune.ok()) return prune.status();
    video.prune = *prune;
  }
  options.target_video = video;
  if (const std::optional<std::string> fps = parsed->Value("fps")) {
    const Result<double> value = ParseFpsOption(*fps);
    if (!value.ok()) return InvalidArgument("--fps: " + value.status().message());
    video.video.sample_fps = *value;
  }
  video.video.seek = parsed->Has("seek");
  if (video.video.seek && video.video.sample_fps == 0) return InvalidArgument("--seek needs --fps");
  video.video.keyframes_only = parsed->Has("keyframes");
  options.query_video = video;
  const Result<int> distance = IntOption(*parsed, "distance", options.match.max_distance, kMaxDistance);
  if (!distance.ok()) return distance.status();
  options.match.max_distance = *distance;
  const Result<int> quality = IntOption(*parsed, "quality", options.match.min_quality, 100);
  if (!quality.ok()) return quality.status();
  options.match.min_quality = *quality;
  const Result<double> qt = PercentOption(*parsed, "query-threshold", options.match.query_threshold);
  if (!qt.ok()) return qt.status();
  options.match.query_threshold = *qt;
  const Result<double> tt = PercentOption(*parsed, "target-threshold", options.match.target_threshold);
  if (!tt.ok()) return tt.status();
  options.match.target_threshold = *tt;
  if (const std::optional<std::string> size = parsed->Value("max-file-size")) {
    const std::optional<std::uint64_t> bytes = ParseByteSize(*size);
    if (!bytes || *bytes == 0) return InvalidArgument("invalid value '" + *size + "' for --max-file-size");
    options.max_file_size = *bytes;
  }
  if (parsed->positionals.size() != 2) return InvalidArgument("expected two inputs, A and B");
  options.query_path = parsed->positionals[0];
  options.target_path = parsed->positionals[1];
  return options;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A `takeback hash` image line: PDQ,QUALITY[,...].
std::optional<hash::VpdqFrame> ParseImageHashLine(std::string_view line) {
  const std::size_t comma = line.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  const std::optional<hash::PdqHash> h = hash::PdqHash::FromHex(line.substr(0, comma));
  if (!h) return std::nullopt;
  std::string_view rest = line.substr(comma + 1);
  rest = rest.substr(0, rest.find(','));
  const std::optional<std::uint64_t> q = ParseUint(rest);
  if (!q || *q > 100) return std::nullopt;
  return hash::VpdqFrame{0, static_cast<int>(*q), *h, 0.0};
}

Result<std::vector<hash::VpdqFrame>> ParseHashFile(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return Corrupt("empty hash file");
  if (text[first] == '{' || text[first] == '[') {
    Result<std::vector<hash::VpdqFrame>> frames = hash::ParseVpdqJson(text);
    if (frames.ok()) return frames;
    // A `takeback hash --json` line of an image.
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_object() && doc.contains("pdq") && doc["pdq"].is_string() && doc.contains("quality") &&
        doc["quality"].is_number_integer()) {
      const std::optional<hash::PdqHash> h = hash::PdqHash::FromHex(doc["pdq"].get<std::string>());
      const auto q = doc["quality"].get<std::int64_t>();
      if (h && q >= 0 && q <= 100) return std::vector<hash::VpdqFrame>{{0, static_cast<int>(q), *h, 0.0}};
    }
    return frames.status();
  }
  // Text: reference frame lines, optionally under one `takeback hash` header
  // ("vpdq,..."), or one `takeback hash` image line.
  std::string body;
  int headers = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    if (line.starts_with("vpdq,")) {
      if (++headers > 1) return InvalidArgument("the hash file holds more than one video");
      body += "#\n";  // keeps line numbers in error messages
      continue;
    }
    body.append(line);
    body += '\n';
  }
  Result<std::vector<hash::VpdqFrame>> frames = hash::ParseVpdqText(body);
  if (frames.ok()) {
    if (frames->empty()) return Corrupt("the hash file has no frames");
    return frames;
  }
  const std::string_view first_line = Trim(text.substr(first, text.find('\n', first) - first));
  if (const std::optional<hash::VpdqFrame> image = ParseImageHashLine(first_line)) {
    return std::vector<hash::VpdqFrame>{*image};
  }
  return Corrupt("not an image, a video or a hash file (" + frames.status().message() + ")");
}

Result<Side> LoadSideUnguarded(const std::string& path, const VideoHashOptions& video, std::uint64_t max_file_size) {
  Side side;
  Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(path, max_file_size);
  if (!bytes.ok()) {
    if (bytes.status().code() != ErrorCode::kTooLarge || !LooksLikeVideoFile(path)) return bytes.status();
    Result<VideoHash> hashed = HashVideo(path, {}, video);
    if (!hashed.ok()) return hashed.status();
    side.kind = "video";
    side.frames = std::move(hashed->frames);
    side.truncated = hashed->stats.truncated;
    return side;
  }
  if (bytes->empty()) return Corrupt("empty file (0 bytes)");
  if (media::SniffVideoFormat(*bytes) != media::VideoFormat::kUnknown) {
    Result<VideoHash> hashed = HashVideo(path, *bytes, video);
    if (!hashed.ok()) return hashed.status();
    side.kind = "video";
    side.frames = std::move(hashed->frames);
    side.truncated = hashed->stats.truncated;
    return side;
  }
  if (media::SniffImageFormat(*bytes) != media::ImageFormat::kUnknown) {
    Result<media::Image> image = media::DecodeImage(*bytes, media::DecodeOptions{});
    if (!image.ok()) return image.status();
    const hash::PdqResult r =
        hash::PdqHashPixels({image->pixels.data(), image->width, image->height, image->channels,
                             static_cast<std::size_t>(image->width) * static_cast<std::size_t>(image->channels)});
    side.kind = "image";
    side.frames.push_back({0, r.quality, r.hash, 0.0});
    return side;
  }
  if (bytes->size() > kMaxHashFileSize) return Unsupported("not an image or a video");
  Result<std::vector<hash::VpdqFrame>> frames =
      ParseHashFile(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  if (!frames.ok()) return frames.status();
  side.kind = "hashes";
  side.frames = std::move(*frames);
  return side;
}

Result<Side> LoadSide(const std::string& path, const VideoHashOptions& video, std::uint64_t max_file_size) {
  try {
    return LoadSideUnguarded(path, video, max_file_size);
  } catch (const std::bad_alloc&) {
    return TooLarge("out of memory while hashing");
  } catch (const std::exception& e) {
    return Internal(std::string("unexpected error: ") + e.what());
  }
}

std::size_t UniqueGood(const std::vector<hash::VpdqFrame>& frames, int min_quality) {
  // The matcher reports the same count; this keeps the summary line honest
  // even when the other side is empty.
  return hash::MatchVpdq(frames, frames, {.max_distance = 0, .min_quality = min_quality}).query_frames;
}

std::string Percent(double p) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), p, std::chars_format::fixed, 2);
  return (ec == std::errc() ? std::string(buf, end) : std::string("?")) + "%";
}

int UsageError(const CommandIo& io, const Status& status) {
  io.err << "takeback compare: " << status.message() << "\n"
         << "Usage: takeback compare [OPTION]... A B\n"
         << "Try 'takeback compare --help' for more information.\n";
  return kExitUsage;
}

}  // namespace

std::string_view CompareCommandHelp() { return kHelp; }

int RunCompareCommand(std::span<const std::string> args, const CommandIo& io) {
  const Result<CompareOptions> options = ParseCompareOptions(args);
  if (!options.ok()) return UsageError(io, options.status());
  if (options->help) {
    io.out << kHelp;
    return kExitOk;
  }
  const Result<Side> query = LoadSide(options->query_path, options->query_video, options->max_file_size);
  if (!query.ok()) {
    io.err << "takeback: " << options->query_path << ": " << query.status().ToString() << "\n";
    return kExitUsage;
  }
  const Result<Side> target = LoadSide(options->target_path, options->target_video, options->max_file_size);
  if (!target.ok()) {
    io.err << "takeback: " << options->target_path << ": " << target.status().ToString() << "\n";
    return kExitUsage;
  }
  for (const auto* side : {&*query, &*target}) {
    if (side->truncated) {
      io.err << "takeback: " << (side == &*query ? options->query_path : options->target_path)
             << ": warning: a budget (--max-frames/--max-seconds) stopped decoding; only the start is compared\n";
    }
  }
  const hash::VpdqMatchResult r = hash::MatchVpdq(query->frames, target->frames, options->match);
  const std::size_t q_unique =
      r.query_frames > 0 ? r.query_frames : UniqueGood(query->frames, options->match.min_quality);
  const std::size_t t_unique =
      r.target_frames > 0 ? r.target_frames : UniqueGood(target->frames, options->match.min_quality);
  if (options->json) {
    nlohmann::ordered_json value;
    value["query"] = {
        {"path", options->query_path}, {"kind", query->kind}, {"frames", query->frames.size()}, {"unique", q_unique}};
    value["target"] = {{"path", options->target_path},
                       {"kind", target->kind},
                       {"frames", target->frames.size()},
                       {"unique", t_unique}};
    value["query_percent"] = r.query_percent;
    value["target_percent"] = r.target_percent;
    value["query_matched"] = r.query_matched;
    value["target_matched"] = r.target_matched;
    value["match"] = r.match;
    io.out << value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else {
    const std::string q = std::to_string(options->match.min_quality);
    io.out << "query:  " << options->query_path << " (" << query->kind << ", " << query->frames.size() << " frames, "
           << q_unique << " unique with quality >= " << q << ")\n"
           << "target: " << options->target_path << " (" << target->kind << ", " << target->frames.size() << " frames, "
           << t_unique << " unique with quality >= " << q << ")\n"
           << "query frames found in target: " << Percent(r.query_percent) << " (" << r.query_matched << "/"
           << r.query_frames << ")\n"
           << "target frames found in query: " << Percent(r.target_percent) << " (" << r.target_matched << "/"
           << r.target_frames << ")\n"
           << "verdict: " << (r.match ? "match" : "no match") << "\n";
  }
  io.out.flush();
  return r.match ? kExitOk : kExitNoMatch;
}

}  // namespace takeback::cli
