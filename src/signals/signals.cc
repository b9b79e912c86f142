#include "signals/signals.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <memory>
#include <new>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/hex.h"
#include "hash/digest.h"

namespace takeback::signals {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::uint64_t kMaxSignalSetBytes = std::uint64_t{1} << 30;
constexpr std::size_t kDigestChunk = std::size_t{1} << 20;
constexpr std::size_t kSniffBytes = std::size_t{64} * 1024;

template <std::size_t N>
bool ParseFixedHex(const Json& value, std::array<std::uint8_t, N>& out) {
  if (!value.is_string()) return false;
  const std::string& text = value.get_ref<const std::string&>();
  if (text.size() != 2 * N) return false;
  const std::optional<std::vector<std::uint8_t>> bytes = HexDecode(text);
  if (!bytes || bytes->size() != N) return false;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return true;
}

Result<Signal> SignalFromJson(const Json& value) {
  if (!value.is_object()) return Corrupt("a signal must be a JSON object");
  const auto type_it = value.find("type");
  if (type_it == value.end() || !type_it->is_string()) return Corrupt("signal has no \"type\"");
  const std::optional<SignalType> type = ParseSignalType(type_it->get<std::string>());
  if (!type) return Corrupt("unknown signal type \"" + type_it->get<std::string>() + "\"");
  Signal signal;
  signal.type = *type;
  if (const auto label = value.find("label"); label != value.end()) {
    if (!label->is_string()) return Corrupt("\"label\" must be a string");
    signal.label = label->get<std::string>();
  }
  const auto hash_it = value.find("hash");
  switch (*type) {
    case SignalType::kPdq: {
      if (hash_it == value.end() || !hash_it->is_string()) return Corrupt("pdq signal needs \"hash\" (64 hex digits)");
      const std::optional<hash::PdqHash> pdq = hash::PdqHash::FromHex(hash_it->get<std::string>());
      if (!pdq) return Corrupt("pdq \"hash\" must be 64 hex digits");
      signal.pdq = *pdq;
      const auto quality = value.find("quality");
      if (quality == value.end() || !quality->is_number_integer())
        return Corrupt("pdq signal needs \"quality\" 0..100");
      const auto q = quality->get<std::int64_t>();
      if (q < 0 || q > 100) return Corrupt("pdq \"quality\" must be 0..100");
      signal.quality = static_cast<int>(q);
      break;
    }
    case SignalType::kMd5:
      if (hash_it == value.end() || !ParseFixedHex(*hash_it, signal.md5)) {
        return Corrupt("md5 signal needs \"hash\" (32 hex digits)");
      }
      break;
    case SignalType::kSha256:
      if (hash_it == value.end() || !ParseFixedHex(*hash_it, signal.sha256)) {
        return Corrupt("sha256 signal needs \"hash\" (64 hex digits)");
      }
      break;
    case SignalType::kVpdq: {
      const auto frames = value.find("frames");
      if (frames == value.end() || !frames->is_array()) return Corrupt("vpdq signal needs a \"frames\" array");
      Result<std::vector<hash::VpdqFrame>> parsed = hash::ParseVpdqJson(frames->dump());
      if (!parsed.ok()) return Corrupt("vpdq \"frames\": " + parsed.status().message());
      if (parsed->empty()) return Corrupt("vpdq signal has no frames");
      signal.frames = std::move(*parsed);
      break;
    }
    case SignalType::kFace: {
      const auto descriptor = value.find("descriptor");
      if (descriptor == value.end() || !descriptor->is_array() ||
          descriptor->size() != static_cast<std::size_t>(face::kDescriptorSize)) {
        return Corrupt("face signal needs \"descriptor\": an array of 128 numbers");
      }
      for (std::size_t i = 0; i < descriptor->size(); ++i) {
        const Json& x = (*descriptor)[i];
        if (!x.is_number()) return Corrupt("face \"descriptor\" must hold numbers only");
        const double v = x.get<double>();
        if (!std::isfinite(v)) return Corrupt("face \"descriptor\" must hold finite numbers");
        signal.descriptor[i] = static_cast<float>(v);
      }
      break;
    }
  }
  return signal;
}

OrderedJson SignalToJson(const Signal& signal) {
  OrderedJson value;
  value["type"] = std::string(SignalTypeName(signal.type));
  switch (signal.type) {
    case SignalType::kPdq:
      value["hash"] = signal.pdq.ToHex();
      value["quality"] = signal.quality;
      break;
    case SignalType::kMd5:
      value["hash"] = HexEncode(signal.md5);
      break;
    case SignalType::kSha256:
      value["hash"] = HexEncode(signal.sha256);
      break;
    case SignalType::kVpdq:
      value["frames"] = OrderedJson::parse(hash::FormatVpdqJson(signal.frames));
      break;
    case SignalType::kFace: {
      OrderedJson descriptor = OrderedJson::array();
      for (const float v : signal.descriptor) descriptor.push_back(v);
      value["descriptor"] = std::move(descriptor);
      break;
    }
  }
  if (!signal.label.empty()) value["label"] = signal.label;
  return value;
}

std::string Dump(const OrderedJson& value) { return value.dump(-1, ' ', false, OrderedJson::error_handler_t::replace); }

Result<hash::FileDigests> DigestFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  hash::StreamingDigests digests;
  std::vector<std::uint8_t> chunk(kDigestChunk);
  while (true) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return IoError("read failed on " + path);
    }
    if (n == 0) break;
    digests.Update(std::span(chunk).first(static_cast<std::size_t>(n)));
  }
  ::close(fd);
  return digests.Finish();
}

