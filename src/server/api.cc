#include "server/api.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <functional>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "cases/scan_read.h"
#include "common/hex.h"
#include "hash/vpdq.h"
#include "store/secrets.h"

namespace takeback::server {
namespace {

using Json = nlohmann::json;
using store::Role;

constexpr int kMaxJsonDepth = 32;
constexpr std::size_t kMaxFrames = 1 << 20;

// nlohmann's parser recurses per nesting level; refuse deep documents before
// parsing them so that "[[[[..." cannot exhaust the stack.
bool DepthWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

Result<Json> ParseJson(std::string_view body) {
  if (body.empty()) return InvalidArgument("the request needs a JSON body");
  if (!DepthWithin(body, kMaxJsonDepth)) return InvalidArgument("JSON nested deeper than 32 levels");
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) return Corrupt("the body is not valid JSON");
  return j;
}

// Field helpers: each returns an error naming the field.
Result<std::string> RequireString(const Json& obj, const char* field, std::string_view where) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_string()) {
    return InvalidArgument(std::string(where) + ": \"" + field + "\" must be a string");
  }
  return it->get<std::string>();
}

Result<std::vector<std::uint8_t>> FixedHex(const Json& obj, const char* field, std::size_t bytes,
                                           std::string_view where) {
  Result<std::string> s = RequireString(obj, field, where);
  if (!s.ok()) return s.status();
  std::optional<std::vector<std::uint8_t>> v = HexDecode(*s);
  if (!v || v->size() != bytes) {
    return InvalidArgument(std::string(where) + ": \"" + field + "\" must be " + std::to_string(bytes * 2) +
                           " hex digits");
  }
  return *v;
}

Result<hash::PdqHash> PdqHex(const Json& value, std::string_view where) {
  if (!value.is_string()) return InvalidArgument(std::string(where) + ": a pdq hash must be a string of 64 hex digits");
  std::optional<hash::PdqHash> h = hash::PdqHash::FromHex(value.get<std::string>());
  if (!h) return InvalidArgument(std::string(where) + ": a pdq hash must be 64 hex digits");
  return *h;
}

Result<int> Quality(const Json& obj, bool required, std::string_view where) {
  auto it = obj.find("quality");
  if (it == obj.end()) {
    if (required) return InvalidArgument(std::string(where) + ": pdq needs \"quality\" 0..100");
    return 100;
  }
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > 100) {
    return InvalidArgument(std::string(where) + ": \"quality\" must be an integer 0..100");
  }
  return static_cast<int>(it->get<std::int64_t>());
}

Result<std::vector<hash::VpdqFrame>> Frames(const Json& obj, std::string_view where) {
  auto it = obj.find("frames");
  if (it == obj.end() || !it->is_array() || it->empty()) {
    return InvalidArgument(std::string(where) + ": vpdq needs a non-empty \"frames\" array");
  }
  if (it->size() > kMaxFrames) return TooLarge(std::string(where) + ": more than 2^20 frames");
  std::vector<hash::VpdqFrame> frames;
  frames.reserve(it->size());
  std::size_t i = 0;
  for (const Json& f : *it) {
    const std::string at = std::string(where) + " frame " + std::to_string(i++);
    if (!f.is_object()) return InvalidArgument(at + ": must be an object");
    hash::VpdqFrame frame;
    auto pdq = f.find("pdq");
    if (pdq == f.end()) return InvalidArgument(at + ": needs \"pdq\"");
    Result<hash::PdqHash> h = PdqHex(*pdq, at);
    if (!h.ok()) return h.status();
    frame.hash = *h;
    Result<int> q = Quality(f, true, at);
    if (!q.ok()) return q.status();
    frame.quality = *q;
    if (auto n = f.find("frame"); n != f.end()) {
      if (!n->is_number_integer() || n->get<std::int64_t>() < 0)
        return InvalidArgument(at + ": \"frame\" must be >= 0");
      frame.frame_number = n->get<std::int64_t>();
    }
    if (auto t = f.find("timestamp"); t != f.end()) {
      if (!t->is_number() || !std::isfinite(t->get<double>())) return InvalidArgument(at + ": bad \"timestamp\"");
      frame.timestamp = t->get<double>();
    }
    frames.push_back(frame);
  }
  return frames;
}

Result<cases::FaceVector> Face(const Json& obj, std::string_view where) {
  auto it = obj.find("descriptor");
  if (it == obj.end() || !it->is_array() || it->size() != cases::kFaceDims) {
    return InvalidArgument(std::string(where) + ": face needs \"descriptor\": 128 numbers");
  }
  cases::FaceVector v{};
  for (std::size_t i = 0; i < cases::kFaceDims; ++i) {
    const Json& x = (*it)[i];
    if (!x.is_number() || !std::isfinite(x.get<double>())) {
      return InvalidArgument(std::string(where) + ": face \"descriptor\" must hold finite numbers");
    }
    v[i] = static_cast<float>(x.get<double>());
  }
  return v;
}

Result<std::string> SignalType(const Json& s, std::string_view where) {
  if (!s.is_object()) return InvalidArgument(std::string(where) + ": a signal must be a JSON object");
  Result<std::string> type = RequireString(s, "type", where);
  if (!type.ok()) return type.status();
  if (*type != "pdq" && *type != "md5" && *type != "sha256" && *type != "vpdq" && *type != "face") {
    return InvalidArgument(std::string(where) + ": unknown signal type \"" + *type +
                           "\" (pdq, md5, sha256, vpdq, face)");
  }
  return type;
}

Result<store::NewSignal> ParseNewSignal(const Json& s, std::string_view where) {
  Result<std::string> type = SignalType(s, where);
  if (!type.ok()) return type.status();
  store::NewSignal out;
  out.type = *type;
  if (auto label = s.find("label"); label != s.end()) {
    if (!label->is_string()) return InvalidArgument(std::string(where) + ": \"label\" must be a string");
    out.label = label->get<std::string>().substr(0, 200);
  }
  if (*type == "pdq") {
    auto h = s.find("hash");
    if (h == s.end()) return InvalidArgument(std::string(where) + ": pdq needs \"hash\"");
    Result<hash::PdqHash> pdq = PdqHex(*h, where);
    if (!pdq.ok()) return pdq.status();
    Result<int> q = Quality(s, true, where);
    if (!q.ok()) return q.status();
    out.value = cases::EncodePdqValue(*pdq);
    out.quality = *q;
  } else if (*type == "md5" || *type == "sha256") {
    Result<std::vector<std::uint8_t>> d = FixedHex(s, "hash", *type == "md5" ? 16 : 32, where);
    if (!d.ok()) return d.status();
    out.value = std::move(*d);
  } else if (*type == "vpdq") {
    Result<std::vector<hash::VpdqFrame>> frames = Frames(s, where);
    if (!frames.ok()) return frames.status();
    const std::string text = hash::FormatVpdqText(*frames);
    out.value.assign(text.begin(), text.end());
  } else {
    Result<cases::FaceVector> v = Face(s, where);
    if (!v.ok()) return v.status();
    out.value = cases::EncodeFaceValue(*v);
  }
  return out;
}

