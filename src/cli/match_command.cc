#include "cli/match_command.h"

#include <cstdlib>
#include <optional>
#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/inputs.h"
#include "common/file.h"
#include "common/hex.h"
#include "hash/digest.h"
#include "hash/pdq.h"
#include "hash/vpdq.h"
#include "media/image.h"
#include "media/video.h"
#include "server/http.h"
#include "signals/signals.h"

namespace takeback::cli {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kHelp = R"(Usage: takeback match --server URL [OPTION]... FILE|DIR...

Check images and videos against the hash banks and victims' cases on a
Takeback server, as a platform does with uploads. Files are hashed on this
machine; only hashes are sent (POST /v1/match):
  image   PDQ with its 8 rotations/flips (finds rotated and mirrored copies),
          MD5 and SHA-256 (exact copies)
  video   vPDQ sampled at --fps frames per second, MD5 and SHA-256
Files are recognised by content. Requests go in batches of up to 1,000 hashes.

Options:
      --server URL    the server, e.g. http://127.0.0.1:8080 (required)
      --key KEY       API key with the platform, investigator, caseworker or
                      admin role (default: $TAKEBACK_API_KEY; prefer the
                      variable: command lines are visible to other users)
      --fps F         video query sampling in frames per second (default 1)
      --json          one JSON object per file: {"path", "matches", "error"}
  -r, --recursive     match every file below each DIR
  -h, --help          show this help

Output: one line per file, "PATH: no match", or "PATH: MATCH" followed by
one line per match: type, signal id, source (bank or case id), distance,
the dihedral variant that matched (pdq), the shares (vpdq), and the match
id to quote in feedback (POST /v1/feedback). A face match always says
"review required".

Exit status: 0 every file was checked (matched or not), 1 some files could
not be hashed or the server refused, 2 bad command line.

Example:
  TAKEBACK_API_KEY=tbk_... takeback match --server http://127.0.0.1:8080 upload1.jpg clip.mp4
)";

constexpr OptionSpec kSpecs[] = {
    {"server", '\0', true}, {"key", '\0', true},       {"fps", '\0', true},
    {"json", '\0', false},  {"recursive", 'r', false}, {"help", 'h', false},
};

constexpr std::uint64_t kMaxImageBytes = std::uint64_t{256} << 20;
constexpr std::size_t kBatch = 1000;

struct FileQueries {
  std::string path;
  std::string error;
  std::vector<Json> queries;
  std::vector<Json> matches;
};

Status HashFile(const std::string& path, double fps, FileQueries* out) {
  Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(path, kMaxImageBytes);
  if (!bytes.ok()) return bytes.status();
  if (media::SniffVideoFormat(*bytes) != media::VideoFormat::kUnknown) {
    media::VideoOptions video;
    video.sample_fps = fps;
    std::vector<std::uint8_t>().swap(*bytes);
    Result<signals::VideoHashResult> v = signals::HashVideoFile(path, video, -1);
    if (!v.ok()) return v.status();
    out->queries.push_back(Json::parse(R"({"type":"vpdq"})"));
    out->queries.back()["frames"] = Json::parse(hash::FormatVpdqJson(v->frames), nullptr, false);
    out->queries.push_back({{"type", "md5"}, {"hash", HexEncode(v->digests.md5)}});
    out->queries.push_back({{"type", "sha256"}, {"hash", HexEncode(v->digests.sha256)}});
    return Status::Ok();
  }
  const hash::FileDigests digests = hash::ComputeDigests(*bytes);
  out->queries.push_back({{"type", "md5"}, {"hash", HexEncode(digests.md5)}});
  out->queries.push_back({{"type", "sha256"}, {"hash", HexEncode(digests.sha256)}});
  Result<media::Image> image = media::DecodeImage(*bytes, media::DecodeOptions{});
  if (!image.ok()) return image.status();
  const hash::PdqDihedralResult pdq =
      hash::PdqDihedralHashPixels({image->pixels.data(), image->width, image->height, image->channels,
                                   static_cast<std::size_t>(image->width) * static_cast<std::size_t>(image->channels)});
  Json variants = Json::array();
  for (const hash::PdqHash& h : pdq.hashes) variants.push_back(h.ToHex());
  out->queries.insert(
      out->queries.begin(),
      Json{{"type", "pdq"}, {"hash", pdq.hashes[0].ToHex()}, {"quality", pdq.quality}, {"dihedral", variants}});
  return Status::Ok();
}

std::string ErrorMessage(const server::HttpClientResponse& r) {
  const Json j = Json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].value("message", "") != "") {
    return j["error"]["message"].get<std::string>() + " (HTTP " + std::to_string(r.status) + ")";
  }
  return "HTTP " + std::to_string(r.status);
}

