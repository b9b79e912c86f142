#include "hash/vpdq.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace takeback::hash {
namespace {

// The reference's luma weights (pdq/cpp fillFloatLumaFromRGB).
constexpr float kLumaR = 0.299F;
constexpr float kLumaG = 0.587F;
constexpr float kLumaB = 0.114F;
constexpr int kMinHashableSide = 5;

struct HashKey {
  std::size_t operator()(const PdqHash& h) const {
    return static_cast<std::size_t>(h.words[0] ^ (h.words[1] * 0x9E3779B97F4A7C15ULL) ^ h.words[2] ^ h.words[3]);
  }
};

// Hashes of quality >= min_quality, each distinct hash once, in first-seen order.
std::vector<PdqHash> UniqueGoodHashes(std::span<const VpdqFrame> frames, int min_quality) {
  std::vector<PdqHash> out;
  std::unordered_set<PdqHash, HashKey> seen;
  for (const VpdqFrame& f : frames) {
    if (f.quality < min_quality) continue;
    if (seen.insert(f.hash).second) out.push_back(f.hash);
  }
  return out;
}

std::size_t CountFound(const std::vector<PdqHash>& a, const std::vector<PdqHash>& b, int max_distance) {
  std::size_t found = 0;
  for (const PdqHash& x : a) {
    for (const PdqHash& y : b) {
      if (HammingDistance(x, y) <= max_distance) {
        ++found;
        break;
      }
    }
  }
  return found;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <typename T>
bool ParseNumber(std::string_view s, T& out) {
  s = Trim(s);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Result<VpdqFrame> FrameFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Corrupt("vpdq frame is not an object");
  const auto frame = j.find("frame");
  const auto quality = j.find("quality");
  const auto pdq = j.find("pdq");
  const auto ts = j.find("timestamp");
  if (frame == j.end() || !frame->is_number_integer() || quality == j.end() || !quality->is_number_integer() ||
      pdq == j.end() || !pdq->is_string() || ts == j.end() || !ts->is_number()) {
    return Corrupt("vpdq frame needs integer frame and quality, string pdq, number timestamp");
  }
  const std::optional<PdqHash> hash = PdqHash::FromHex(pdq->get<std::string>());
  const auto q = quality->get<std::int64_t>();
  if (!hash || q < 0 || q > 100) return Corrupt("vpdq frame has a bad pdq or quality");
  return VpdqFrame{frame->get<std::int64_t>(), static_cast<int>(q), *hash, ts->get<double>()};
}

// Seconds with three decimals, as the reference prints them ("0.033"):
// correctly rounded, like printf("%.3f").
std::string Seconds(double seconds) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), seconds, std::chars_format::fixed, 3);
  return ec == std::errc() ? std::string(buf, end) : std::string("0.000");
}

}  // namespace

PdqResult VpdqHashFrame(const PixelView& view) {
  if (view.width < kMinHashableSide || view.height < kMinHashableSide) return {};
  std::vector<float> luma(static_cast<std::size_t>(view.width) * static_cast<std::size_t>(view.height));
  float* out = luma.data();
  for (int y = 0; y < view.height; ++y) {
    const std::uint8_t* row = view.data + static_cast<std::size_t>(y) * view.stride;
    if (view.channels == 3) {
      for (int x = 0; x < view.width; ++x) {
        const std::uint8_t* p = row + 3 * static_cast<std::size_t>(x);
        out[x] =
            kLumaR * static_cast<float>(p[0]) + kLumaG * static_cast<float>(p[1]) + kLumaB * static_cast<float>(p[2]);
      }
    } else {
      for (int x = 0; x < view.width; ++x) out[x] = static_cast<float>(row[x]);
    }
    out += view.width;
  }
  return PdqHashLuma(luma.data(), view.width, view.height);
}

bool VpdqPruner::Keep(const VpdqFrame& frame) {
  if (max_distance_ < 0) return true;
  if (last_ && HammingDistance(*last_, frame.hash) <= max_distance_) return false;
  last_ = frame.hash;
  return true;
}

std::string FormatVpdqLine(const VpdqFrame& frame) {
  return std::to_string(frame.frame_number) + "," + std::to_string(frame.quality) + "," + frame.hash.ToHex() + "," +
         Seconds(frame.timestamp);
}

std::string FormatVpdqText(std::span<const VpdqFrame> frames) {
  std::string out;
  out.reserve(frames.size() * 80);
  for (const VpdqFrame& f : frames) out += FormatVpdqLine(f) + "\n";
  return out;
}

