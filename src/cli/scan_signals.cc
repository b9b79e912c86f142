#include "cli/scan_signals.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cases/match_index.h"
#include "cases/scan_read.h"
#include "hash/vpdq.h"
#include "server/http.h"
#include "signals/signals.h"
#include "store/store.h"

namespace takeback::cli {
namespace {

using Json = nlohmann::json;

constexpr int kPageSize = 1000;
// A server that keeps answering "more" must not keep the scan reading forever.
constexpr std::size_t kMaxSignalsPerSource = 10'000'000;

std::string UrlEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Describe(const std::string& kind, const std::string& name) { return kind + " " + name; }

// The server's {"error":{"message":...}}, or nothing.
std::string ServerMessage(const std::string& body) {
  const Json j = Json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
      j["error"]["message"].is_string()) {
    return j["error"]["message"].get<std::string>();
  }
  return "";
}

// One line saying what went wrong and what to do.
Status HttpError(const std::string& server, const std::string& what, const server::HttpClientResponse& r) {
  const std::string said = ServerMessage(r.body);
  const std::string detail = " (HTTP " + std::to_string(r.status) + (said.empty() ? "" : ": " + said) + ")";
  switch (r.status) {
    case 401:
      return InvalidArgument("the server " + server + " refused the API key" + detail +
                             "; check --key or $TAKEBACK_API_KEY");
    case 403:
      return InvalidArgument("this API key may not read signals for a scan" + detail +
                             "; ask the server's admin for an investigator key");
    case 404:
      // An older server answers "no endpoint ..." for the scan endpoints.
      if (!said.empty() && said.rfind("no endpoint", 0) != 0 && r.body.find("\"not_found\"") != std::string::npos) {
        return NotFound(said + " on " + server + "; check the case number or bank name");
      }
      return Corrupt(server + " has no scan endpoint" + detail +
                     "; is it a Takeback server of this version (takeback serve)?");
    default:
      if (r.status >= 500)
        return IoError("the server " + server + " failed while " + what + detail + "; try again later");
      return Corrupt("the server " + server + " answered " + what + " unexpectedly" + detail);
  }
}

Result<Json> GetJson(const std::string& server, const std::string& key, const std::string& path,
                     const std::string& what) {
  Result<server::HttpClientResponse> r =
      server::HttpCall(server, "GET", path, {{"Authorization", "Bearer " + key}}, "");
  if (!r.ok()) {
    return IoError("cannot reach the server " + server + " (" + r.status().message() +
                   "); check --server and that `takeback serve` runs there");
  }
  if (r->status != 200) return HttpError(server, what, *r);
  Json j = Json::parse(r->body, nullptr, false);
  if (!j.is_object()) {
    return Corrupt("the reply of " + server + " to " + what +
                   " is not JSON; is --server the address of a Takeback server?");
  }
  return j;
}

Status Garbage(const std::string& server, const std::string& what, const std::string& field) {
  return Corrupt("the reply of " + server + " to " + what + " has no valid \"" + field +
                 "\"; is --server the address of a Takeback server of this version?");
}

struct SourceRef {
  std::string kind;  // "case" or "bank"
  std::int64_t id = 0;
  std::string name;
  std::string status;
  std::vector<std::string> watch_terms;
  std::optional<scan::MatchOptions> rule;  // banks: their own match rule
};

// A bank's rule as the scan applies it (as the server's /v1/match does:
// frame distance and the rest stay the scan's defaults).
scan::MatchOptions BankRule(int pdq_max_distance, int pdq_min_quality, double vpdq_threshold,
                            double face_max_distance) {
  scan::MatchOptions rule;
  rule.pdq_radius = pdq_max_distance;
  rule.pdq_min_quality = pdq_min_quality;
  rule.vpdq.query_threshold = vpdq_threshold;
  rule.vpdq.target_threshold = vpdq_threshold;
  rule.face_threshold = static_cast<float>(face_max_distance);
  return rule;
}

scan::CaseSignals NewSet(const std::string& origin, const SourceRef& s) {
  scan::CaseSignals set;
  set.file = origin;
  set.kind = s.kind;
  set.name = s.name;
  set.set.case_ref = s.name;
  set.set.watch_terms = s.watch_terms;
  set.rule = s.rule;
  return set;
}

Result<SourceRef> ParseSource(const Json& j) {
  if (!j.is_object()) return Corrupt("source");
  SourceRef s;
  if (!j.contains("kind") || !j["kind"].is_string()) return Corrupt("kind");
  s.kind = j["kind"].get<std::string>();
  if (s.kind != "case" && s.kind != "bank") return Corrupt("kind");
  if (!j.contains("id") || !j["id"].is_number_integer()) return Corrupt("id");
  s.id = j["id"].get<std::int64_t>();
  if (!j.contains("name") || !j["name"].is_string()) return Corrupt("name");
  s.name = j["name"].get<std::string>();
  s.status = j.value("status", "");
  if (j.contains("watch_terms")) {
    if (!j["watch_terms"].is_array()) return Corrupt("watch_terms");
    for (const Json& t : j["watch_terms"]) {
      if (!t.is_string()) return Corrupt("watch_terms");
      s.watch_terms.push_back(t.get<std::string>());
    }
  }
  if (s.kind == "bank") {
    if (!j.contains("rules") || !j["rules"].is_object()) return Corrupt("rules");
    const Json& r = j["rules"];
    for (const char* field : {"pdq_max_distance", "pdq_min_quality"}) {
      if (!r.contains(field) || !r[field].is_number_integer() || r[field].get<std::int64_t>() < 0 ||
          r[field].get<std::int64_t>() > 256) {
        return Corrupt(std::string("rules.") + field);
      }
    }
    for (const char* field : {"vpdq_threshold", "face_max_distance"}) {
      if (!r.contains(field) || !r[field].is_number() || !(r[field].get<double>() >= 0) ||
          r[field].get<double>() > 1000) {
        return Corrupt(std::string("rules.") + field);
      }
    }
    s.rule = BankRule(r["pdq_max_distance"].get<int>(), r["pdq_min_quality"].get<int>(),
                      r["vpdq_threshold"].get<double>(), r["face_max_distance"].get<double>());
  }
  return s;
}

// A stored signal as the scan's matcher takes it; nullopt when its stored
// bytes cannot be decoded.
std::optional<signals::Signal> FromStored(const store::StoredSignal& s) {
  std::optional<signals::SignalType> type = signals::ParseSignalType(s.type);
  if (!type) return std::nullopt;
  signals::Signal out;
  out.type = *type;
  out.label = s.label;
  switch (*type) {
    case signals::SignalType::kPdq: {
      Result<hash::PdqHash> h = cases::DecodePdqValue(s.value);
      if (!h.ok()) return std::nullopt;
      out.pdq = *h;
      out.quality = s.quality;
      break;
    }
    case signals::SignalType::kMd5:
      if (s.value.size() != out.md5.size()) return std::nullopt;
      std::copy(s.value.begin(), s.value.end(), out.md5.begin());
      break;
    case signals::SignalType::kSha256:
      if (s.value.size() != out.sha256.size()) return std::nullopt;
      std::copy(s.value.begin(), s.value.end(), out.sha256.begin());
      break;
    case signals::SignalType::kVpdq: {
      Result<std::vector<hash::VpdqFrame>> frames =
          hash::ParseVpdqText(std::string_view(reinterpret_cast<const char*>(s.value.data()), s.value.size()));
      if (!frames.ok() || frames->empty()) return std::nullopt;
      out.frames = std::move(*frames);
      break;
    }
    case signals::SignalType::kFace: {
      Result<cases::FaceVector> v = cases::DecodeFaceValue(s.value);
      if (!v.ok()) return std::nullopt;
      static_assert(sizeof(face::Descriptor) == sizeof(cases::FaceVector));
      std::copy(v->begin(), v->end(), out.descriptor.begin());
      break;
    }
  }
  return out;
}

void WarnWithdrawn(const SourceRef& s, ScanSignalsRead& out) {
  if (s.kind == "case" && s.status != "open") {
    out.warnings.push_back("case " + s.name + " is " + s.status + ": its signals and watch terms are not used");
  }
}

}  // namespace

