// Telegram Desktop JSON exports ("Export chat history -> JSON"): a streaming
// reader of result.json that hands over one message at a time, so that a
// multi-gigabyte export is read with bounded memory.
//
// Accepted shapes: a single chat ({name, type, id, messages:[...]}) and a
// whole-account export ({..., chats:{list:[chat...]}, left_chats:{list:[...]}}).
// Field names and conventions: DESIGN.md ("Telegram export").
//
// Every byte is untrusted: the reader never throws or aborts on bad input;
// invalid or truncated JSON ends the read with an error naming the byte
// offset, after every message read before it was delivered.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace takeback::scan {

struct TelegramChat {
  std::string name;
  std::string type;  // "private_supergroup", "public_channel", "personal_chat", ...
  std::optional<std::int64_t> id;
  std::size_t index = 0;  // 0-based order of the chat in the export
};

// A photo, file or thumbnail of a message. `path` is as written in the
// export (relative to its folder), or empty for a placeholder.
struct TelegramMedia {
  std::string field;        // "photo", "file" or "thumbnail"
  std::string path;         // relative path; empty when `placeholder` is set
  std::string placeholder;  // "(File not included. ...)" etc.: not downloaded
};

struct TelegramMessage {
  std::int64_t id = 0;
  bool has_id = false;
  std::string type;  // "message" or "service"
  std::string date;  // local time as exported, no offset (use date_unixtime)
  std::optional<std::int64_t> date_unixtime;
  std::string from;  // display name; empty when null or absent
  bool from_null = false;
  std::string from_id;  // "user123", "channel456"
  std::string forwarded_from;
  std::optional<std::int64_t> reply_to_message_id;
  std::string edited;  // local time
  std::optional<std::int64_t> edited_unixtime;
  std::optional<std::int64_t> self_destruct_period_seconds;
  std::string media_type;  // "video_file", "animation", "voice_message", ...
  std::string mime_type;
  std::string file_name;
  std::optional<std::int64_t> file_size;  // file_size or photo_file_size
  std::optional<std::int64_t> width;
  std::optional<std::int64_t> height;
  std::optional<std::int64_t> duration_seconds;
  std::string text;  // string form, or the array form's pieces concatenated
  std::vector<TelegramMedia> media;
};

struct TelegramReadLimits {
  // A message whose strings add up to more than this is skipped with a
  // warning (Telegram's own limit is 4096 characters of text).
  std::size_t max_message_bytes = std::size_t{16} << 20;
  // Deeper nesting is refused as hostile.
  std::size_t max_depth = 64;
};

class TelegramVisitor {
 public:
  virtual ~TelegramVisitor() = default;
  // Called when a chat's "messages" array starts (its name/type/id read so
  // far, which Telegram writes before the messages).
  virtual void OnChat(const TelegramChat& chat) = 0;
  // One complete message of `chat`.
  virtual void OnMessage(const TelegramChat& chat, TelegramMessage&& message) = 0;
  // Something odd but survivable (a skipped oversized message, ...).
  virtual void OnWarning(const std::string& warning) = 0;
};

struct TelegramReadResult {
  std::size_t chats = 0;
  std::size_t messages = 0;
  std::uint64_t bytes = 0;  // bytes consumed
};

// Reads `in` to its end. Returns the counts on success. Errors: kCorrupt
// "invalid JSON at byte N: ..." (the export is damaged or truncated; every
// message before that point was delivered), kCorrupt when the document is
// JSON but not a Telegram export (no "messages" anywhere).
Result<TelegramReadResult> ReadTelegramExport(std::istream& in, TelegramVisitor& visitor,
                                              const TelegramReadLimits& limits = {});

// The public link of a message when the chat type allows one:
// "https://t.me/c/<id>/<message>" for supergroups and channels (the bare id,
// with a leading -100 removed); empty otherwise.
std::string TelegramMessageLink(const TelegramChat& chat, std::int64_t message_id);

}  // namespace takeback::scan