Result<cases::Query> ParseQuery(const Json& s, std::string_view where) {
  Result<std::string> type = SignalType(s, where);
  if (!type.ok()) return type.status();
  cases::Query q;
  q.type = *type;
  if (*type == "pdq") {
    auto h = s.find("hash");
    if (h == s.end()) return InvalidArgument(std::string(where) + ": pdq needs \"hash\"");
    Result<hash::PdqHash> pdq = PdqHex(*h, where);
    if (!pdq.ok()) return pdq.status();
    q.pdq = *pdq;
    Result<int> quality = Quality(s, false, where);
    if (!quality.ok()) return quality.status();
    q.quality = *quality;
    if (auto d = s.find("dihedral"); d != s.end()) {
      if (!d->is_array() || d->size() != hash::kNumDihedral) {
        return InvalidArgument(std::string(where) + ": \"dihedral\" must be the 8 variant hashes");
      }
      for (const Json& v : *d) {
        Result<hash::PdqHash> vh = PdqHex(v, where);
        if (!vh.ok()) return vh.status();
        q.dihedral.push_back(*vh);
      }
    }
  } else if (*type == "md5" || *type == "sha256") {
    Result<std::vector<std::uint8_t>> d = FixedHex(s, "hash", *type == "md5" ? 16 : 32, where);
    if (!d.ok()) return d.status();
    q.digest = std::move(*d);
  } else if (*type == "vpdq") {
    Result<std::vector<hash::VpdqFrame>> frames = Frames(s, where);
    if (!frames.ok()) return frames.status();
    q.frames = std::move(*frames);
  } else {
    Result<cases::FaceVector> v = Face(s, where);
    if (!v.ok()) return v.status();
    q.face = *v;
  }
  return q;
}

Result<std::vector<store::NewSignal>> SignalsFrom(const Json& body, std::size_t max_items, bool required) {
  std::vector<store::NewSignal> out;
  auto it = body.find("signals");
  if (it == body.end()) {
    if (required) return InvalidArgument("the body needs \"signals\": an array of signal objects");
    return out;
  }
  if (!it->is_array()) return InvalidArgument("\"signals\" must be an array");
  if (it->size() > max_items) return TooLarge("at most " + std::to_string(max_items) + " signals per request");
  for (std::size_t i = 0; i < it->size(); ++i) {
    Result<store::NewSignal> s = ParseNewSignal((*it)[i], "signal " + std::to_string(i));
    if (!s.ok()) return s.status();
    out.push_back(std::move(*s));
  }
  return out;
}

Json SignalJson(const store::StoredSignal& s) {
  Json j = {{"type", s.type}};
  if (s.type == "pdq") {
    Result<hash::PdqHash> h = cases::DecodePdqValue(s.value);
    j["hash"] = h.ok() ? h->ToHex() : "";
    j["quality"] = s.quality;
  } else if (s.type == "md5" || s.type == "sha256") {
    j["hash"] = HexEncode(s.value);
  } else if (s.type == "vpdq") {
    Result<std::vector<hash::VpdqFrame>> frames =
        hash::ParseVpdqText(std::string_view(reinterpret_cast<const char*>(s.value.data()), s.value.size()));
    j["frames"] = frames.ok() ? Json::parse(hash::FormatVpdqJson(*frames), nullptr, false) : Json::array();
  } else if (s.type == "face") {
    Result<cases::FaceVector> v = cases::DecodeFaceValue(s.value);
    j["descriptor"] = v.ok() ? Json(*v) : Json::array();
  }
  if (!s.label.empty()) j["label"] = s.label;
  return j;
}

Json SourceJson(const store::SignalOwner& o) {
  if (o.case_id) return {{"kind", "case"}, {"id", *o.case_id}};
  Json j = {{"kind", "bank"}, {"id", o.bank_id.value_or(0)}};
  if (o.report_id) j["report_id"] = *o.report_id;
  return j;
}

Json StoredSignalJson(const store::StoredSignal& s) {
  return {{"id", s.id},
          {"state", store::SignalStateName(s.state)},
          {"seq", s.seq},
          {"created", s.created_at},
          {"source", SourceJson(s.owner)},
          {"signal", SignalJson(s)}};
}

Json BankJson(const store::Bank& b) {
  Json j = {{"id", b.id},
            {"name", b.name},
            {"description", b.description},
            {"pdq_max_distance", b.pdq_max_distance},
            {"pdq_min_quality", b.pdq_min_quality},
            {"vpdq_threshold", b.vpdq_threshold},
            {"face_max_distance", b.face_max_distance},
            {"review_policy", b.auto_approve ? "auto_approve" : "review"},
            {"created", b.created_at}};
  j["org_id"] = b.org_id ? Json(*b.org_id) : Json(nullptr);
  return j;
}

Json KeyJson(const store::ApiKey& k) {
  Json j = {{"id", k.id},         {"role", store::RoleName(k.role)}, {"label", k.label},
            {"prefix", k.prefix}, {"created", k.created_at},         {"revoked", k.revoked}};
  j["org_id"] = k.org_id ? Json(*k.org_id) : Json(nullptr);
  return j;
}

Json ReportJson(const store::Report& r) {
  return {{"id", r.id},
          {"bank_id", r.bank_id},
          {"url", r.url},
          {"category", r.category},
          {"notes", r.notes},
          {"state", r.state},
          {"created", r.created_at},
          {"signal_ids", r.signal_ids}};
}

HttpResponse JsonResponse(int status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

HttpResponse Error(int status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = ErrorBody(code, message);
  return r;
}

HttpResponse FromStatus(const Status& st) {
  switch (st.code()) {
    case ErrorCode::kNotFound:
      return Error(404, "not_found", st.message());
    case ErrorCode::kTooLarge:
      return Error(413, "too_large", st.message());
    case ErrorCode::kCorrupt:
      return Error(400, "malformed_json", st.message());
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnsupported:
      return Error(400, "invalid_request", st.message());
    default:
      return Error(500, "internal", st.message());
  }
}

std::optional<std::int64_t> ParseId(std::string_view text) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

// Query integer with bounds; default when absent.
Result<std::int64_t> QueryInt(const HttpRequest& req, const char* name, std::int64_t def, std::int64_t lo,
                              std::int64_t hi) {
  std::optional<std::string> v = req.Query(name);
  if (!v) return def;
  std::optional<std::int64_t> n = ParseId(*v);
  if (!n || *n < lo || *n > hi) {
    return InvalidArgument("query parameter \"" + std::string(name) + "\" must be an integer " + std::to_string(lo) +
                           ".." + std::to_string(hi));
  }
  return *n;
}

// Splits "/v1/cases/TB-1/signals" into segments.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

constexpr std::array<double, 12> kLatencyBuckets = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                                    0.05,   0.1,   0.25,  0.5,   1,    5};

}  // namespace

