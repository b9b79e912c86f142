#include "evidence/canonical_json.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

namespace takeback::evidence {
namespace {

bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Status EncodeString(std::string_view s, std::string& out) {
  if (!ValidUtf8(s)) return InvalidArgument("string is not valid UTF-8");
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return Status::Ok();
}

Status Encode(const JsonValue& value, std::string& out) {
  if (value.is_int()) {
    out += std::to_string(value.as_int());
  } else if (value.is_bool()) {
    out += value.as_bool() ? "true" : "false";
  } else if (value.is_string()) {
    TAKEBACK_RETURN_IF_ERROR(EncodeString(value.as_string(), out));
  } else if (value.is_array()) {
    out += '[';
    bool first = true;
    for (const JsonValue& item : value.as_array()) {
      if (!first) out += ',';
      first = false;
      TAKEBACK_RETURN_IF_ERROR(Encode(item, out));
    }
    out += ']';
  } else {
    std::vector<const std::pair<std::string, JsonValue>*> members;
    for (const auto& member : value.as_object()) members.push_back(&member);
    std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
    out += '{';
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (i > 0) {
        if (members[i]->first == members[i - 1]->first)
          return InvalidArgument("duplicate key '" + members[i]->first + "'");
        out += ',';
      }
      TAKEBACK_RETURN_IF_ERROR(EncodeString(members[i]->first, out));
      out += ':';
      TAKEBACK_RETURN_IF_ERROR(Encode(members[i]->second, out));
    }
    out += '}';
  }
  return Status::Ok();
}

Result<JsonValue> FromNlohmann(const nlohmann::json& j, int depth) {
  constexpr int kMaxDepth = 64;
  if (depth > kMaxDepth) return Corrupt("JSON nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::boolean:
      return JsonValue(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return JsonValue(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return Corrupt("integer out of range");
      return JsonValue(static_cast<std::int64_t>(u));
    }
    case nlohmann::json::value_t::string:
      return JsonValue(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      JsonValue::Array array;
      for (const nlohmann::json& item : j) {
        Result<JsonValue> v = FromNlohmann(item, depth + 1);
        if (!v.ok()) return v.status();
        array.push_back(std::move(*v));
      }
      return JsonValue(std::move(array));
    }
    case nlohmann::json::value_t::object: {
      JsonValue::Object object;
      for (const auto& [key, item] : j.items()) {
        Result<JsonValue> v = FromNlohmann(item, depth + 1);
        if (!v.ok()) return v.status();
        object.emplace_back(key, std::move(*v));
      }
      return JsonValue(std::move(object));
    }
    case nlohmann::json::value_t::null:
      return Corrupt("null is not allowed");
    case nlohmann::json::value_t::number_float:
      return Corrupt("only integers are allowed, not fractions or exponents");
    default:
      return Corrupt("unsupported JSON value");
  }
}

}  // namespace

const JsonValue* JsonValue::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : as_object()) {
    if (k == key) return &v;
  }
  return nullptr;
}

Result<std::string> EncodeCanonical(const JsonValue& value) {
  std::string out;
  TAKEBACK_RETURN_IF_ERROR(Encode(value, out));
  return out;
}

Result<JsonValue> ParseJson(std::string_view text, bool require_canonical) {
  // Duplicate keys are rejected by the parser callback: nlohmann would keep
  // the last one silently, and two readers could then disagree.
  bool duplicate = false;
  std::vector<std::set<std::string>> keys;
  const nlohmann::json::parser_callback_t callback = [&](int /*depth*/, nlohmann::json::parse_event_t event,
                                                         nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::object_start) keys.emplace_back();
    if (event == nlohmann::json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == nlohmann::json::parse_event_t::key && !keys.empty()) {
      if (!keys.back().insert(parsed.get<std::string>()).second) duplicate = true;
    }
    return true;
  };
  const nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt("not valid JSON");
  if (duplicate) return Corrupt("duplicate key in JSON object");
  Result<JsonValue> value = FromNlohmann(j, 0);
  if (!value.ok()) return value;
  if (require_canonical) {
    const Result<std::string> canonical = EncodeCanonical(*value);
    if (!canonical.ok()) return Corrupt(canonical.status().message());
    if (*canonical != text) return Corrupt("JSON is not in canonical form");
  }
  return value;
}

}  // namespace takeback::evidence