Result<ScanSignalsRead> FetchScanSignals(const std::string& server, const std::string& key,
                                         const ScanSignalSelection& selection, const SignalReadProgress& progress) {
  if (key.empty()) {
    return InvalidArgument("--server needs an API key: --key KEY or $TAKEBACK_API_KEY (an investigator's key)");
  }
  std::string query;
  for (const std::string& c : selection.cases) query += (query.empty() ? "?" : "&") + ("case=" + UrlEncode(c));
  for (const std::string& b : selection.banks) query += (query.empty() ? "?" : "&") + ("bank=" + UrlEncode(b));
  const std::string sources_what = "GET /v1/scan/sources";
  Result<Json> listed = GetJson(server, key, "/v1/scan/sources" + query, sources_what);
  if (!listed.ok()) return listed.status();
  if (!listed->contains("sources") || !(*listed)["sources"].is_array()) return Garbage(server, sources_what, "sources");
  ScanSignalsRead out;
  std::size_t total = 0;
  for (const Json& item : (*listed)["sources"]) {
    Result<SourceRef> source = ParseSource(item);
    if (!source.ok()) return Garbage(server, sources_what, "sources[]." + source.status().message());
    WarnWithdrawn(*source, out);
    scan::CaseSignals set = NewSet(server, *source);
    const std::string selector =
        source->kind == "case" ? "case=" + UrlEncode(source->name) : "bank=" + std::to_string(source->id);
    const std::string what = "GET /v1/scan/signals for " + Describe(source->kind, source->name);
    std::int64_t after = 0;
    for (;;) {
      Result<Json> page = GetJson(
          server, key,
          "/v1/scan/signals?" + selector + "&after=" + std::to_string(after) + "&limit=" + std::to_string(kPageSize),
          what);
      if (!page.ok()) return page.status();
      if (!page->contains("signals") || !(*page)["signals"].is_array()) return Garbage(server, what, "signals");
      if (!page->contains("more") || !(*page)["more"].is_boolean()) return Garbage(server, what, "more");
      if (!page->contains("next_after") || !(*page)["next_after"].is_number_integer()) {
        return Garbage(server, what, "next_after");
      }
      for (const Json& s : (*page)["signals"]) {
        if (!s.is_object() || !s.contains("id") || !s["id"].is_number_integer() || !s.contains("signal")) {
          return Garbage(server, what, "signals[]");
        }
        Result<signals::Signal> signal = signals::ParseSignalJson(s["signal"].dump());
        if (!signal.ok()) {
          out.warnings.push_back(Describe(source->kind, source->name) + ": signal " +
                                 std::to_string(s["id"].get<std::int64_t>()) +
                                 " from the server is not usable: " + signal.status().message());
          continue;
        }
        set.set.signals.push_back(std::move(*signal));
        set.signal_ids.push_back(s["id"].get<std::int64_t>());
      }
      total += (*page)["signals"].size();
      if (progress) progress(Describe(source->kind, source->name), total);
      const std::int64_t next = (*page)["next_after"].get<std::int64_t>();
      if (!(*page)["more"].get<bool>()) break;
      if (next <= after || set.set.signals.size() > kMaxSignalsPerSource) {
        std::string message = "the server " + server;
        message += " keeps paging " + what;
        message += " without progress; stopped";
        return Corrupt(message);
      }
      after = next;
    }
    out.sets.push_back(std::move(set));
  }
  return out;
}