std::string ErrorBody(std::string_view code, std::string_view message) {
  return Json{{"error", {{"code", code}, {"message", message}}}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string ErrorBodyForStatus(int status) {
  switch (status) {
    case 400:
      return ErrorBody("bad_request", "malformed HTTP request");
    case 404:
      return ErrorBody("not_found", "no such endpoint");
    case 405:
      return ErrorBody("method_not_allowed", "method not allowed here");
    case 413:
      return ErrorBody("too_large", "request body too large");
    case 414:
      return ErrorBody("uri_too_long", "request line too long");
    case 431:
      return ErrorBody("headers_too_large", "request headers too large");
    default:
      return ErrorBody(status >= 500 ? "internal" : "bad_request", "HTTP error " + std::to_string(status));
  }
}

namespace {

// The common POST /v1/match body, {"signals":[{"type":"pdq","hash":"<64 hex>",
// "quality":<0..100>}, ...]} (keys in any order, quality optional, any JSON
// whitespace), parsed without building a JSON tree: a batch of 100 costs
// ~1 us per item less. Anything else (another type or key, escapes,
// duplicate keys, numbers in other forms, errors of any kind) returns false
// and the general parser decides, so the result never differs from it.
class FastMatchParser {
 public:
  FastMatchParser(std::string_view body, std::size_t max_items) : s_(body), max_items_(max_items) {}

  bool Parse(std::vector<cases::Query>* out) {
    if (!Lit('{') || !Key("signals") || !Lit(':') || !Lit('[')) return false;
    out->reserve(std::min<std::size_t>(max_items_, s_.size() / 80 + 1));
    do {
      if (out->size() == max_items_) return false;
      cases::Query q;
      if (!Item(&q)) return false;
      out->push_back(std::move(q));
    } while (Lit(','));
    if (!Lit(']') || !Lit('}')) return false;
    Ws();
    return at_ == s_.size();
  }

 private:
  void Ws() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\r' || s_[at_] == '\t')) ++at_;
  }
  bool Lit(char c) {
    Ws();
    if (at_ == s_.size() || s_[at_] != c) return false;
    ++at_;
    return true;
  }
  // A string without escapes; its contents.
  bool String(std::string_view* v) {
    if (!Lit('"')) return false;
    const std::size_t end = s_.find('"', at_);
    if (end == std::string_view::npos) return false;
    *v = s_.substr(at_, end - at_);
    for (const char c : *v) {
      if (c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
    }
    at_ = end + 1;
    return true;
  }
  bool Key(std::string_view want) {
    std::string_view k;
    return String(&k) && k == want;
  }
  bool Item(cases::Query* q) {
    if (!Lit('{')) return false;
    bool type = false;
    bool hash = false;
    bool quality = false;
    do {
      std::string_view key;
      if (!String(&key) || !Lit(':')) return false;
      if (key == "type" && !type) {
        std::string_view v;
        if (!String(&v) || v != "pdq") return false;
        type = true;
      } else if (key == "hash" && !hash) {
        std::string_view v;
        if (!String(&v)) return false;
        std::optional<hash::PdqHash> h = hash::PdqHash::FromHex(v);
        if (!h) return false;
        q->pdq = *h;
        hash = true;
      } else if (key == "quality" && !quality) {
        Ws();
        int value = 0;
        std::size_t digits = 0;
        while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9' && digits < 4) {
          value = value * 10 + (s_[at_++] - '0');
          ++digits;
        }
        // Plain integers 0..100 only: no leading zero, fraction, exponent or sign.
        if (digits == 0 || digits > 3 || (digits > 1 && s_[at_ - digits] == '0') || value > 100) return false;
        if (at_ < s_.size() && (s_[at_] == '.' || s_[at_] == 'e' || s_[at_] == 'E')) return false;
        q->quality = value;
        quality = true;
      } else {
        return false;
      }
    } while (Lit(','));
    if (!Lit('}') || !type || !hash) return false;
    q->type = "pdq";
    if (!quality) q->quality = 100;
    return true;
  }

  std::string_view s_;
  std::size_t max_items_;
  std::size_t at_ = 0;
};

}  // namespace

Result<std::vector<cases::Query>> ParseMatchBody(std::string_view body, std::size_t max_items) {
  std::vector<cases::Query> fast;
  if (FastMatchParser(body, max_items).Parse(&fast)) return fast;
  return ParseMatchBodyGeneral(body, max_items);
}

Result<std::vector<cases::Query>> ParseMatchBodyGeneral(std::string_view body, std::size_t max_items) {
  Result<Json> j = ParseJson(body);
  if (!j.ok()) return j.status();
  std::vector<cases::Query> out;
  if (j->is_object() && j->contains("type")) {
    Result<cases::Query> q = ParseQuery(*j, "signal 0");
    if (!q.ok()) return q.status();
    out.push_back(std::move(*q));
    return out;
  }
  if (!j->is_object()) return InvalidArgument("the body must be a signal object or {\"signals\":[...]}");
  auto it = j->find("signals");
  if (it == j->end() || !it->is_array() || it->empty()) {
    return InvalidArgument("the body must be a signal object or {\"signals\":[...]} with at least one signal");
  }
  if (it->size() > max_items) return TooLarge("at most " + std::to_string(max_items) + " signals per match request");
  out.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    Result<cases::Query> q = ParseQuery((*it)[i], "signal " + std::to_string(i));
    if (!q.ok()) return q.status();
    out.push_back(std::move(*q));
  }
  return out;
}

Result<std::vector<store::NewSignal>> ParseSignalsBody(std::string_view body, std::size_t max_items) {
  Result<Json> j = ParseJson(body);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return InvalidArgument("the body must be a JSON object");
  return SignalsFrom(*j, max_items, true);
}

// ---------------------------------------------------------------------------

struct Api::Impl {
  cases::Service* service;
  ApiOptions options;

  // Metrics.
  std::mutex metrics_mu;
  std::map<std::pair<std::string, int>, std::uint64_t> requests;  // (route, status)
  std::array<std::atomic<std::uint64_t>, kLatencyBuckets.size() + 1> latency_counts{};
  std::atomic<std::uint64_t> latency_micros{0};
  std::atomic<std::uint64_t> latency_n{0};
  std::atomic<std::uint64_t> rate_limited{0};

  // Victim rate limit: token bucket per client address.
  std::mutex rate_mu;
  std::unordered_map<std::string, std::pair<double, std::chrono::steady_clock::time_point>> buckets;

  bool AllowVictim(const std::string& addr) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(rate_mu);
    if (buckets.size() > 100000) buckets.clear();  // bounded memory under address churn
    auto [it, fresh] = buckets.try_emplace(addr, static_cast<double>(options.victim_burst), now);
    auto& [tokens, last] = it->second;
    if (!fresh) {
      tokens = std::min(
          static_cast<double>(options.victim_burst),
          tokens + std::chrono::duration<double>(now - last).count() * options.victim_requests_per_minute / 60.0);
      last = now;
    }
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  // Authenticates the bearer key and checks its role. On failure fills `err`.
  std::optional<cases::Principal> Authorize(const HttpRequest& req, std::initializer_list<Role> roles,
                                            HttpResponse* err) {
    std::optional<std::string> auth = req.Header("Authorization");
    if (!auth || auth->rfind("Bearer ", 0) != 0 || auth->size() <= 7) {
      *err = Error(401, "unauthenticated", "this endpoint needs an API key: Authorization: Bearer KEY");
      err->headers.emplace_back("WWW-Authenticate", "Bearer");
      return std::nullopt;
    }
    Result<cases::Principal> p = service->Authenticate(auth->substr(7));
    if (!p.ok()) {
      if (p.status().code() != ErrorCode::kNotFound) {
        *err = FromStatus(p.status());
      } else {
        *err = Error(401, "unauthenticated", "unknown or revoked API key");
        err->headers.emplace_back("WWW-Authenticate", "Bearer");
      }
      return std::nullopt;
    }
    if (std::find(roles.begin(), roles.end(), p->role) == roles.end()) {
      std::string allowed;
      for (Role r : roles) allowed += (allowed.empty() ? "" : ", ") + std::string(store::RoleName(r));
      *err = Error(403, "forbidden",
                   "a " + std::string(store::RoleName(p->role)) + " key may not do this (allowed: " + allowed + ")");
      return std::nullopt;
    }
    return *p;
  }

  // Checks case number + PIN (X-Case-Pin) under the victim rate limit.
  std::optional<store::CaseRecord> AuthorizeCase(const HttpRequest& req, std::string_view number, HttpResponse* err) {
    if (!AllowVictim(req.remote_addr)) {
      rate_limited.fetch_add(1, std::memory_order_relaxed);
      *err = Error(429, "rate_limited", "too many requests from this address; wait a minute and try again");
      err->headers.emplace_back("Retry-After", "60");
      return std::nullopt;
    }
    std::optional<std::string> pin = req.Header("X-Case-Pin");
    if (!pin || pin->empty()) {
      *err = Error(401, "unauthenticated", "this endpoint needs the case PIN in the X-Case-Pin header");
      return std::nullopt;
    }
    store::CaseRecord c;
    switch (service->CheckPin(std::string(number), *pin, &c)) {
      case cases::PinCheck::kOk:
        return c;
      case cases::PinCheck::kLocked:
        *err = Error(429, "locked", "too many wrong PINs: this case is locked for 15 minutes");
        err->headers.emplace_back("Retry-After", "900");
        return std::nullopt;
      case cases::PinCheck::kWrong:
      case cases::PinCheck::kUnknownCase:
        // The same answer for both, so case numbers cannot be probed.
        *err = Error(401, "unauthenticated", "wrong case number or PIN");
        return std::nullopt;
    }
    return std::nullopt;
  }