// The first bytes of a file, to recognise its content.
Result<std::vector<std::uint8_t>> ReadPrefix(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound("no such file");
    return IoError(std::string("cannot open: ") + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return IoError("not a regular file");
  }
  std::vector<std::uint8_t> prefix(max_bytes);
  std::size_t done = 0;
  while (done < prefix.size()) {
    const ssize_t n = ::read(fd, prefix.data() + done, prefix.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  prefix.resize(done);
  return prefix;
}

Signal DigestSignal(SignalType type, const hash::FileDigests& digests, const std::string& label) {
  Signal signal;
  signal.type = type;
  signal.md5 = digests.md5;
  signal.sha256 = digests.sha256;
  signal.label = label;
  return signal;
}

Status MakeImageSignals(const std::string& path, const MakeOptions& options, face::FaceAnalyzer* analyzer,
                        const std::string& label, FileSignals& out) {
  Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(path, options.max_image_bytes);
  if (!bytes.ok()) return bytes.status();
  if (bytes->empty()) return Corrupt("empty file (0 bytes)");
  const hash::FileDigests digests = hash::ComputeDigests(*bytes);
  Result<media::Image> image = media::DecodeImage(*bytes, options.decode);
  if (!image.ok()) return image.status();
  std::vector<std::uint8_t>().swap(*bytes);
  const hash::PdqResult pdq = hash::PdqHashPixels({image->pixels.data(), image->width, image->height, image->channels,
                                                   static_cast<std::size_t>(image->width) * image->channels});
  Signal pdq_signal;
  pdq_signal.type = SignalType::kPdq;
  pdq_signal.pdq = pdq.hash;
  pdq_signal.quality = pdq.quality;
  pdq_signal.label = label;
  out.signals.push_back(pdq_signal);
  if (pdq.quality < 50) {
    out.notes.push_back("PDQ quality " + std::to_string(pdq.quality) +
                        " is under 50: matchers ignore this hash (too little detail); the digests still count");
  }
  out.signals.push_back(DigestSignal(SignalType::kMd5, digests, label));
  out.signals.push_back(DigestSignal(SignalType::kSha256, digests, label));
  if (analyzer != nullptr) {
    Result<face::FaceResult> faces = analyzer->Analyze(*image, options.detect);
    if (!faces.ok()) return faces.status();
    int k = 0;
    for (const face::Face& f : faces->faces) {
      Signal face_signal;
      face_signal.type = SignalType::kFace;
      face_signal.descriptor = f.descriptor;
      face_signal.label = faces->faces.size() == 1 ? label + " face" : label + " face " + std::to_string(++k);
      out.signals.push_back(face_signal);
    }
    out.faces = static_cast<int>(faces->faces.size());
    if (faces->faces.empty()) out.notes.push_back("no face found");
  }
  return Status::Ok();
}

Status MakeVideoSignals(const std::string& path, const MakeOptions& options, const std::string& label,
                        FileSignals& out) {
  Result<VideoHashResult> video = HashVideoFile(path, options.video, options.vpdq_prune);
  if (!video.ok()) return video.status();
  if (video->stats.truncated) {
    out.notes.push_back("decoding stopped at the " + video->stats.truncated_reason + "; the hash covers the first " +
                        std::to_string(video->stats.frames_decoded) + " frames");
  }
  Signal vpdq;
  vpdq.type = SignalType::kVpdq;
  vpdq.frames = std::move(video->frames);
  vpdq.label = label;
  out.signals.push_back(std::move(vpdq));
  out.signals.push_back(DigestSignal(SignalType::kMd5, video->digests, label));
  out.signals.push_back(DigestSignal(SignalType::kSha256, video->digests, label));
  return Status::Ok();
}

}  // namespace

std::string_view SignalTypeName(SignalType type) {
  switch (type) {
    case SignalType::kPdq:
      return "pdq";
    case SignalType::kMd5:
      return "md5";
    case SignalType::kSha256:
      return "sha256";
    case SignalType::kVpdq:
      return "vpdq";
    case SignalType::kFace:
      return "face";
  }
  return "unknown";
}

std::optional<SignalType> ParseSignalType(std::string_view name) {
  for (const SignalType t :
       {SignalType::kPdq, SignalType::kMd5, SignalType::kSha256, SignalType::kVpdq, SignalType::kFace}) {
    if (SignalTypeName(t) == name) return t;
  }
  return std::nullopt;
}

Result<Signal> ParseSignalJson(std::string_view json) {
  Json value = Json::parse(json, nullptr, false);
  if (value.is_discarded()) return Corrupt("signal is not valid JSON");
  return SignalFromJson(value);
}

std::string FormatSignalJson(const Signal& signal) { return Dump(SignalToJson(signal)); }

Result<SignalSet> ParseSignalSet(std::string_view json) {
  Json value = Json::parse(json, nullptr, false);
  if (value.is_discarded()) return Corrupt("not valid JSON");
  if (!value.is_object()) return Corrupt("a signal set must be a JSON object");
  const auto format = value.find("format");
  if (format == value.end() || !format->is_string() || format->get<std::string>() != kSignalSetFormat) {
    return Corrupt("not a signal set (\"format\" must be \"takeback-signals\")");
  }
  const auto version = value.find("version");
  if (version == value.end() || !version->is_number_integer()) return Corrupt("signal set has no \"version\"");
  if (version->get<std::int64_t>() != kSignalSetVersion) {
    return Unsupported("signal set version " + std::to_string(version->get<std::int64_t>()) +
                       " (this build reads version 1)");
  }
  SignalSet set;
  auto optional_string = [&](const char* key, std::string& out) -> Status {
    const auto it = value.find(key);
    if (it == value.end() || it->is_null()) return Status::Ok();
    if (!it->is_string()) return Corrupt(std::string("\"") + key + "\" must be a string");
    out = it->get<std::string>();
    return Status::Ok();
  };
  TAKEBACK_RETURN_IF_ERROR(optional_string("case_ref", set.case_ref));
  TAKEBACK_RETURN_IF_ERROR(optional_string("created", set.created));
  TAKEBACK_RETURN_IF_ERROR(optional_string("tool", set.tool));
  if (const auto terms = value.find("watch_terms"); terms != value.end() && !terms->is_null()) {
    if (!terms->is_array()) return Corrupt("\"watch_terms\" must be an array of strings");
    for (const Json& term : *terms) {
      if (!term.is_string()) return Corrupt("\"watch_terms\" must be an array of strings");
      set.watch_terms.push_back(term.get<std::string>());
    }
  }
  const auto list = value.find("signals");
  if (list == value.end() || !list->is_array()) return Corrupt("signal set has no \"signals\" array");
  set.signals.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    Result<Signal> signal = SignalFromJson((*list)[i]);
    if (!signal.ok()) return Corrupt("signal " + std::to_string(i) + ": " + signal.status().message());
    set.signals.push_back(std::move(*signal));
  }
  return set;
}