Result<ScanSignalsRead> ReadScanSignalsFromStore(const std::string& db_path, const std::string& user,
                                                 const ScanSignalSelection& selection,
                                                 const SignalReadProgress& progress) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(db_path, ec)) {
    return NotFound("no case store at " + db_path + "; give the file `takeback serve --db` uses");
  }
  Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(db_path);
  if (!opened.ok()) return opened.status();
  store::Store& db = **opened;
  std::vector<cases::ScanSource> sources;
  if (selection.all_banks()) {
    Result<std::vector<cases::ScanSource>> banks = cases::AllScanBanks(db);
    if (!banks.ok()) return banks.status();
    sources = std::move(*banks);
  }
  for (const std::string& c : selection.cases) {
    Result<cases::ScanSource> s = cases::FindScanCase(db, c);
    if (!s.ok()) {
      if (s.status().code() == ErrorCode::kNotFound) {
        return NotFound(s.status().message() + " in " + db_path + "; check the case number");
      }
      return s.status();
    }
    sources.push_back(std::move(*s));
  }
  for (const std::string& b : selection.banks) {
    Result<cases::ScanSource> s = cases::FindScanBank(db, b);
    if (!s.ok()) {
      if (s.status().code() == ErrorCode::kNotFound) {
        return NotFound(s.status().message() + " in " + db_path + "; check the bank's name or id");
      }
      return s.status();
    }
    sources.push_back(std::move(*s));
  }
  const std::string actor = "local:" + (user.empty() ? std::string("unknown") : user);
  ScanSignalsRead out;
  std::size_t total = 0;
  for (const cases::ScanSource& source : sources) {
    SourceRef ref{source.kind, source.id, source.name, source.status, source.watch_terms, std::nullopt};
    if (source.kind == "bank") {
      ref.rule = BankRule(source.bank.pdq_max_distance, source.bank.pdq_min_quality, source.bank.vpdq_threshold,
                          source.bank.face_max_distance);
    }
    WarnWithdrawn(ref, out);
    scan::CaseSignals set = NewSet(db_path, ref);
    std::int64_t after = 0;
    for (;;) {
      Result<std::vector<store::StoredSignal>> page = cases::ReadScanSignals(db, source, after, kPageSize, actor);
      if (!page.ok()) return page.status();
      for (const store::StoredSignal& s : *page) {
        after = s.id;
        std::optional<signals::Signal> signal = FromStored(s);
        if (!signal) {
          out.warnings.push_back(Describe(source.kind, source.name) + ": stored signal " + std::to_string(s.id) + " (" +
                                 s.type + ") cannot be decoded; left out");
          continue;
        }
        set.set.signals.push_back(std::move(*signal));
        set.signal_ids.push_back(s.id);
      }
      total += page->size();
      if (progress) progress(Describe(source.kind, source.name), total);
      if (page->size() < static_cast<std::size_t>(kPageSize)) break;
    }
    out.sets.push_back(std::move(set));
  }
  return out;
}

}  // namespace takeback::cli
