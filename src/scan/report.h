// The scan report (docs/formats/scan-report.md): what `takeback scan` found,
// where and when, and who posted it; written as report.json and as a
// self-contained report.html (no network; images blurred until clicked;
// every text from the export is escaped, since chat text is written by
// whoever posted it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace takeback::scan {

// Where an item was seen.
struct SourceRef {
  std::string kind;         // "telegram" or "folder"
  std::string source_path;  // the export folder / the folder scanned
  std::string chat_name;
  std::string chat_type;
  std::optional<std::int64_t> chat_id;
  std::optional<std::int64_t> message_id;
  std::string link;  // https://t.me/c/<chat>/<message> when derivable
  std::optional<std::int64_t> date_unixtime;
  std::string date_local;  // as exported (no offset)
  std::string sender_name;
  std::string sender_id;
  std::string forwarded_from;
  std::optional<std::int64_t> reply_to_message_id;
  std::string edited;
  std::optional<std::int64_t> self_destruct_period_seconds;
  std::string text;  // the message text, shortened
};

struct FileRef {
  std::string path;      // as written in the export (or the folder path)
  std::string resolved;  // the real path read; empty when not read
  std::string field;     // "photo", "file", "thumbnail", or "file" for folders
  std::string kind;      // "image" or "video"
  std::string format;
  int width = 0;
  int height = 0;
  std::string md5;
  std::string sha256;
  std::string pdq;
  int quality = 0;
  std::size_t faces = 0;
};

struct MatchRecord {
  SourceRef source;
  FileRef file;
  std::size_t case_index = 0;
  std::string case_ref;
  std::string case_kind;  // "case" or "bank" when read from a store or server; empty for a signal file
  std::string case_name;  // the case number or the bank's name
  std::size_t signal_index = 0;
  std::optional<std::int64_t> signal_id;  // the signal's id in the store or server
  std::string signal_type;
  std::string signal_label;
  double distance = 0;
  double threshold = 0;
  std::string variant;
  bool review_required = false;
  double query_percent = 0;
  double target_percent = 0;
  std::optional<std::uint64_t> evidence_index;  // with --preserve
};

struct MissingRecord {
  SourceRef source;
  std::string field;        // "photo", "file", "thumbnail"
  std::string path;         // as written; empty for a placeholder
  std::string placeholder;  // Telegram's text, e.g. "(File not included. ...)"
  std::string reason;       // "not downloaded", "file not found", "refused: ..."
  std::string file_name;
  std::string media_type;
  std::string mime_type;
  std::optional<std::int64_t> file_size;
  std::optional<std::int64_t> duration_seconds;
};

struct DoxxingRecord {
  SourceRef source;
  std::size_t case_index = 0;
  std::string case_ref;
  std::string term;
  std::string kind;  // "phone" or "text"
  std::string matched;
  std::string excerpt;
};

struct FailureRecord {
  SourceRef source;
  std::string path;
  std::string code;
  std::string message;
};

struct SourceSummary {
  std::string kind;  // "telegram" or "folder"
  std::string path;
  struct Chat {
    std::string name;
    std::string type;
    std::optional<std::int64_t> id;
    std::size_t messages = 0;
  };
  std::vector<Chat> chats;
  std::size_t messages = 0;
  std::size_t files = 0;
  bool truncated = false;  // the export's JSON ended early or is damaged
  std::string error;
};

struct CaseSummary {
  std::string file;
  std::string case_ref;
  std::size_t signals = 0;
  std::vector<std::string> watch_terms;
  std::string kind = {};  // "case" / "bank" (from a store or server), empty for a signal-set file
  std::string name = {};  // the case number or the bank's name
};

// Lists are capped so that a hostile export cannot exhaust memory through
// the report; the counts keep counting past the caps.
inline constexpr std::size_t kMaxRecords = 100'000;
inline constexpr std::size_t kMaxWarnings = 1'000;

struct ScanReport {
  std::string tool;
  std::string started;  // RFC 3339 UTC
  std::string finished;
  std::vector<SourceSummary> sources;
  std::vector<CaseSummary> cases;
  std::vector<MatchRecord> matches;
  std::vector<MissingRecord> missing;
  std::vector<DoxxingRecord> doxxing;
  std::vector<FailureRecord> failures;
  std::vector<std::string> warnings;
  std::size_t files_hashed = 0;
  std::size_t missing_count = 0;
  std::size_t failure_count = 0;
  std::size_t warning_count = 0;
  bool truncated = false;  // some source could not be read to its end

  void AddWarning(std::string warning);
};

// report.json: the whole report (docs/formats/scan-report.md).
std::string FormatReportJson(const ScanReport& report);

struct HtmlOptions {
  // Embed matched images (read again from FileRef::resolved, at most this
  // many bytes each) as blurred data: URIs.
  bool embed_images = true;
  std::uint64_t max_image_bytes = std::uint64_t{8} << 20;
};

// report.html: self-contained (inline CSS, one inline script allowed by a
// hash-based Content-Security-Policy that forbids everything else: no
// network, no other script).
std::string FormatReportHtml(const ScanReport& report, const HtmlOptions& options);

// Writes `text` to `path` atomically (temporary file, then rename), 0600.
Status WriteTextFile(const std::string& path, const std::string& text);

// Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ".
std::string UtcTime(std::int64_t unix_seconds);

}  // namespace takeback::scan