  HttpResponse Route(const HttpRequest& req, std::string* route);

  // Handlers.
  HttpResponse Healthz();
  HttpResponse Metrics();
  HttpResponse CreateCase(const HttpRequest& req);
  HttpResponse GetCase(const HttpRequest& req, std::string_view number);
  HttpResponse AddCaseSignals(const HttpRequest& req, std::string_view number);
  HttpResponse WithdrawCase(const HttpRequest& req, std::string_view number);
  HttpResponse Match(const HttpRequest& req);
  HttpResponse Delta(const HttpRequest& req);
  HttpResponse ScanSources(const HttpRequest& req);
  HttpResponse ScanSignals(const HttpRequest& req);
  HttpResponse Feedback(const HttpRequest& req);
  HttpResponse CreateReport(const HttpRequest& req);
  HttpResponse ListReports(const HttpRequest& req);
  HttpResponse DecideReport(const HttpRequest& req, std::string_view id);
  HttpResponse ListPendingSignals(const HttpRequest& req);
  HttpResponse GetSignal(const HttpRequest& req, std::string_view id);
  HttpResponse DecideSignal(const HttpRequest& req, std::string_view id);
  HttpResponse CreateBank(const HttpRequest& req);
  HttpResponse ListBanks(const HttpRequest& req);
  HttpResponse AddBankSignals(const HttpRequest& req, std::string_view id);
  HttpResponse CreateOrganisation(const HttpRequest& req);
  HttpResponse ListOrganisations(const HttpRequest& req);
  HttpResponse CreateKey(const HttpRequest& req);
  HttpResponse ListKeys(const HttpRequest& req);
  HttpResponse RevokeKey(const HttpRequest& req, std::string_view id);
  HttpResponse Audit(const HttpRequest& req);
};

Api::Api(cases::Service* service, ApiOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->service = service;
  impl_->options = options;
}

Api::~Api() = default;

HttpResponse Api::Handle(const HttpRequest& request) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string route = "unknown";
  HttpResponse r;
  try {
    r = impl_->Route(request, &route);
  } catch (const std::exception& e) {
    // Nothing above throws on bad input by design; this is the last guard
    // (e.g. std::bad_alloc) so that a request never takes the server down.
    r = Error(500, "internal", std::string("internal error: ") + e.what());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::size_t b = 0;
  while (b < kLatencyBuckets.size() && seconds > kLatencyBuckets[b]) ++b;
  impl_->latency_counts[b].fetch_add(1, std::memory_order_relaxed);
  impl_->latency_micros.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  impl_->latency_n.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(impl_->metrics_mu);
    ++impl_->requests[{route, r.status}];
  }
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse Api::Impl::Route(const HttpRequest& req, std::string* route) {
  const std::vector<std::string_view> seg = Segments(req.path);
  const std::string& m = req.method;
  auto is = [&](std::initializer_list<std::string_view> pattern) {
    if (seg.size() != pattern.size()) return false;
    std::size_t i = 0;
    for (std::string_view p : pattern) {
      if (p != "*" && p != seg[i]) return false;
      ++i;
    }
    return true;
  };
  auto method = [&](std::string_view want, std::string_view name, auto&& fn) -> std::optional<HttpResponse> {
    *route = std::string(name);
    if (m != want) return std::nullopt;
    return fn();
  };
  std::optional<HttpResponse> r;
  bool known = true;
  if (is({"healthz"})) {
    r = method("GET", "/healthz", [&] { return Healthz(); });
  } else if (is({"metrics"})) {
    r = method("GET", "/metrics", [&] { return Metrics(); });
  } else if (is({"v1", "cases"})) {
    r = method("POST", "/v1/cases", [&] { return CreateCase(req); });
  } else if (is({"v1", "cases", "*"})) {
    *route = "/v1/cases/{number}";
    if (m == "GET") r = GetCase(req, seg[2]);
    if (m == "DELETE") r = WithdrawCase(req, seg[2]);
  } else if (is({"v1", "cases", "*", "signals"})) {
    r = method("POST", "/v1/cases/{number}/signals", [&] { return AddCaseSignals(req, seg[2]); });
  } else if (is({"v1", "match"})) {
    r = method("POST", "/v1/match", [&] { return Match(req); });
  } else if (is({"v1", "signals", "delta"})) {
    r = method("GET", "/v1/signals/delta", [&] { return Delta(req); });
  } else if (is({"v1", "scan", "sources"})) {
    r = method("GET", "/v1/scan/sources", [&] { return ScanSources(req); });
  } else if (is({"v1", "scan", "signals"})) {
    r = method("GET", "/v1/scan/signals", [&] { return ScanSignals(req); });
  } else if (is({"v1", "signals", "pending"})) {
    r = method("GET", "/v1/signals/pending", [&] { return ListPendingSignals(req); });
  } else if (is({"v1", "signals", "*"})) {
    r = method("GET", "/v1/signals/{id}", [&] { return GetSignal(req, seg[2]); });
  } else if (is({"v1", "signals", "*", "decision"})) {
    r = method("POST", "/v1/signals/{id}/decision", [&] { return DecideSignal(req, seg[2]); });
  } else if (is({"v1", "feedback"})) {
    r = method("POST", "/v1/feedback", [&] { return Feedback(req); });
  } else if (is({"v1", "reports"})) {
    *route = "/v1/reports";
    if (m == "POST") r = CreateReport(req);
    if (m == "GET") r = ListReports(req);
  } else if (is({"v1", "reports", "*", "decision"})) {
    r = method("POST", "/v1/reports/{id}/decision", [&] { return DecideReport(req, seg[2]); });
  } else if (is({"v1", "banks"})) {
    *route = "/v1/banks";
    if (m == "POST") r = CreateBank(req);
    if (m == "GET") r = ListBanks(req);
  } else if (is({"v1", "banks", "*", "signals"})) {
    r = method("POST", "/v1/banks/{id}/signals", [&] { return AddBankSignals(req, seg[2]); });
  } else if (is({"v1", "organisations"})) {
    *route = "/v1/organisations";
    if (m == "POST") r = CreateOrganisation(req);
    if (m == "GET") r = ListOrganisations(req);
  } else if (is({"v1", "keys"})) {
    *route = "/v1/keys";
    if (m == "POST") r = CreateKey(req);
    if (m == "GET") r = ListKeys(req);
  } else if (is({"v1", "keys", "*"})) {
    r = method("DELETE", "/v1/keys/{id}", [&] { return RevokeKey(req, seg[2]); });
  } else if (is({"v1", "audit"})) {
    r = method("GET", "/v1/audit", [&] { return Audit(req); });
  } else {
    known = false;
  }
  if (r) return *r;
  if (!known) {
    *route = "unknown";
    return Error(404, "not_found",
                 "no endpoint " + req.method + " " + req.path.substr(0, 200) + " (see docs/api/openapi.yaml)");
  }
  return Error(405, "method_not_allowed", "method " + req.method + " is not allowed on " + *route);
}

HttpResponse Api::Impl::Healthz() {
  const cases::MatchIndex::Sizes s = service->index().sizes();
  return JsonResponse(200, {{"status", "ok"},
                            {"schema_version", service->store().SchemaVersion()},
                            {"index",
                             {{"pdq", s.pdq},
                              {"md5", s.md5},
                              {"sha256", s.sha256},
                              {"vpdq", s.vpdq_signals},
                              {"vpdq_frames", s.vpdq_frames},
                              {"face", s.face}}}});
}