std::string DescribeMatch(const Json& m) {
  std::string s = "  " + m.value("type", "?") + " signal " + std::to_string(m.value("signal_id", 0));
  if (m.contains("source") && m["source"].is_object()) {
    s += " (" + m["source"].value("kind", "?") + " " + std::to_string(m["source"].value("id", 0)) + ")";
  }
  if (m.value("type", "") == "vpdq") {
    s += " query " + std::to_string(static_cast<int>(m.value("query_percent", 0.0))) + "%, registered " +
         std::to_string(static_cast<int>(m.value("target_percent", 0.0))) + "%";
  } else if (m.value("type", "") == "face") {
    s += " distance " + std::to_string(m.value("distance", 0.0));
  } else {
    s += " distance " + std::to_string(static_cast<int>(m.value("distance", 0.0)));
  }
  if (m.contains("variant") && m["variant"] != "orig") s += " variant " + m.value("variant", "");
  s += " match " + std::to_string(m.value("match_id", 0));
  if (m.value("review_required", false)) s += " review required";
  return s;
}

}  // namespace

std::string_view MatchCommandHelp() { return kHelp; }

int RunMatchCommand(std::span<const std::string> args, const CommandIo& io) {
  Result<ParsedArgs> parsed = ParseArgs(args, kSpecs);
  auto usage = [&](const std::string& message) {
    io.err << "takeback match: " << message << "\nTry 'takeback match --help' for more information.\n";
    return kExitUsage;
  };
  if (!parsed.ok()) return usage(parsed.status().message());
  if (parsed->Has("help")) {
    io.out << kHelp;
    return kExitOk;
  }
  const std::string server = parsed->Value("server").value_or("");
  if (server.empty()) return usage("--server URL is required");
  std::string key = parsed->Value("key").value_or("");
  if (key.empty()) {
    if (const char* env = std::getenv("TAKEBACK_API_KEY"); env != nullptr) key = env;
  }
  if (key.empty()) return usage("an API key is required: --key KEY or $TAKEBACK_API_KEY");
  double fps = 1;
  if (auto f = parsed->Value("fps")) {
    char* end = nullptr;
    fps = std::strtod(f->c_str(), &end);
    if (end == f->c_str() || *end != '\0' || !(fps > 0) || fps > 1000)
      return usage("--fps wants a number in (0, 1000]");
  }
  if (parsed->positionals.empty()) return usage("no files given");
  const bool json = parsed->Has("json");

  std::vector<FileQueries> files;
  int exit_code = kExitOk;
  for (const InputItem& item : CollectInputs(parsed->positionals, parsed->Has("recursive"), io.in)) {
    FileQueries f;
    f.path = item.path;
    Status st = item.error.ok() ? HashFile(item.path, fps, &f) : item.error;
    if (!st.ok()) {
      f.error = st.ToString();
      f.queries.clear();
      exit_code = kExitSomeFailed;
    }
    files.push_back(std::move(f));
  }

  // Batches of up to kBatch queries; (file, query) of each batch slot.
  std::vector<std::pair<std::size_t, std::size_t>> slots;
  Json batch = Json::array();
  auto flush = [&]() -> bool {
    if (batch.empty()) return true;
    Json body = {{"signals", batch}};
    Result<server::HttpClientResponse> r =
        server::HttpCall(server, "POST", "/v1/match", {{"Authorization", "Bearer " + key}}, body.dump());
    std::string error;
    Json reply;
    if (!r.ok()) {
      error = r.status().message();
    } else if (r->status != 200) {
      error = "the server refused: " + ErrorMessage(*r);
    } else {
      reply = Json::parse(r->body, nullptr, false);
      if (!reply.is_object() || !reply.contains("results") || !reply["results"].is_array() ||
          reply["results"].size() != slots.size()) {
        error = "the server's reply is not a match result";
      }
    }
    if (!error.empty()) {
      for (auto [f, q] : slots) files[f].error = error;
      io.err << "takeback match: " << error << "\n";
      exit_code = kExitSomeFailed;
    } else {
      for (std::size_t i = 0; i < slots.size(); ++i) {
        const Json& m = reply["results"][i]["matches"];
        if (!m.is_array()) continue;
        for (const Json& one : m) files[slots[i].first].matches.push_back(one);
      }
    }
    batch = Json::array();
    slots.clear();
    return error.empty();
  };
  for (std::size_t f = 0; f < files.size(); ++f) {
    for (std::size_t q = 0; q < files[f].queries.size(); ++q) {
      batch.push_back(files[f].queries[q]);
      slots.emplace_back(f, q);
      if (batch.size() == kBatch && !flush()) break;
    }
  }
  flush();

  for (const FileQueries& f : files) {
    if (json) {
      Json line = {{"path", f.path}, {"matches", f.matches}};
      if (!f.error.empty()) line["error"] = f.error;
      io.out << line.dump() << "\n";
      continue;
    }
    if (!f.error.empty()) {
      io.err << "takeback match: " << f.path << ": " << f.error << "\n";
      continue;
    }
    if (f.matches.empty()) {
      io.out << f.path << ": no match\n";
      continue;
    }
    io.out << f.path << ": MATCH\n";
    for (const Json& m : f.matches) io.out << DescribeMatch(m) << "\n";
  }
  return exit_code;
}

}  // namespace takeback::cli
