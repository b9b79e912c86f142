#include "scan/report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "hash/digest.h"

namespace takeback::scan {
namespace {

using OJson = nlohmann::ordered_json;

std::string Dump(const OJson& value, int indent) {
  return value.dump(indent, ' ', false, OJson::error_handler_t::replace);
}

double Round(double v, double scale) { return std::round(v * scale) / scale; }

template <typename T>
void PutOptional(OJson& out, const char* key, const std::optional<T>& value) {
  if (value) out[key] = *value;
}
void PutString(OJson& out, const char* key, const std::string& value) {
  if (!value.empty()) out[key] = value;
}

OJson SourceJson(const SourceRef& s) {
  OJson out;
  out["kind"] = s.kind;
  if (s.kind == "telegram") {
    OJson chat;
    chat["name"] = s.chat_name;
    chat["type"] = s.chat_type;
    PutOptional(chat, "id", s.chat_id);
    out["chat"] = std::move(chat);
    PutOptional(out, "message_id", s.message_id);
    PutString(out, "link", s.link);
    PutOptional(out, "date_unixtime", s.date_unixtime);
    if (s.date_unixtime) out["date_utc"] = UtcTime(*s.date_unixtime);
    PutString(out, "date_local", s.date_local);
    OJson sender;
    sender["name"] = s.sender_name.empty() ? OJson(nullptr) : OJson(s.sender_name);
    sender["id"] = s.sender_id;
    out["sender"] = std::move(sender);
    PutString(out, "forwarded_from", s.forwarded_from);
    PutOptional(out, "reply_to_message_id", s.reply_to_message_id);
    PutString(out, "edited", s.edited);
    PutOptional(out, "self_destruct_period_seconds", s.self_destruct_period_seconds);
    PutString(out, "text", s.text);
  }
  out["source_path"] = s.source_path;
  return out;
}

OJson FileJson(const FileRef& f) {
  OJson out;
  out["path"] = f.path;
  out["field"] = f.field;
  out["kind"] = f.kind;
  out["format"] = f.format;
  out["width"] = f.width;
  out["height"] = f.height;
  out["md5"] = f.md5;
  out["sha256"] = f.sha256;
  if (!f.pdq.empty()) {
    out["pdq"] = f.pdq;
    out["quality"] = f.quality;
  }
  out["faces"] = f.faces;
  return out;
}

// A stable key for a sender: the account id, or the display name when the
// export gives no id.
std::string SenderKey(const SourceRef& s) { return s.sender_id.empty() ? "name:" + s.sender_name : s.sender_id; }

struct SenderInfo {
  std::string id;
  std::string name;
  std::vector<std::size_t> matches;
  std::vector<std::size_t> doxxing;
  std::set<std::size_t> cases;
  std::set<std::string> chats;
  std::optional<std::int64_t> first;
  std::optional<std::int64_t> last;