Result<std::vector<VpdqFrame>> ParseVpdqText(std::string_view text) {
  std::vector<VpdqFrame> frames;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = Trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    std::string_view fields[4];
    std::string_view rest = line;
    int n = 0;
    for (; n < 4 && !rest.empty(); ++n) {
      const std::size_t comma = rest.find(',');
      fields[n] = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (comma == std::string_view::npos) {
        ++n;
        break;
      }
    }
    VpdqFrame f;
    const std::optional<PdqHash> hash = n == 4 && rest.empty() ? PdqHash::FromHex(Trim(fields[2])) : std::nullopt;
    if (!hash || !ParseNumber(fields[0], f.frame_number) || !ParseNumber(fields[1], f.quality) ||
        !ParseNumber(fields[3], f.timestamp) || f.quality < 0 || f.quality > 100 || f.frame_number < 0 ||
        !std::isfinite(f.timestamp)) {
      return Corrupt("vpdq line " + std::to_string(line_number) + " is not FRAME,QUALITY,PDQHEX,TIMESTAMP");
    }
    f.hash = *hash;
    frames.push_back(f);
  }
  return frames;
}

std::string FormatVpdqJson(std::span<const VpdqFrame> frames) {
  std::string out = "[";
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const VpdqFrame& f = frames[i];
    if (i > 0) out += ",";
    out += R"({"frame":)" + std::to_string(f.frame_number) + R"(,"quality":)" + std::to_string(f.quality) +
           R"(,"pdq":")" + f.hash.ToHex() + R"(","timestamp":)" + Seconds(f.timestamp) + "}";
  }
  out += "]";
  return out;
}

Result<std::vector<VpdqFrame>> ParseVpdqJson(std::string_view json) {
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Corrupt("not valid JSON");
  const nlohmann::json* array = &doc;
  if (doc.is_object()) {
    const auto it = doc.find("vpdq");
    if (it == doc.end()) return Corrupt("JSON object has no \"vpdq\" array");
    array = &*it;
  }
  if (!array->is_array()) return Corrupt("\"vpdq\" is not an array");
  std::vector<VpdqFrame> frames;
  frames.reserve(array->size());
  for (const nlohmann::json& j : *array) {
    Result<VpdqFrame> f = FrameFromJson(j);
    if (!f.ok()) return f.status();
    frames.push_back(*f);
  }
  return frames;
}

VpdqMatchResult MatchVpdq(std::span<const VpdqFrame> query, std::span<const VpdqFrame> target,
                          const VpdqMatchOptions& options) {
  VpdqMatchResult r;
  const std::vector<PdqHash> q = UniqueGoodHashes(query, options.min_quality);
  const std::vector<PdqHash> t = UniqueGoodHashes(target, options.min_quality);
  r.query_frames = q.size();
  r.target_frames = t.size();
  if (q.empty() || t.empty()) return r;
  r.query_matched = CountFound(q, t, options.max_distance);
  r.target_matched = CountFound(t, q, options.max_distance);
  r.query_percent = 100.0 * static_cast<double>(r.query_matched) / static_cast<double>(q.size());
  r.target_percent = 100.0 * static_cast<double>(r.target_matched) / static_cast<double>(t.size());
  r.match = r.query_percent >= options.query_threshold || r.target_percent >= options.target_threshold;
  return r;
}

struct StreamingDigests::State {
  EVP_MD_CTX* md5 = EVP_MD_CTX_new();
  EVP_MD_CTX* sha256 = EVP_MD_CTX_new();
  State() {
    EVP_DigestInit_ex(md5, EVP_md5(), nullptr);
    EVP_DigestInit_ex(sha256, EVP_sha256(), nullptr);
  }
  ~State() {
    EVP_MD_CTX_free(md5);
    EVP_MD_CTX_free(sha256);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

StreamingDigests::StreamingDigests() : state_(std::make_unique<State>()) {}
StreamingDigests::~StreamingDigests() = default;

void StreamingDigests::Update(std::span<const std::uint8_t> bytes) {
  EVP_DigestUpdate(state_->md5, bytes.data(), bytes.size());
  EVP_DigestUpdate(state_->sha256, bytes.data(), bytes.size());
}

FileDigests StreamingDigests::Finish() {
  FileDigests d;
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->md5, d.md5.data(), &len);
  EVP_DigestFinal_ex(state_->sha256, d.sha256.data(), &len);
  return d;
}

}  // namespace takeback::hash
