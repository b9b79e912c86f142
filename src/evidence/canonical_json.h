// Canonical JSON, the byte-exact encoding that evidence entries and signed
// statements are hashed and signed in (docs/formats/evidence-log.md):
// objects with keys sorted by their UTF-8 bytes, no whitespace, integers only
// (no fractions or exponents), strings in UTF-8 with only '"', '\\' and
// control characters escaped (\b \t \n \f \r, others as \u00xx lower-case),
// no duplicate keys. The same value always encodes to the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"

namespace takeback::evidence {

// A JSON value restricted to what canonical JSON allows (no null, no floats).
class JsonValue {
 public:
  using Object = std::vector<std::pair<std::string, JsonValue>>;  // any order; sorted on encoding
  using Array = std::vector<JsonValue>;

  JsonValue() : value_(Object{}) {}
  JsonValue(std::int64_t v) : value_(v) {}              // NOLINT(google-explicit-constructor)
  JsonValue(int v) : value_(std::int64_t{v}) {}         // NOLINT(google-explicit-constructor)
  JsonValue(bool v) : value_(v) {}                      // NOLINT(google-explicit-constructor)
  JsonValue(std::string v) : value_(std::move(v)) {}    // NOLINT(google-explicit-constructor)
  JsonValue(const char* v) : value_(std::string(v)) {}  // NOLINT(google-explicit-constructor)
  JsonValue(Array v) : value_(std::move(v)) {}          // NOLINT(google-explicit-constructor)
  JsonValue(Object v) : value_(std::move(v)) {}         // NOLINT(google-explicit-constructor)

  bool is_int() const { return std::holds_alternative<std::int64_t>(value_); }
  bool is_bool() const { return std::holds_alternative<bool>(value_); }
  bool is_string() const { return std::holds_alternative<std::string>(value_); }
  bool is_array() const { return std::holds_alternative<Array>(value_); }
  bool is_object() const { return std::holds_alternative<Object>(value_); }
  // Accessors: precondition is the matching is_*() (checked with std::get).
  std::int64_t as_int() const { return std::get<std::int64_t>(value_); }
  bool as_bool() const { return std::get<bool>(value_); }
  const std::string& as_string() const { return std::get<std::string>(value_); }
  const Array& as_array() const { return std::get<Array>(value_); }
  const Object& as_object() const { return std::get<Object>(value_); }
  Object& mutable_object() { return std::get<Object>(value_); }

  // The member named `key` of an object, or nullptr (also for non-objects).
  const JsonValue* Find(std::string_view key) const;

 private:
  std::variant<std::int64_t, bool, std::string, Array, Object> value_;
};

// Canonical bytes of `value`. kInvalidArgument when a string is not valid
// UTF-8 or an object has a duplicate key.
Result<std::string> EncodeCanonical(const JsonValue& value);

// Parses any JSON text into a JsonValue (kCorrupt on a syntax error, a null,
// a number with a fraction or exponent, or a duplicate key). With
// `require_canonical`, also kCorrupt unless `text` is exactly the canonical
// encoding of what it parses to.
Result<JsonValue> ParseJson(std::string_view text, bool require_canonical);

}  // namespace takeback::evidence