HttpResponse Api::Impl::Metrics() {
  std::ostringstream out;
  out << "# HELP takeback_http_requests_total HTTP requests by route and status.\n"
         "# TYPE takeback_http_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lock(metrics_mu);
    for (const auto& [k, v] : requests) {
      out << "takeback_http_requests_total{route=\"" << k.first << "\",status=\"" << k.second << "\"} " << v << "\n";
    }
  }
  out << "# HELP takeback_http_request_duration_seconds Time spent in the API handler.\n"
         "# TYPE takeback_http_request_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < kLatencyBuckets.size(); ++b) {
    cumulative += latency_counts[b].load(std::memory_order_relaxed);
    out << "takeback_http_request_duration_seconds_bucket{le=\"" << kLatencyBuckets[b] << "\"} " << cumulative << "\n";
  }
  cumulative += latency_counts[kLatencyBuckets.size()].load(std::memory_order_relaxed);
  out << "takeback_http_request_duration_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n"
      << "takeback_http_request_duration_seconds_sum "
      << static_cast<double>(latency_micros.load(std::memory_order_relaxed)) / 1e6 << "\n"
      << "takeback_http_request_duration_seconds_count " << latency_n.load(std::memory_order_relaxed) << "\n";
  out << "# HELP takeback_hashes_checked_total Query signals checked by POST /v1/match.\n"
         "# TYPE takeback_hashes_checked_total counter\n"
      << "takeback_hashes_checked_total " << service->hashes_checked() << "\n"
      << "# HELP takeback_matches_total Matches returned (and recorded).\n"
         "# TYPE takeback_matches_total counter\n"
      << "takeback_matches_total " << service->matches_found() << "\n"
      << "# HELP takeback_rate_limited_total Victim requests refused by the rate limit.\n"
         "# TYPE takeback_rate_limited_total counter\n"
      << "takeback_rate_limited_total " << rate_limited.load(std::memory_order_relaxed) << "\n";
  const cases::MatchIndex::Sizes s = service->index().sizes();
  out << "# HELP takeback_index_signals Active signals in the in-memory match index, by type.\n"
         "# TYPE takeback_index_signals gauge\n"
      << "takeback_index_signals{type=\"pdq\"} " << s.pdq << "\n"
      << "takeback_index_signals{type=\"md5\"} " << s.md5 << "\n"
      << "takeback_index_signals{type=\"sha256\"} " << s.sha256 << "\n"
      << "takeback_index_signals{type=\"vpdq\"} " << s.vpdq_signals << "\n"
      << "takeback_index_signals{type=\"face\"} " << s.face << "\n"
      << "# HELP takeback_index_vpdq_frames vPDQ frames in the frame index.\n"
         "# TYPE takeback_index_vpdq_frames gauge\n"
      << "takeback_index_vpdq_frames " << s.vpdq_frames << "\n";
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = out.str();
  return r;
}

HttpResponse Api::Impl::CreateCase(const HttpRequest& req) {
  if (!AllowVictim(req.remote_addr)) {
    rate_limited.fetch_add(1, std::memory_order_relaxed);
    HttpResponse e = Error(429, "rate_limited", "too many requests from this address; wait a minute and try again");
    e.headers.emplace_back("Retry-After", "60");
    return e;
  }
  std::vector<std::string> terms;
  std::vector<store::NewSignal> signals;
  if (!req.body.empty()) {
    Result<Json> j = ParseJson(req.body);
    if (!j.ok()) return FromStatus(j.status());
    if (!j->is_object()) return Error(400, "invalid_request", "the body must be a JSON object");
    if (auto it = j->find("watch_terms"); it != j->end()) {
      if (!it->is_array() || it->size() > 100) {
        return Error(400, "invalid_request", "\"watch_terms\" must be an array of at most 100 strings");
      }
      for (const Json& t : *it) {
        if (!t.is_string() || t.get<std::string>().size() > 200) {
          return Error(400, "invalid_request", "each watch term must be a string of at most 200 bytes");
        }
        terms.push_back(t.get<std::string>());
      }
    }
    Result<std::vector<store::NewSignal>> s = SignalsFrom(*j, options.max_signals, false);
    if (!s.ok()) return FromStatus(s.status());
    signals = std::move(*s);
  }
  Result<cases::NewCaseResult> c = service->CreateCase(terms, signals);
  if (!c.ok()) return FromStatus(c.status());
  std::vector<std::int64_t> ids;
  for (const auto& s : c->added) ids.push_back(s.id);
  return JsonResponse(201, {{"case_number", c->record.number},
                            {"pin", c->pin},
                            {"status", c->record.status},
                            {"signal_ids", ids},
                            {"notice",
                             "Write down the case number and PIN now: the PIN is shown only this once and "
                             "cannot be recovered."}});
}

HttpResponse Api::Impl::GetCase(const HttpRequest& req, std::string_view number) {
  HttpResponse err;
  std::optional<store::CaseRecord> c = AuthorizeCase(req, number, &err);
  if (!c) return err;
  Result<store::CaseCounts> n = service->store().CountCase(c->id, "case:" + c->number);
  if (!n.ok()) return FromStatus(n.status());
  return JsonResponse(200, {{"case_number", c->number},
                            {"status", c->status},
                            {"created", c->created_at},
                            {"watch_terms", c->watch_terms},
                            {"signals",
                             {{"pending_review", n->pending},
                              {"active", n->active},
                              {"withdrawn", n->withdrawn},
                              {"rejected", n->rejected}}},
                            {"matches", n->matches},
                            {"takedowns", n->takedowns}});
}

HttpResponse Api::Impl::AddCaseSignals(const HttpRequest& req, std::string_view number) {
  HttpResponse err;
  std::optional<store::CaseRecord> c = AuthorizeCase(req, number, &err);
  if (!c) return err;
  Result<std::vector<store::NewSignal>> signals = ParseSignalsBody(req.body, options.max_signals);
  if (!signals.ok()) return FromStatus(signals.status());
  Result<std::vector<store::StoredSignal>> added = service->AddCaseSignals(*c, *signals);
  if (!added.ok()) {
    if (added.status().code() == ErrorCode::kInvalidArgument) return Error(409, "conflict", added.status().message());
    return FromStatus(added.status());
  }
  std::vector<std::int64_t> ids;
  for (const auto& s : *added) ids.push_back(s.id);
  return JsonResponse(201, {{"case_number", c->number}, {"signal_ids", ids}, {"state", "pending_review"}});
}

HttpResponse Api::Impl::WithdrawCase(const HttpRequest& req, std::string_view number) {
  HttpResponse err;
  std::optional<store::CaseRecord> c = AuthorizeCase(req, number, &err);
  if (!c) return err;
  Result<std::vector<store::StoredSignal>> changed = service->WithdrawCase(*c);
  if (!changed.ok()) return FromStatus(changed.status());
  return JsonResponse(200,
                      {{"case_number", c->number}, {"status", "withdrawn"}, {"signals_withdrawn", changed->size()}});
}

