#include "evidence/entry.h"

#include <algorithm>
#include <ctime>
#include <utility>

namespace takeback::evidence {
namespace {

bool IsLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void PutString(JsonValue::Object& object, std::string key, const std::string& value) {
  if (!value.empty()) object.emplace_back(std::move(key), value);
}

Status TakeString(const JsonValue& object, std::string_view key, bool required, std::string& out) {
  const JsonValue* v = object.Find(key);
  if (v == nullptr) {
    if (required) return Corrupt("entry has no '" + std::string(key) + "'");
    return Status::Ok();
  }
  if (!v->is_string()) return Corrupt("entry field '" + std::string(key) + "' is not a string");
  out = v->as_string();
  if (out.empty()) return Corrupt("entry field '" + std::string(key) + "' is empty (omit it instead)");
  return Status::Ok();
}

Status CheckKeys(const JsonValue& object, std::initializer_list<std::string_view> allowed, std::string_view what) {
  for (const auto& [key, value] : object.as_object()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Corrupt(std::string(what) + " has an unknown field '" + key + "'");
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsUtcTime(std::string_view t) {
  if (t.size() != 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' || t[19] != 'Z') {
    return false;
  }
  auto num = [&](std::size_t pos, std::size_t len, int lo, int hi) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      v = v * 10 + (t[i] - '0');
    }
    return v >= lo && v <= hi;
  };
  return num(0, 4, 1970, 9999) && num(5, 2, 1, 12) && num(8, 2, 1, 31) && num(11, 2, 0, 23) && num(14, 2, 0, 59) &&
         num(17, 2, 0, 60);
}

std::string FormatUtcTime(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32] = {};
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status ValidateEntry(const Entry& e) {
  if (!IsLowerHex64(e.sha256)) return InvalidArgument("entry sha256 must be 64 lower-case hex digits");
  if (e.media_type.empty()) return InvalidArgument("entry has no media type");
  if (e.source.kind.empty()) return InvalidArgument("entry source has no kind");
  if (!IsUtcTime(e.captured_time)) return InvalidArgument("entry captured time must be YYYY-MM-DDTHH:MM:SSZ");
  if (!e.observed_time.empty() && !IsUtcTime(e.observed_time)) {
    return InvalidArgument("observed time must be YYYY-MM-DDTHH:MM:SSZ (UTC), got '" + e.observed_time + "'");
  }
  if (e.captured_by.empty()) return InvalidArgument("entry has no capturing user");
  if (e.tool.empty()) return InvalidArgument("entry has no tool version");
  if (e.size > static_cast<std::uint64_t>(INT64_MAX)) return InvalidArgument("entry size out of range");
  return Status::Ok();
}

JsonValue EntryToJson(const Entry& e) {
  JsonValue::Object source;
  PutString(source, "kind", e.source.kind);
  PutString(source, "chat", e.source.chat);
  PutString(source, "message_id", e.source.message_id);
  PutString(source, "sender_id", e.source.sender_id);
  PutString(source, "url", e.source.url);
  PutString(source, "path", e.source.path);
  JsonValue::Object o;
  o.emplace_back("v", kEntryVersion);
  o.emplace_back("sha256", e.sha256);
  o.emplace_back("size", static_cast<std::int64_t>(e.size));
  PutString(o, "media_type", e.media_type);
  o.emplace_back("source", std::move(source));
  PutString(o, "observed_time", e.observed_time);
  PutString(o, "captured_time", e.captured_time);
  PutString(o, "captured_by", e.captured_by);
  PutString(o, "tool", e.tool);
  PutString(o, "case", e.case_ref);
  PutString(o, "note", e.note);
  return o;
}

Result<Entry> EntryFromJson(const JsonValue& v) {
  if (!v.is_object()) return Corrupt("entry is not a JSON object");
  TAKEBACK_RETURN_IF_ERROR(CheckKeys(v,
                                     {"v", "sha256", "size", "media_type", "source", "observed_time", "captured_time",
                                      "captured_by", "tool", "case", "note"},
                                     "entry"));
  const JsonValue* version = v.Find("v");
  if (version == nullptr || !version->is_int() || version->as_int() != kEntryVersion) {
    return Corrupt("entry version 'v' is missing or not 1");
  }
  Entry e;
  TAKEBACK_RETURN_IF_ERROR(TakeString(v, "sha256", true, e.sha256));
  const JsonValue* size = v.Find("size");
  if (size == nullptr || !size->is_int() || size->as_int() < 0) return Corrupt("entry 'size' is missing or negative");
  e.size = static_cast<std::uint64_t>(size->as_int());
  TAKEBACK_RETURN_IF_ERROR(TakeString(v, "media_type", true, e.media_type));
  const JsonValue* source = v.Find("source");
  if (source == nullptr || !source->is_object()) return Corrupt("entry 'source' is missing or not an object");
  TAKEBACK_RETURN_IF_ERROR(
      CheckKeys(*source, {"kind", "chat", "message_id", "sender_id", "url", "path"}, "entry source"));
  TAKEBACK_RETURN_IF_ERROR(TakeString(*source, "kind", true, e.source.kind));
  TAKEBACK_RETURN_IF_ERROR(TakeString(*source, "chat", false, e.source.chat));
  TAKEBACK_RETURN_IF_ERROR(TakeString(*source, "message_id", false, e.source.message_id));
  TAKEBACK_RETURN_IF_ERROR(TakeString(*source, "sender_id", false, e.source.sender_id));
  TAKEBACK_RETURN_IF_ERROR(TakeString(*source, "url", false, e.source.url));
  TAKEBACK_RETURN_IF_ERROR(TakeString(*source, "path", false, e.source.path));
  TAKEBACK_RETURN_IF_ERROR(TakeString(v, "observed_time", false, e.observed_time));
  TAKEBACK_RETURN_IF_ERROR(TakeString(v, "captured_time", true, e.captured_time));
  TAKEBACK_RETURN_IF_ERROR(TakeString(v, "captured_by", true, e.captured_by));
  TAKEBACK_RETURN_IF_ERROR(TakeString(v, "tool", true, e.tool));
  TAKEBACK_RETURN_IF_ERROR(TakeString(v, "case", false, e.case_ref));
  TAKEBACK_RETURN_IF_ERROR(TakeString(v, "note", false, e.note));
  const Status valid = ValidateEntry(e);
  if (!valid.ok()) return Corrupt(valid.message());
  return e;
}

Result<std::string> EncodeEntry(const Entry& entry) {
  TAKEBACK_RETURN_IF_ERROR(ValidateEntry(entry));
  return EncodeCanonical(EntryToJson(entry));
}

Result<Entry> DecodeEntry(std::string_view bytes) {
  Result<JsonValue> value = ParseJson(bytes, /*require_canonical=*/true);
  if (!value.ok()) return value.status();
  return EntryFromJson(*value);
}

}  // namespace takeback::evidence