std::string FormatSignalSet(const SignalSet& set) {
  OrderedJson head;
  head["format"] = std::string(kSignalSetFormat);
  head["version"] = kSignalSetVersion;
  if (!set.case_ref.empty()) head["case_ref"] = set.case_ref;
  head["watch_terms"] = set.watch_terms;
  head["created"] = set.created;
  head["tool"] = set.tool;
  // One signal per line: diffable, and a reader can see what is inside.
  std::string text = Dump(head);
  text.pop_back();
  text += ",\n\"signals\":[";
  for (std::size_t i = 0; i < set.signals.size(); ++i) {
    text += i == 0 ? "\n " : ",\n ";
    text += FormatSignalJson(set.signals[i]);
  }
  text += "\n]}\n";
  return text;
}

Result<SignalSet> ReadSignalSet(const std::string& path) {
  Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(path, kMaxSignalSetBytes);
  if (!bytes.ok()) return Status(bytes.status().code(), path + ": " + bytes.status().message());
  Result<SignalSet> set = ParseSignalSet(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  if (!set.ok()) return Status(set.status().code(), path + ": " + set.status().message());
  return set;
}

Status WriteSignalSet(const std::string& path, const SignalSet& set) {
  const std::string text = FormatSignalSet(set);
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError("cannot write " + tmp + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return IoError("cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

std::string NowRfc3339() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  std::array<char, 32> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(buf.data(), n);
}

Result<VideoHashResult> HashVideoFile(const std::string& path, const media::VideoOptions& video, int prune) {
  Result<std::unique_ptr<media::VideoReader>> reader = media::VideoReader::OpenFile(path, video);
  if (!reader.ok()) return reader.status();
  VideoHashResult out;
  out.info = (*reader)->info();
  hash::VpdqPruner pruner(prune);
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
  Result<hash::FileDigests> digests = DigestFile(path);
  if (!digests.ok()) return digests.status();
  out.digests = *digests;
  return out;
}

Result<std::vector<FileSignals>> MakeSignals(std::span<const std::string> files, const MakeOptions& options) {
  std::unique_ptr<face::FaceAnalyzer> analyzer;
  if (options.faces) {
    Result<std::unique_ptr<face::FaceAnalyzer>> opened = face::FaceAnalyzer::Open(options.models);
    if (!opened.ok()) return opened.status();
    analyzer = std::move(*opened);
  }
  std::vector<FileSignals> results;
  int photos = 0;
  int videos = 0;
  for (const std::string& path : files) {
    FileSignals out;
    out.path = path;
    try {
      Result<std::vector<std::uint8_t>> prefix = ReadPrefix(path, kSniffBytes);
      if (!prefix.ok()) {
        out.status = prefix.status();
      } else if (prefix->empty()) {
        out.status = Corrupt("empty file (0 bytes)");
      } else {
        const media::VideoFormat vf = media::SniffVideoFormat(*prefix);
        out.video = vf != media::VideoFormat::kUnknown && vf != media::VideoFormat::kGif;
        out.status = out.video
                         ? MakeVideoSignals(path, options, "video " + std::to_string(++videos), out)
                         : MakeImageSignals(path, options, analyzer.get(), "photo " + std::to_string(++photos), out);
      }
    } catch (const std::bad_alloc&) {
      out.status = TooLarge("out of memory while decoding");
    } catch (const std::exception& e) {
      out.status = Internal(std::string("unexpected error: ") + e.what());
    }
    if (!out.status.ok()) out.signals.clear();
    results.push_back(std::move(out));
  }
  return results;
}

}  // namespace takeback::signals