HttpResponse Api::Impl::Match(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who =
      Authorize(req, {Role::kPlatform, Role::kInvestigator, Role::kCaseworker, Role::kAdmin}, &err);
  if (!who) return err;
  Result<std::vector<cases::Query>> queries = ParseMatchBody(req.body, options.max_batch);
  if (!queries.ok()) return FromStatus(queries.status());
  Result<std::vector<std::vector<cases::MatchHit>>> hits = service->Match(*who, *queries);
  if (!hits.ok()) return FromStatus(hits.status());
  // Built by hand: this is the hot path, and an empty result is the usual one.
  std::string body = "{\"checked\":" + std::to_string(queries->size()) + ",\"results\":[";
  body.reserve(body.size() + hits->size() * 32);
  for (std::size_t i = 0; i < hits->size(); ++i) {
    if (i > 0) body += ',';
    body += "{\"index\":";
    body += std::to_string(i);
    body += ",\"matches\":";
    if ((*hits)[i].empty()) {
      body += "[]}";
      continue;
    }
    Json list = Json::array();
    for (const cases::MatchHit& h : (*hits)[i]) {
      Json m = {{"signal_id", h.signal_id},
                {"match_id", h.match_id},
                {"type", h.type},
                {"distance", h.distance},
                {"review_required", h.review_required}};
      m["source"] = h.case_id ? Json{{"kind", "case"}, {"id", *h.case_id}} : Json{{"kind", "bank"}, {"id", *h.bank_id}};
      if (h.type == "pdq") m["variant"] = hash::DihedralName(static_cast<hash::Dihedral>(h.variant));
      if (h.type == "vpdq") {
        m["query_percent"] = h.query_percent;
        m["target_percent"] = h.target_percent;
      }
      list.push_back(std::move(m));
    }
    body += list.dump() + "}";
  }
  body += "]}";
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

HttpResponse Api::Impl::Delta(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kPlatform, Role::kAdmin}, &err);
  if (!who) return err;
  Result<std::int64_t> since = QueryInt(req, "since", 0, 0, INT64_MAX);
  if (!since.ok()) return FromStatus(since.status());
  Result<std::int64_t> limit = QueryInt(req, "limit", 1000, 1, 10000);
  if (!limit.ok()) return FromStatus(limit.status());
  Result<std::vector<store::StoredSignal>> changes =
      service->store().ChangesSince(*since, static_cast<int>(*limit), who->Actor());
  if (!changes.ok()) return FromStatus(changes.status());
  Json list = Json::array();
  std::int64_t next = *since;
  for (const store::StoredSignal& s : *changes) {
    next = s.seq;
    if (s.state == store::SignalState::kPendingReview) continue;  // not acting yet: nothing to mirror
    Json c = {{"seq", s.seq}, {"signal_id", s.id}, {"source", SourceJson(s.owner)}};
    if (s.state == store::SignalState::kActive) {
      c["op"] = "add";
      c["signal"] = SignalJson(s);
    } else {
      c["op"] = "remove";
    }
    list.push_back(std::move(c));
  }
  return JsonResponse(
      200, {{"changes", list}, {"next_since", next}, {"more", changes->size() == static_cast<std::size_t>(*limit)}});
}

// ---- investigators' scans (issue 6): the active signals of chosen cases or of
// every bank, with case numbers, bank names and watch terms. Face descriptors
// and watch terms are sensitive: only the roles that scan or review get them.

namespace {
constexpr std::initializer_list<Role> kScanRoles = {Role::kInvestigator, Role::kCaseworker, Role::kAdmin};

Json ScanSourceJson(const cases::ScanSource& s) {
  Json j = {{"kind", s.kind}, {"id", s.id}, {"name", s.name}, {"status", s.status}};
  if (s.kind == "case") {
    j["watch_terms"] = s.watch_terms;
  } else {
    j["rules"] = {{"pdq_max_distance", s.bank.pdq_max_distance},
                  {"pdq_min_quality", s.bank.pdq_min_quality},
                  {"vpdq_threshold", s.bank.vpdq_threshold},
                  {"face_max_distance", s.bank.face_max_distance}};
  }
  return j;
}

HttpResponse ScanLookupError(const Status& st) {
  if (st.code() == ErrorCode::kNotFound) return Error(404, "not_found", st.message());
  return FromStatus(st);
}
}  // namespace

HttpResponse Api::Impl::ScanSources(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, kScanRoles, &err);
  if (!who) return err;
  std::vector<cases::ScanSource> sources;
  std::size_t asked = 0;
  for (const auto& [name, value] : req.query) {
    if (name != "case" && name != "bank") continue;
    if (++asked > options.max_batch) return Error(413, "too_large", "too many cases and banks in one request");
    Result<cases::ScanSource> s =
        name == "case" ? cases::FindScanCase(service->store(), value) : cases::FindScanBank(service->store(), value);
    if (!s.ok()) return ScanLookupError(s.status());
    sources.push_back(std::move(*s));
  }
  if (asked == 0) {
    Result<std::vector<cases::ScanSource>> banks = cases::AllScanBanks(service->store());
    if (!banks.ok()) return FromStatus(banks.status());
    sources = std::move(*banks);
  }
  std::string names;
  Json list = Json::array();
  for (const cases::ScanSource& s : sources) {
    if (names.size() < 1000) names += (names.empty() ? "" : ", ") + s.kind + " " + s.name;
    list.push_back(ScanSourceJson(s));
  }
  const Status audited = service->store().Audit(
      {0, "", who->Actor(), "scan.sources", asked == 0 ? "banks:all" : "scan:chosen", names.substr(0, 1000)});
  if (!audited.ok()) return FromStatus(audited);
  return JsonResponse(200, {{"sources", list}});
}

HttpResponse Api::Impl::ScanSignals(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, kScanRoles, &err);
  if (!who) return err;
  const std::optional<std::string> case_number = req.Query("case");
  const std::optional<std::string> bank = req.Query("bank");
  if (case_number.has_value() == bank.has_value()) {
    return Error(400, "invalid_request", "give exactly one of ?case=NUMBER or ?bank=NAME|ID");
  }
  Result<std::int64_t> after = QueryInt(req, "after", 0, 0, INT64_MAX);
  if (!after.ok()) return FromStatus(after.status());
  Result<std::int64_t> limit = QueryInt(req, "limit", 1000, 1, 10000);
  if (!limit.ok()) return FromStatus(limit.status());
  Result<cases::ScanSource> source =
      case_number ? cases::FindScanCase(service->store(), *case_number) : cases::FindScanBank(service->store(), *bank);
  if (!source.ok()) return ScanLookupError(source.status());
  Result<std::vector<store::StoredSignal>> page =
      cases::ReadScanSignals(service->store(), *source, *after, static_cast<int>(*limit), who->Actor());
  if (!page.ok()) return FromStatus(page.status());
  Json list = Json::array();
  std::int64_t next = *after;
  for (const store::StoredSignal& s : *page) {
    next = s.id;
    list.push_back({{"id", s.id}, {"seq", s.seq}, {"created", s.created_at}, {"signal", SignalJson(s)}});
  }
  return JsonResponse(200, {{"source", ScanSourceJson(*source)},
                            {"signals", list},
                            {"next_after", next},
                            {"more", page->size() == static_cast<std::size_t>(*limit)}});
}

HttpResponse Api::Impl::Feedback(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kPlatform, Role::kAdmin}, &err);
  if (!who) return err;
  Result<Json> j = ParseJson(req.body);
  if (!j.ok()) return FromStatus(j.status());
  if (!j->is_object()) return Error(400, "invalid_request", "the body must be a JSON object");
  auto id = j->find("match_id");
  if (id == j->end() || !id->is_number_integer())
    return Error(400, "invalid_request", "\"match_id\" must be an integer");
  Result<std::string> verdict = RequireString(*j, "verdict", "feedback");
  if (!verdict.ok()) return FromStatus(verdict.status());
  if (*verdict != "removed" && *verdict != "not_violating" && *verdict != "false_positive") {
    return Error(400, "invalid_request", "\"verdict\" must be removed, not_violating or false_positive");
  }
  std::string notes;
  if (auto n = j->find("notes"); n != j->end()) {
    if (!n->is_string()) return Error(400, "invalid_request", "\"notes\" must be a string");
    notes = n->get<std::string>().substr(0, 2000);
  }
  Result<std::int64_t> fid =
      service->store().AddFeedback(id->get<std::int64_t>(), who->key_id, *verdict, notes, who->Actor());
  if (!fid.ok()) return FromStatus(fid.status());
  return JsonResponse(201, {{"id", *fid}, {"match_id", id->get<std::int64_t>()}, {"verdict", *verdict}});
}