  void Seen(const SourceRef& s) {
    if (name.empty()) name = s.sender_name;
    chats.insert(s.chat_name);
    if (s.date_unixtime) {
      if (!first || *s.date_unixtime < *first) first = s.date_unixtime;
      if (!last || *s.date_unixtime > *last) last = s.date_unixtime;
    }
  }
};

std::vector<SenderInfo> Senders(const ScanReport& report) {
  std::map<std::string, SenderInfo> by_key;
  for (std::size_t i = 0; i < report.matches.size(); ++i) {
    const MatchRecord& m = report.matches[i];
    if (m.source.kind != "telegram") continue;
    SenderInfo& s = by_key[SenderKey(m.source)];
    s.id = m.source.sender_id;
    s.matches.push_back(i);
    s.cases.insert(m.case_index);
    s.Seen(m.source);
  }
  for (std::size_t i = 0; i < report.doxxing.size(); ++i) {
    const DoxxingRecord& d = report.doxxing[i];
    SenderInfo& s = by_key[SenderKey(d.source)];
    s.id = d.source.sender_id;
    s.doxxing.push_back(i);
    s.cases.insert(d.case_index);
    s.Seen(d.source);
  }
  std::vector<SenderInfo> out;
  for (auto& [key, info] : by_key) out.push_back(std::move(info));
  // Most matches first: the people an investigator looks at first.
  std::stable_sort(out.begin(), out.end(), [](const SenderInfo& a, const SenderInfo& b) {
    return a.matches.size() + a.doxxing.size() > b.matches.size() + b.doxxing.size();
  });
  return out;
}

struct TimelineEvent {
  std::optional<std::int64_t> time;
  std::string kind;  // "match" or "doxxing"
  std::size_t record = 0;
  const SourceRef* source = nullptr;
  std::string what;
};

std::vector<std::vector<TimelineEvent>> Timelines(const ScanReport& report) {
  std::vector<std::vector<TimelineEvent>> out(report.cases.size());
  for (std::size_t i = 0; i < report.matches.size(); ++i) {
    const MatchRecord& m = report.matches[i];
    if (m.case_index >= out.size()) continue;
    out[m.case_index].push_back({m.source.date_unixtime, "match", i, &m.source, m.signal_type + " " + m.signal_label});
  }
  for (std::size_t i = 0; i < report.doxxing.size(); ++i) {
    const DoxxingRecord& d = report.doxxing[i];
    if (d.case_index >= out.size()) continue;
    out[d.case_index].push_back({d.source.date_unixtime, "doxxing", i, &d.source, d.kind + " \"" + d.term + "\""});
  }
  for (auto& events : out) {
    std::stable_sort(events.begin(), events.end(), [](const TimelineEvent& a, const TimelineEvent& b) {
      return a.time.value_or(INT64_MAX) < b.time.value_or(INT64_MAX);
    });
  }
  return out;
}

std::string Base64(std::span<const std::uint8_t> bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t v = std::uint32_t{bytes[i]} << 16;
    if (i + 1 < bytes.size()) v |= std::uint32_t{bytes[i + 1]} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string CspHash(std::string_view text) {
  const hash::FileDigests d =
      hash::ComputeDigests(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  return "'sha256-" + Base64(d.sha256) + "'";
}

// Escapes text for HTML element content and quoted attribute values. Bytes
// that are not valid UTF-8 pass through the JSON layer's replacement first
// (FixUtf8), so the browser never re-interprets them.
std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Invalid UTF-8 replaced by U+FFFD (through the JSON serializer's handler).
std::string FixUtf8(const std::string& s) {
  const std::string quoted = OJson(s).dump(-1, ' ', false, OJson::error_handler_t::replace);
  return OJson::parse(quoted).get<std::string>();
}

std::string E(const std::string& s) { return Escape(FixUtf8(s)); }

std::string ImageMime(const std::string& format) {
  if (format == "jpeg") return "image/jpeg";
  if (format == "png") return "image/png";
  if (format == "webp") return "image/webp";
  if (format == "gif") return "image/gif";
  if (format == "bmp") return "image/bmp";
  return {};
}

std::string When(const SourceRef& s) { return s.date_unixtime ? UtcTime(*s.date_unixtime) : std::string("?"); }

std::string Where(const SourceRef& s) {
  if (s.kind != "telegram") return E(s.source_path);
  std::string out = E(s.chat_name);
  if (s.message_id) {
    out += " #" + std::to_string(*s.message_id);
    if (!s.link.empty()) out += " <a href=\"" + E(s.link) + "\" rel=\"noreferrer\">" + E(s.link) + "</a>";
  }
  return out;
}

std::string Sender(const SourceRef& s) {
  if (s.kind != "telegram") return "";
  return (s.sender_name.empty() ? std::string("(no name)") : E(s.sender_name)) + " <code>" + E(s.sender_id) + "</code>";
}

constexpr std::string_view kScript =
    "document.addEventListener('click',function(e){var t=e.target;"
    "if(t&&t.classList&&t.classList.contains('blur')){t.classList.toggle('clear');}});";

constexpr std::string_view kStyle =
    "body{font-family:sans-serif;margin:1.5em;max-width:80em;color:#222}"
    "table{border-collapse:collapse;width:100%;margin-bottom:1.5em}"
    "td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left;font-size:.9em}"
    "th{background:#f2f2f2}code{font-size:.85em;word-break:break-all}"
    "img.blur{filter:blur(24px);max-width:200px;max-height:200px;cursor:pointer}"
    "img.blur.clear{filter:none}.review{color:#a40}.flag{color:#b00;font-weight:bold}"
    ".warn{color:#a40}.note{color:#555;font-size:.9em}";

}  // namespace

std::string UtcTime(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  if (::gmtime_r(&t, &utc) == nullptr) return "?";
  std::array<char, 32> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(buf.data(), n);
}

std::string FormatReportJson(const ScanReport& report) {
  OJson root;
  root["format"] = "takeback-scan-report";
  root["version"] = 1;
  root["tool"] = report.tool;
  root["started"] = report.started;
  root["finished"] = report.finished;
  root["truncated"] = report.truncated;
  OJson summary;
  std::size_t messages = 0;
  for (const SourceSummary& s : report.sources) messages += s.messages;
  summary["messages"] = messages;
  summary["files_hashed"] = report.files_hashed;
  summary["matches"] = report.matches.size();
  summary["review_required"] = std::count_if(report.matches.begin(), report.matches.end(),
                                             [](const MatchRecord& m) { return m.review_required; });
  summary["doxxing"] = report.doxxing.size();
  summary["missing"] = report.missing_count;
  summary["failures"] = report.failure_count;
  summary["warnings"] = report.warning_count;
  root["summary"] = std::move(summary);
  OJson cases = OJson::array();
  for (std::size_t i = 0; i < report.cases.size(); ++i) {
    const CaseSummary& c = report.cases[i];
    OJson entry = {{"index", i}, {"case_ref", c.case_ref}, {"file", c.file}};
    if (c.kind == "case") entry["case_number"] = c.name;
    if (c.kind == "bank") entry["bank"] = c.name;
    entry["signals"] = c.signals;
    entry["watch_terms"] = c.watch_terms;
    cases.push_back(std::move(entry));
  }
  root["cases"] = std::move(cases);
  OJson sources = OJson::array();
  for (const SourceSummary& s : report.sources) {
    OJson src;
    src["kind"] = s.kind;
    src["path"] = s.path;
    if (s.kind == "telegram") {
      OJson chats = OJson::array();
      for (const SourceSummary::Chat& c : s.chats) {
        OJson chat;
        chat["name"] = c.name;
        chat["type"] = c.type;
        PutOptional(chat, "id", c.id);
        chat["messages"] = c.messages;
        chats.push_back(std::move(chat));
      }
      src["chats"] = std::move(chats);
      src["messages"] = s.messages;
    }
    src["files"] = s.files;
    src["truncated"] = s.truncated;
    if (!s.error.empty()) src["error"] = s.error;
    sources.push_back(std::move(src));
  }
  root["sources"] = std::move(sources);
  OJson matches = OJson::array();
  for (const MatchRecord& m : report.matches) {
    OJson out;
    out["case"] = m.case_index;
    out["case_ref"] = m.case_ref;
    if (m.case_kind == "case") out["case_number"] = m.case_name;
    if (m.case_kind == "bank") out["bank"] = m.case_name;
    OJson signal;
    signal["index"] = m.signal_index;
    PutOptional(signal, "id", m.signal_id);
    signal["type"] = m.signal_type;
    signal["label"] = m.signal_label;
    out["signal"] = std::move(signal);
    out["distance"] = m.signal_type == "face" ? Round(m.distance, 1e4) : Round(m.distance, 1e2);
    out["threshold"] = m.threshold;
    if (!m.variant.empty()) out["variant"] = m.variant;
    if (m.signal_type == "vpdq") {
      out["query_percent"] = Round(m.query_percent, 1e2);
      out["target_percent"] = Round(m.target_percent, 1e2);
    }
    out["review_required"] = m.review_required;
    out["source"] = SourceJson(m.source);
    out["file"] = FileJson(m.file);
    PutOptional(out, "evidence_index", m.evidence_index);
    matches.push_back(std::move(out));
  }
  root["matches"] = std::move(matches);
  OJson doxxing = OJson::array();
  for (const DoxxingRecord& d : report.doxxing) {
    doxxing.push_back({{"case", d.case_index},
                       {"case_ref", d.case_ref},
                       {"term", d.term},
                       {"kind", d.kind},
                       {"matched", d.matched},
                       {"excerpt", d.excerpt},
                       {"source", SourceJson(d.source)}});
  }
  root["doxxing"] = std::move(doxxing);
  OJson senders = OJson::array();
  for (const SenderInfo& s : Senders(report)) {
    OJson out;
    out["id"] = s.id;
    out["name"] = s.name.empty() ? OJson(nullptr) : OJson(s.name);
    out["matches"] = s.matches;
    out["doxxing"] = s.doxxing;
    out["cases"] = s.cases;
    out["chats"] = s.chats;
    if (s.first) out["first_seen"] = UtcTime(*s.first);
    if (s.last) out["last_seen"] = UtcTime(*s.last);
    out["multiple_cases"] = s.cases.size() > 1;
    senders.push_back(std::move(out));
  }
  root["senders"] = std::move(senders);
  OJson timelines = OJson::array();
  const std::vector<std::vector<TimelineEvent>> per_case = Timelines(report);
  for (std::size_t c = 0; c < per_case.size(); ++c) {
    OJson events = OJson::array();
    for (const TimelineEvent& e : per_case[c]) {
      OJson ev;
      if (e.time) ev["time"] = UtcTime(*e.time);
      ev["kind"] = e.kind;
      ev["record"] = e.record;
      ev["what"] = e.what;
      ev["chat"] = e.source->chat_name;
      PutOptional(ev, "message_id", e.source->message_id);
      PutString(ev, "link", e.source->link);
      ev["sender_id"] = e.source->sender_id;
      events.push_back(std::move(ev));
    }
    timelines.push_back({{"case", c}, {"case_ref", report.cases[c].case_ref}, {"events", std::move(events)}});
  }
  root["timelines"] = std::move(timelines);
  OJson missing = OJson::array();
  for (const MissingRecord& m : report.missing) {
    OJson out;
    out["field"] = m.field;
    PutString(out, "path", m.path);
    PutString(out, "placeholder", m.placeholder);
    out["reason"] = m.reason;
    PutString(out, "file_name", m.file_name);
    PutString(out, "media_type", m.media_type);
    PutString(out, "mime_type", m.mime_type);
    PutOptional(out, "file_size", m.file_size);
    PutOptional(out, "duration_seconds", m.duration_seconds);
    out["source"] = SourceJson(m.source);
    missing.push_back(std::move(out));
  }
  root["missing"] = std::move(missing);
  OJson failures = OJson::array();
  for (const FailureRecord& f : report.failures) {
    failures.push_back({{"path", f.path}, {"code", f.code}, {"message", f.message}, {"source", SourceJson(f.source)}});
  }
  root["failures"] = std::move(failures);
  root["warnings"] = report.warnings;
  return Dump(root, 1) + "\n";
}

std::string FormatReportHtml(const ScanReport& report, const HtmlOptions& options) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src " +
       CspHash(kStyle) + "; script-src " + CspHash(kScript) + "; base-uri 'none'; form-action 'none'\">\n";
  h += "<meta name=\"referrer\" content=\"no-referrer\">\n";
  h += "<title>Takeback scan report</title>\n<style>" + std::string(kStyle) + "</style>\n</head><body>\n";
  h += "<h1>Takeback scan report</h1>\n";
  h += "<p class=\"note\">Images are blurred; click one to show it, click again to blur it. A face match is a lead "
       "for human review, never proof. This file makes no network requests.</p>\n";
  std::size_t messages = 0;
  for (const SourceSummary& s : report.sources) messages += s.messages;
  h += "<p id=\"summary\">" + std::to_string(report.matches.size()) + " matches, " +
       std::to_string(report.doxxing.size()) + " doxxing hits, " + std::to_string(report.missing_count) +
       " missing files, " + std::to_string(report.failure_count) + " unreadable files; " + std::to_string(messages) +
       " messages and " + std::to_string(report.files_hashed) + " files scanned (" + E(report.started) + " to " +
       E(report.finished) + ", " + E(report.tool) + ").</p>\n";
  if (report.truncated) {
    h += "<p class=\"flag\" id=\"truncated\">A source could not be read to its end (damaged or truncated export): "
         "this report covers only what was read.</p>\n";
  }
  h += "<h2>Sources</h2>\n<ul>\n";
  for (const SourceSummary& s : report.sources) {
    h += "<li>" + E(s.kind) + ": <code>" + E(s.path) + "</code>";
    for (const SourceSummary::Chat& c : s.chats) {
      h += "; chat &ldquo;" + E(c.name) + "&rdquo; (" + E(c.type) +
           (c.id ? ", id " + std::to_string(*c.id) : std::string()) + ", " + std::to_string(c.messages) + " messages)";
    }
    if (!s.error.empty()) h += " <span class=\"flag\">" + E(s.error) + "</span>";
    h += "</li>\n";
  }
  h += "</ul>\n<h2>Cases</h2>\n<ul>\n";
  for (std::size_t i = 0; i < report.cases.size(); ++i) {
    const CaseSummary& c = report.cases[i];
    h += "<li>" + (c.kind == "bank" ? std::string("bank ") : std::string("case ")) + std::to_string(i) +
         (c.kind.empty() ? std::string() : " <b>" + E(c.name) + "</b>") +
         (c.case_ref.empty() || c.case_ref == c.name ? std::string() : " &ldquo;" + E(c.case_ref) + "&rdquo;") + ": " +
         std::to_string(c.signals) + " signals, " + std::to_string(c.watch_terms.size()) + " watch terms (" +
         E(c.file) + ")</li>\n";
  }
  h += "</ul>\n<h2>Matches</h2>\n";
  h += "<table id=\"matches\"><tr><th>image</th><th>where</th><th>when (UTC)</th><th>sender</th><th>match</th>"
       "<th>file</th></tr>\n";
  for (std::size_t i = 0; i < report.matches.size(); ++i) {
    const MatchRecord& m = report.matches[i];
    std::string image;
    const std::string mime = ImageMime(m.file.format);
    if (options.embed_images && m.file.kind == "image" && !mime.empty() && !m.file.resolved.empty()) {
      Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(m.file.resolved, options.max_image_bytes);
      if (bytes.ok()) {
        image = "<img class=\"blur\" alt=\"matched image (blurred; click to show)\" src=\"data:" + mime + ";base64," +
                Base64(*bytes) + "\">";
      }
    }
    if (image.empty()) image = "<span class=\"note\">" + E(m.file.kind) + "</span>";
    std::string what =
        (m.case_kind == "bank" ? std::string("bank ") : std::string("case ")) +
        (m.case_kind.empty() ? std::to_string(m.case_index) : "<b>" + E(m.case_name) + "</b>") +
        (m.case_ref.empty() || m.case_ref == m.case_name ? std::string() : " &ldquo;" + E(m.case_ref) + "&rdquo;") +
        ": <b>" + E(m.signal_type) + "</b> " + E(m.signal_label) +
        (m.signal_id ? " (signal " + std::to_string(*m.signal_id) + ")" : std::string());
    char dist[64];
    std::snprintf(dist, sizeof(dist), m.signal_type == "face" ? "%.3f" : "%.0f", m.distance);
    if (m.signal_type == "pdq" || m.signal_type == "face") {
      what += ", distance " + std::string(dist) + " (limit " +
              (m.signal_type == "face" ? std::to_string(m.threshold).substr(0, 4)
                                       : std::to_string(static_cast<int>(m.threshold))) +
              ")";
    }
    if (!m.variant.empty() && m.variant != "orig") what += ", " + E(m.variant) + " copy";
    if (m.signal_type == "vpdq") {
      std::snprintf(dist, sizeof(dist), "%.0f%% / %.0f%%", m.query_percent, m.target_percent);
      what += ", frames found " + std::string(dist) + " (query / registered)";
    }
    if (m.review_required) what += " <span class=\"review\">needs human review</span>";
    std::string context;
    if (!m.source.forwarded_from.empty()) context += "<br>forwarded from " + E(m.source.forwarded_from);
    if (m.source.reply_to_message_id) context += "<br>reply to #" + std::to_string(*m.source.reply_to_message_id);
    if (!m.source.text.empty()) context += "<br><q>" + E(m.source.text) + "</q>";
    h += "<tr class=\"match\" data-message=\"" + (m.source.message_id ? std::to_string(*m.source.message_id) : "") +
         "\"><td>" + image + "</td><td>" + Where(m.source) + context + "</td><td>" + When(m.source) + "</td><td>" +
         Sender(m.source) + "</td><td>" + what + "</td><td><code>" + E(m.file.path) + "</code><br>sha256 <code>" +
         E(m.file.sha256) + "</code></td></tr>\n";
  }
  h += "</table>\n<h2>Who posted what</h2>\n<table id=\"senders\"><tr><th>sender</th><th>matches</th>"
       "<th>doxxing</th><th>cases</th><th>chats</th><th>first seen</th><th>last seen</th></tr>\n";
  for (const SenderInfo& s : Senders(report)) {
    std::string cases;
    for (const std::size_t c : s.cases) cases += (cases.empty() ? "" : ", ") + std::to_string(c);
    std::string chats;
    for (const std::string& c : s.chats) chats += (chats.empty() ? "" : "; ") + E(c);
    h += "<tr><td>" + (s.name.empty() ? std::string("(no name)") : E(s.name)) + " <code>" + E(s.id) + "</code>" +
         (s.cases.size() > 1 ? " <span class=\"flag\">posted for more than one case</span>" : "") + "</td><td>" +
         std::to_string(s.matches.size()) + "</td><td>" + std::to_string(s.doxxing.size()) + "</td><td>" + cases +
         "</td><td>" + chats + "</td><td>" + (s.first ? UtcTime(*s.first) : "?") + "</td><td>" +
         (s.last ? UtcTime(*s.last) : "?") + "</td></tr>\n";
  }
  h += "</table>\n<h2>Timeline per case</h2>\n";
  const std::vector<std::vector<TimelineEvent>> per_case = Timelines(report);
  for (std::size_t c = 0; c < per_case.size(); ++c) {
    h += "<h3>case " + std::to_string(c) + " " + E(report.cases[c].case_ref) + "</h3>\n<ol>\n";
    for (const TimelineEvent& e : per_case[c]) {
      h += "<li>" + (e.time ? UtcTime(*e.time) : std::string("?")) + ": " + E(e.kind) + " " + E(e.what) + " in " +
           Where(*e.source) + " by " + Sender(*e.source) + "</li>\n";
    }
    h += "</ol>\n";
  }
  h += "<h2>Doxxing</h2>\n<table id=\"doxxing\"><tr><th>where</th><th>when (UTC)</th><th>sender</th><th>term</th>"
       "<th>text</th></tr>\n";
  for (const DoxxingRecord& d : report.doxxing) {
    h += "<tr class=\"dox\" data-message=\"" + (d.source.message_id ? std::to_string(*d.source.message_id) : "") +
         "\"><td>" + Where(d.source) + "</td><td>" + When(d.source) + "</td><td>" + Sender(d.source) + "</td><td>" +
         E(d.kind) + " &ldquo;" + E(d.term) + "&rdquo; (case " + std::to_string(d.case_index) + ")</td><td>" +
         E(d.excerpt) + "</td></tr>\n";
  }
  h += "</table>\n<h2>Missing evidence</h2>\n<p class=\"note\">Media the export does not contain (not downloaded, "
       "deleted or refused): ask for a new export or preserve it another way before it self-destructs.</p>\n"
       "<table id=\"missing\"><tr><th>where</th><th>when (UTC)</th><th>sender</th><th>what</th><th>reason</th></tr>\n";
  for (const MissingRecord& m : report.missing) {
    std::string what = E(m.field) + " " + E(m.file_name) + " " + E(m.mime_type);
    if (m.file_size) what += ", " + std::to_string(*m.file_size) + " bytes";
    if (m.duration_seconds) what += ", " + std::to_string(*m.duration_seconds) + " s";
    if (m.source.self_destruct_period_seconds) {
      what += " <span class=\"flag\">self-destructs after " + std::to_string(*m.source.self_destruct_period_seconds) +
              " s</span>";
    }
    h += "<tr class=\"missing\" data-message=\"" + (m.source.message_id ? std::to_string(*m.source.message_id) : "") +
         "\"><td>" + Where(m.source) + "</td><td>" + When(m.source) + "</td><td>" + Sender(m.source) + "</td><td>" +
         what + "</td><td>" + E(m.reason) + "</td></tr>\n";
  }
  h += "</table>\n";
  if (!report.failures.empty()) {
    h += "<h2>Files that could not be read</h2>\n<ul>\n";
    for (const FailureRecord& f : report.failures) {
      h += "<li><code>" + E(f.path) + "</code>: " + E(f.code) + ": " + E(f.message) + "</li>\n";
    }
    h += "</ul>\n";
  }
  if (!report.warnings.empty()) {
    h += "<h2>Warnings</h2>\n<ul class=\"warn\">\n";
    for (const std::string& w : report.warnings) h += "<li>" + E(w) + "</li>\n";
    if (report.warning_count > report.warnings.size()) {
      h += "<li>… and " + std::to_string(report.warning_count - report.warnings.size()) + " more</li>\n";
    }
    h += "</ul>\n";
  }
  h += "<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  return h;
}

Status WriteTextFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError("cannot write " + tmp + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot write " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace takeback::scan
