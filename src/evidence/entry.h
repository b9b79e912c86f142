// One evidence log entry: what was captured, where and when it was seen, by
// whom. Its canonical JSON encoding (docs/formats/evidence-log.md) is the
// Merkle leaf, so every field is covered by the log's signatures.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "evidence/canonical_json.h"

namespace takeback::evidence {

inline constexpr std::int64_t kEntryVersion = 1;

// Where the item was seen. Empty strings are "not known" and are left out
// of the encoding.
struct Source {
  std::string kind;        // "chat", "url", "path", "upload" or another short word
  std::string chat;        // chat or channel name / id
  std::string message_id;  // message id within the chat
  std::string sender_id;   // account that sent or posted the item
  std::string url;
  std::string path;  // file path on the capturing machine

  bool operator==(const Source&) const = default;
};

struct Entry {
  std::string sha256;  // lower-case hex of the original bytes
  std::uint64_t size = 0;
  std::string media_type;  // "image/jpeg", "application/octet-stream", ...
  Source source;
  std::string observed_time;  // when the item was seen at its source (RFC 3339 UTC); may be empty
  std::string captured_time;  // when it was captured (RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ")
  std::string captured_by;    // the capturing user
  std::string tool;           // "takeback 0.1.0"
  std::string case_ref;       // case reference; may be empty
  std::string note;           // free text; may be empty

  bool operator==(const Entry&) const = default;
};

// Checks the fields a well-formed entry must have (a 64-digit lower-case
// sha256, a source kind, a captured time and user, RFC 3339 UTC times).
Status ValidateEntry(const Entry& entry);

JsonValue EntryToJson(const Entry& entry);
// kCorrupt naming the field when `value` is not a valid entry object
// (unknown fields are refused: they would be signed but never shown).
Result<Entry> EntryFromJson(const JsonValue& value);

// The canonical bytes (the Merkle leaf). kInvalidArgument when the entry is
// invalid (ValidateEntry) or holds non-UTF-8 text.
Result<std::string> EncodeEntry(const Entry& entry);
// Parses canonical bytes; kCorrupt unless they are exactly canonical.
Result<Entry> DecodeEntry(std::string_view bytes);

// True for "YYYY-MM-DDTHH:MM:SSZ" with plausible field ranges.
bool IsUtcTime(std::string_view text);
// Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ".
std::string FormatUtcTime(std::int64_t unix_seconds);

}  // namespace takeback::evidence