HttpResponse Api::Impl::CreateReport(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kFlagger, Role::kAdmin}, &err);
  if (!who) return err;
  Result<Json> j = ParseJson(req.body);
  if (!j.ok()) return FromStatus(j.status());
  if (!j->is_object()) return Error(400, "invalid_request", "the body must be a JSON object");
  store::Report r;
  r.key_id = who->key_id;
  r.bank_id = 1;
  Result<std::string> category = RequireString(*j, "category", "report");
  if (!category.ok()) return FromStatus(category.status());
  r.category = category->substr(0, 100);
  for (auto [field, target] : {std::pair{"url", &r.url}, std::pair{"notes", &r.notes}}) {
    if (auto it = j->find(field); it != j->end()) {
      if (!it->is_string()) return Error(400, "invalid_request", std::string("\"") + field + "\" must be a string");
      *target = it->get<std::string>().substr(0, 4000);
    }
  }
  if (auto b = j->find("bank_id"); b != j->end()) {
    if (!b->is_number_integer()) return Error(400, "invalid_request", "\"bank_id\" must be an integer");
    r.bank_id = b->get<std::int64_t>();
  }
  Result<std::vector<store::NewSignal>> signals = SignalsFrom(*j, options.max_signals, true);
  if (!signals.ok()) return FromStatus(signals.status());
  if (signals->empty()) return Error(400, "invalid_request", "a report needs at least one signal");
  std::vector<store::StoredSignal> added;
  Result<store::Report> created = service->store().CreateReport(r, *signals, who->Actor(), &added);
  if (!created.ok()) return FromStatus(created.status());
  return JsonResponse(201, ReportJson(*created));
}

HttpResponse Api::Impl::ListReports(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kCaseworker, Role::kAdmin}, &err);
  if (!who) return err;
  std::string state = req.Query("state").value_or("pending_review");
  if (state != "pending_review" && state != "approved" && state != "rejected" && state != "all") {
    return Error(400, "invalid_request", "\"state\" must be pending_review, approved, rejected or all");
  }
  Result<std::int64_t> after = QueryInt(req, "after", 0, 0, INT64_MAX);
  Result<std::int64_t> limit = QueryInt(req, "limit", 100, 1, 1000);
  if (!after.ok()) return FromStatus(after.status());
  if (!limit.ok()) return FromStatus(limit.status());
  Result<std::vector<store::Report>> reports =
      service->store().ListReports(state == "all" ? "" : state, *after, static_cast<int>(*limit), who->Actor());
  if (!reports.ok()) return FromStatus(reports.status());
  Json list = Json::array();
  for (const auto& r : *reports) list.push_back(ReportJson(r));
  return JsonResponse(200, {{"reports", list}});
}

namespace {
Result<bool> Decision(const std::string& body) {
  Result<Json> j = ParseJson(body);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return InvalidArgument("the body must be a JSON object");
  Result<std::string> d = RequireString(*j, "decision", "decision");
  if (!d.ok()) return d.status();
  if (*d != "approve" && *d != "reject") return InvalidArgument("\"decision\" must be approve or reject");
  return *d == "approve";
}
}  // namespace

HttpResponse Api::Impl::DecideReport(const HttpRequest& req, std::string_view id) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kCaseworker, Role::kAdmin}, &err);
  if (!who) return err;
  std::optional<std::int64_t> rid = ParseId(id);
  if (!rid) return Error(404, "not_found", "no report with id " + std::string(id.substr(0, 40)));
  Result<bool> approve = Decision(req.body);
  if (!approve.ok()) return FromStatus(approve.status());
  Result<store::Report> r = service->DecideReport(*rid, *approve, who->Actor());
  if (!r.ok()) {
    if (r.status().code() == ErrorCode::kInvalidArgument) return Error(409, "conflict", r.status().message());
    return FromStatus(r.status());
  }
  return JsonResponse(200, ReportJson(*r));
}

HttpResponse Api::Impl::ListPendingSignals(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kCaseworker, Role::kAdmin}, &err);
  if (!who) return err;
  Result<std::int64_t> after = QueryInt(req, "after", 0, 0, INT64_MAX);
  Result<std::int64_t> limit = QueryInt(req, "limit", 100, 1, 1000);
  if (!after.ok()) return FromStatus(after.status());
  if (!limit.ok()) return FromStatus(limit.status());
  Result<std::vector<store::StoredSignal>> list =
      service->store().ListSignals(store::SignalState::kPendingReview, *after, static_cast<int>(*limit), who->Actor());
  if (!list.ok()) return FromStatus(list.status());
  Json out = Json::array();
  for (const auto& s : *list) out.push_back(StoredSignalJson(s));
  return JsonResponse(200, {{"signals", out}});
}

HttpResponse Api::Impl::GetSignal(const HttpRequest& req, std::string_view id) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kCaseworker, Role::kAdmin, Role::kInvestigator}, &err);
  if (!who) return err;
  std::optional<std::int64_t> sid = ParseId(id);
  if (!sid) return Error(404, "not_found", "no signal with id " + std::string(id.substr(0, 40)));
  Result<store::StoredSignal> s = service->store().GetSignal(*sid, who->Actor());
  if (!s.ok()) return FromStatus(s.status());
  return JsonResponse(200, StoredSignalJson(*s));
}

HttpResponse Api::Impl::DecideSignal(const HttpRequest& req, std::string_view id) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kCaseworker, Role::kAdmin}, &err);
  if (!who) return err;
  std::optional<std::int64_t> sid = ParseId(id);
  if (!sid) return Error(404, "not_found", "no signal with id " + std::string(id.substr(0, 40)));
  Result<bool> approve = Decision(req.body);
  if (!approve.ok()) return FromStatus(approve.status());
  Result<store::StoredSignal> s = service->DecideSignal(*sid, *approve, who->Actor());
  if (!s.ok()) {
    if (s.status().code() == ErrorCode::kInvalidArgument) return Error(409, "conflict", s.status().message());
    return FromStatus(s.status());
  }
  return JsonResponse(200, StoredSignalJson(*s));
}

HttpResponse Api::Impl::CreateBank(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kAdmin}, &err);
  if (!who) return err;
  Result<Json> j = ParseJson(req.body);
  if (!j.ok()) return FromStatus(j.status());
  if (!j->is_object()) return Error(400, "invalid_request", "the body must be a JSON object");
  store::Bank b;
  Result<std::string> name = RequireString(*j, "name", "bank");
  if (!name.ok()) return FromStatus(name.status());
  if (name->empty() || name->size() > 100) return Error(400, "invalid_request", "\"name\" must be 1..100 bytes");
  b.name = *name;
  if (auto it = j->find("description"); it != j->end()) {
    if (!it->is_string()) return Error(400, "invalid_request", "\"description\" must be a string");
    b.description = it->get<std::string>().substr(0, 2000);
  }
  if (auto it = j->find("org_id"); it != j->end() && !it->is_null()) {
    if (!it->is_number_integer()) return Error(400, "invalid_request", "\"org_id\" must be an integer");
    b.org_id = it->get<std::int64_t>();
  }
  if (auto it = j->find("pdq_max_distance"); it != j->end()) {
    if (!it->is_number_integer() || it->get<int>() < 0 || it->get<int>() > 63) {
      return Error(400, "invalid_request", "\"pdq_max_distance\" must be an integer 0..63");
    }
    b.pdq_max_distance = it->get<int>();
  }
  if (auto it = j->find("pdq_min_quality"); it != j->end()) {
    if (!it->is_number_integer() || it->get<int>() < 0 || it->get<int>() > 100) {
      return Error(400, "invalid_request", "\"pdq_min_quality\" must be an integer 0..100");
    }
    b.pdq_min_quality = it->get<int>();
  }
  if (auto it = j->find("vpdq_threshold"); it != j->end()) {
    if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 100) {
      return Error(400, "invalid_request", "\"vpdq_threshold\" must be a number in (0, 100]");
    }
    b.vpdq_threshold = it->get<double>();
  }
  if (auto it = j->find("face_max_distance"); it != j->end()) {
    if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 2) {
      return Error(400, "invalid_request", "\"face_max_distance\" must be a number in (0, 2]");
    }
    b.face_max_distance = it->get<double>();
  }
  if (auto it = j->find("review_policy"); it != j->end()) {
    if (!it->is_string() || (*it != "review" && *it != "auto_approve")) {
      return Error(400, "invalid_request", "\"review_policy\" must be review or auto_approve");
    }
    b.auto_approve = *it == "auto_approve";
  }
  Result<store::Bank> created = service->CreateBank(b, who->Actor());
  if (!created.ok()) {
    if (created.status().code() == ErrorCode::kInvalidArgument)
      return Error(409, "conflict", created.status().message());
    return FromStatus(created.status());
  }
  return JsonResponse(201, BankJson(*created));
}

HttpResponse Api::Impl::ListBanks(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kAdmin, Role::kCaseworker}, &err);
  if (!who) return err;
  Result<std::vector<store::Bank>> banks = service->store().ListBanks();
  if (!banks.ok()) return FromStatus(banks.status());
  Json list = Json::array();
  for (const auto& b : *banks) list.push_back(BankJson(b));
  return JsonResponse(200, {{"banks", list}});
}

HttpResponse Api::Impl::AddBankSignals(const HttpRequest& req, std::string_view id) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kCaseworker, Role::kAdmin}, &err);
  if (!who) return err;
  std::optional<std::int64_t> bid = ParseId(id);
  if (!bid) return Error(404, "not_found", "no bank with id " + std::string(id.substr(0, 40)));
  Result<std::vector<store::NewSignal>> signals = ParseSignalsBody(req.body, options.max_signals);
  if (!signals.ok()) return FromStatus(signals.status());
  Result<std::vector<store::StoredSignal>> added = service->AddBankSignals(*bid, *signals, who->Actor());
  if (!added.ok()) return FromStatus(added.status());
  Json list = Json::array();
  for (const auto& s : *added)
    list.push_back({{"id", s.id}, {"state", store::SignalStateName(s.state)}, {"seq", s.seq}});
  return JsonResponse(201, {{"bank_id", *bid}, {"signals", list}});
}

HttpResponse Api::Impl::CreateOrganisation(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kAdmin}, &err);
  if (!who) return err;
  Result<Json> j = ParseJson(req.body);
  if (!j.ok()) return FromStatus(j.status());
  if (!j->is_object()) return Error(400, "invalid_request", "the body must be a JSON object");
  Result<std::string> name = RequireString(*j, "name", "organisation");
  if (!name.ok()) return FromStatus(name.status());
  if (name->empty() || name->size() > 200) return Error(400, "invalid_request", "\"name\" must be 1..200 bytes");
  Result<store::Organisation> org = service->store().CreateOrganisation(*name, who->Actor());
  if (!org.ok()) {
    if (org.status().code() == ErrorCode::kInvalidArgument) return Error(409, "conflict", org.status().message());
    return FromStatus(org.status());
  }
  return JsonResponse(201, {{"id", org->id}, {"name", org->name}, {"created", org->created_at}});
}

HttpResponse Api::Impl::ListOrganisations(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kAdmin}, &err);
  if (!who) return err;
  Result<std::vector<store::Organisation>> orgs = service->store().ListOrganisations();
  if (!orgs.ok()) return FromStatus(orgs.status());
  Json list = Json::array();
  for (const auto& o : *orgs) list.push_back({{"id", o.id}, {"name", o.name}, {"created", o.created_at}});
  return JsonResponse(200, {{"organisations", list}});
}

HttpResponse Api::Impl::CreateKey(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kAdmin}, &err);
  if (!who) return err;
  Result<Json> j = ParseJson(req.body);
  if (!j.ok()) return FromStatus(j.status());
  if (!j->is_object()) return Error(400, "invalid_request", "the body must be a JSON object");
  Result<std::string> role_name = RequireString(*j, "role", "key");
  if (!role_name.ok()) return FromStatus(role_name.status());
  std::optional<Role> role = store::ParseRole(*role_name);
  if (!role)
    return Error(400, "invalid_request", "\"role\" must be admin, caseworker, platform, investigator or flagger");
  std::optional<std::int64_t> org;
  if (auto it = j->find("org_id"); it != j->end() && !it->is_null()) {
    if (!it->is_number_integer()) return Error(400, "invalid_request", "\"org_id\" must be an integer");
    org = it->get<std::int64_t>();
  }
  std::string label;
  if (auto it = j->find("label"); it != j->end()) {
    if (!it->is_string()) return Error(400, "invalid_request", "\"label\" must be a string");
    label = it->get<std::string>().substr(0, 200);
  }
  Result<std::pair<store::ApiKey, std::string>> key = service->CreateKey(*role, org, label, who->Actor());
  if (!key.ok()) return FromStatus(key.status());
  Json out = KeyJson(key->first);
  out["key"] = key->second;
  out["notice"] = "The key is shown only this once; store it in a secret manager.";
  return JsonResponse(201, out);
}

HttpResponse Api::Impl::ListKeys(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kAdmin}, &err);
  if (!who) return err;
  Result<std::vector<store::ApiKey>> keys = service->store().ListApiKeys();
  if (!keys.ok()) return FromStatus(keys.status());
  Json list = Json::array();
  for (const auto& k : *keys) list.push_back(KeyJson(k));
  return JsonResponse(200, {{"keys", list}});
}

HttpResponse Api::Impl::RevokeKey(const HttpRequest& req, std::string_view id) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kAdmin}, &err);
  if (!who) return err;
  std::optional<std::int64_t> kid = ParseId(id);
  if (!kid) return Error(404, "not_found", "no key with id " + std::string(id.substr(0, 40)));
  Status st = service->RevokeKey(*kid, who->Actor());
  if (!st.ok()) return FromStatus(st);
  return JsonResponse(200, {{"id", *kid}, {"revoked", true}});
}

HttpResponse Api::Impl::Audit(const HttpRequest& req) {
  HttpResponse err;
  std::optional<cases::Principal> who = Authorize(req, {Role::kAdmin}, &err);
  if (!who) return err;
  Result<std::int64_t> before = QueryInt(req, "before", 0, 0, INT64_MAX);
  Result<std::int64_t> limit = QueryInt(req, "limit", 100, 1, 1000);
  if (!before.ok()) return FromStatus(before.status());
  if (!limit.ok()) return FromStatus(limit.status());
  Result<std::vector<store::AuditEntry>> entries = service->store().ListAudit(*before, static_cast<int>(*limit));
  if (!entries.ok()) return FromStatus(entries.status());
  Json list = Json::array();
  for (const auto& e : *entries) {
    list.push_back({{"id", e.id},
                    {"at", e.at},
                    {"actor", e.actor},
                    {"action", e.action},
                    {"object", e.object},
                    {"detail", e.detail}});
  }
  return JsonResponse(200, {{"entries", list}});
}

}  // namespace takeback::server
