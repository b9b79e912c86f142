#include "scan/telegram.h"

#include <charconv>
#include <exception>
#include <istream>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace takeback::scan {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kPlaceholderPrefix = "(File ";

std::optional<std::int64_t> AsInt(const Json& value) {
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (value.is_string()) {  // date_unixtime is written as a string
    const std::string& s = value.get_ref<const std::string&>();
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && ptr == s.data() + s.size()) return v;
  }
  return std::nullopt;
}

std::string AsString(const Json& value) { return value.is_string() ? value.get<std::string>() : std::string(); }

// The text of a message: a string, or an array of strings and {type, text}
// entities.
std::string FlattenText(const Json& text) {
  if (text.is_string()) return text.get<std::string>();
  std::string out;
  if (!text.is_array()) return out;
  for (const Json& part : text) {
    if (part.is_string()) {
      out += part.get_ref<const std::string&>();
    } else if (part.is_object()) {
      const auto t = part.find("text");
      if (t != part.end() && t->is_string()) out += t->get_ref<const std::string&>();
    }
  }
  return out;
}

TelegramMessage ToMessage(const Json& m) {
  TelegramMessage msg;
  auto get = [&](const char* key) -> const Json* {
    const auto it = m.find(key);
    return it == m.end() ? nullptr : &*it;
  };
  if (const Json* v = get("id")) {
    if (std::optional<std::int64_t> id = AsInt(*v)) {
      msg.id = *id;
      msg.has_id = true;
    }
  }
  auto str = [&](const char* key, std::string& out) {
    if (const Json* v = get(key)) out = AsString(*v);
  };
  auto num = [&](const char* key, std::optional<std::int64_t>& out) {
    if (const Json* v = get(key)) out = AsInt(*v);
  };
  str("type", msg.type);
  str("date", msg.date);
  num("date_unixtime", msg.date_unixtime);
  if (const Json* v = get("from")) {
    msg.from_null = v->is_null();
    msg.from = AsString(*v);
  }
  str("from_id", msg.from_id);
  if (msg.from_id.empty()) str("actor_id", msg.from_id);
  if (msg.from.empty() && !msg.from_null) str("actor", msg.from);
  str("forwarded_from", msg.forwarded_from);
  num("reply_to_message_id", msg.reply_to_message_id);
  str("edited", msg.edited);
  num("edited_unixtime", msg.edited_unixtime);
  num("self_destruct_period_seconds", msg.self_destruct_period_seconds);
  str("media_type", msg.media_type);
  str("mime_type", msg.mime_type);
  str("file_name", msg.file_name);
  num("file_size", msg.file_size);
  if (!msg.file_size) num("photo_file_size", msg.file_size);
  num("width", msg.width);
  num("height", msg.height);
  num("duration_seconds", msg.duration_seconds);
  if (const Json* v = get("text")) msg.text = FlattenText(*v);
  for (const char* field : {"photo", "file", "thumbnail"}) {
    const Json* v = get(field);
    if (v == nullptr || !v->is_string()) continue;
    const std::string& s = v->get_ref<const std::string&>();
    if (s.empty()) continue;
    TelegramMedia media;
    media.field = field;
    if (std::string_view(s).starts_with(kPlaceholderPrefix)) {
      media.placeholder = s;
    } else {
      media.path = s;
    }
    msg.media.push_back(std::move(media));
  }
  return msg;
}

// SAX handler: tracks where in the document it is, remembers name/type/id of
// the object that holds a "messages" array, and builds a small DOM for each
// message object only.
class Handler final : public Json::json_sax_t {
 public:
  Handler(TelegramVisitor& visitor, const TelegramReadLimits& limits) : visitor_(visitor), limits_(limits) {}

  bool null() override { return Value(Json(nullptr)); }
  bool boolean(bool val) override { return Value(Json(val)); }
  bool number_integer(number_integer_t val) override { return Value(Json(val)); }
  bool number_unsigned(number_unsigned_t val) override { return Value(Json(val)); }
  bool number_float(number_float_t val, const string_t& /*s*/) override { return Value(Json(val)); }
  bool string(string_t& val) override {
    message_bytes_ += val.size();
    return Value(Json(std::move(val)));
  }
  bool binary(binary_t& /*val*/) override { return Value(Json(nullptr)); }

  bool start_object(std::size_t /*elements*/) override {
    if (frames_.size() >= limits_.max_depth)
      return Fail("JSON nested deeper than " + std::to_string(limits_.max_depth));
    if (capturing_) return StartCaptured(Json::object(), false);
    if (!frames_.empty() && frames_.back().messages_array) {
      capturing_ = true;
      skipping_ = false;
      message_bytes_ = 0;
      message_ = Json::object();
      dom_.clear();
      dom_.push_back(&message_);
      capture_depth_ = frames_.size();
    }
    frames_.push_back(MakeFrame(false));
    return true;
  }
  bool end_object() override {
    if (capturing_ && frames_.size() > capture_depth_ + 1) return EndCaptured();
    if (capturing_) {
      capturing_ = false;
      dom_.clear();
      if (skipping_) {
        visitor_.OnWarning("message " + std::to_string(result_.messages + skipped_ + 1) + " of chat \"" + chat_.name +
                           "\" is over " + std::to_string(limits_.max_message_bytes) + " bytes and was skipped");
        ++skipped_;
      } else {
        ++result_.messages;
        visitor_.OnMessage(chat_, ToMessage(message_));
      }
      message_ = Json();
    }
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) override {
    if (frames_.size() >= limits_.max_depth)
      return Fail("JSON nested deeper than " + std::to_string(limits_.max_depth));
    if (capturing_) return StartCaptured(Json::array(), true);
    Frame frame = MakeFrame(true);
    if (!frames_.empty() && !frames_.back().is_array && frames_.back().key == "messages") {
      frame.messages_array = true;
      const Frame& holder = frames_.back();
      chat_ = TelegramChat{holder.name, holder.type, holder.id, result_.chats};
      ++result_.chats;
      visitor_.OnChat(chat_);
    }
    frames_.push_back(std::move(frame));
    return true;
  }
  bool end_array() override {
    if (capturing_) return EndCaptured();
    frames_.pop_back();
    return true;
  }
  bool key(string_t& val) override {
    if (capturing_) {
      message_bytes_ += val.size();
      pending_key_ = std::move(val);
      return true;
    }
    frames_.back().key = std::move(val);
    return true;
  }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) override {
    error_ = "invalid JSON at byte " + std::to_string(position) + " (last token \"" + last_token.substr(0, 40) +
             "\"): " + ex.what();
    return false;
  }

  const std::string& error() const { return error_; }
  const TelegramReadResult& result() const { return result_; }

 private:
  struct Frame {
    bool is_array = false;
    bool messages_array = false;
    std::string key;  // the last key read in this object
    std::string name;
    std::string type;
    std::optional<std::int64_t> id;
  };

  static Frame MakeFrame(bool is_array) {
    Frame f;
    f.is_array = is_array;
    return f;
  }

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  bool Value(Json value) {
    if (capturing_) {
      if (message_bytes_ > limits_.max_message_bytes) skipping_ = true;
      if (skipping_) return true;
      Json* top = dom_.back();
      if (top->is_array()) {
        top->push_back(std::move(value));
      } else {
        (*top)[pending_key_] = std::move(value);
      }
      return true;
    }
    if (frames_.empty() || frames_.back().is_array) return true;
    Frame& f = frames_.back();
    if (f.key == "name" && value.is_string()) f.name = value.get<std::string>();
    if (f.key == "type" && value.is_string()) f.type = value.get<std::string>();
    if (f.key == "id") f.id = AsInt(value);
    return true;
  }

  bool StartCaptured(Json container, bool is_array) {
    frames_.push_back(MakeFrame(is_array));
    if (message_bytes_ > limits_.max_message_bytes) skipping_ = true;
    if (skipping_) {
      dom_.push_back(nullptr);
      return true;
    }
    Json* top = dom_.back();
    Json* child = nullptr;
    if (top->is_array()) {
      top->push_back(std::move(container));
      child = &top->back();
    } else {
      child = &((*top)[pending_key_] = std::move(container));
    }
    dom_.push_back(child);
    return true;
  }
  bool EndCaptured() {
    dom_.pop_back();
    frames_.pop_back();
    return true;
  }

  TelegramVisitor& visitor_;
  TelegramReadLimits limits_;
  std::vector<Frame> frames_;
  TelegramChat chat_;
  bool capturing_ = false;
  bool skipping_ = false;
  std::size_t capture_depth_ = 0;
  std::size_t message_bytes_ = 0;
  std::size_t skipped_ = 0;
  Json message_;
  std::vector<Json*> dom_;
  std::string pending_key_;
  std::string error_;
  TelegramReadResult result_;
};

}  // namespace

Result<TelegramReadResult> ReadTelegramExport(std::istream& in, TelegramVisitor& visitor,
                                              const TelegramReadLimits& limits) {
  Handler handler(visitor, limits);
  const std::streampos start = in.tellg();
  bool ok = false;
  try {
    ok = Json::sax_parse(in, &handler);
  } catch (const std::exception& e) {
    return Corrupt(std::string("cannot read the export: ") + e.what());
  }
  TelegramReadResult result = handler.result();
  in.clear();
  const std::streampos end = in.tellg();
  if (start >= 0 && end >= start) result.bytes = static_cast<std::uint64_t>(end - start);
  if (!ok) {
    std::string message = handler.error().empty() ? std::string("invalid JSON") : handler.error();
    return Corrupt(message + "; " + std::to_string(result.messages) + " messages were read before it");
  }
  if (result.chats == 0) return Corrupt("not a Telegram export: no \"messages\" array found");
  return result;
}

std::string TelegramMessageLink(const TelegramChat& chat, std::int64_t message_id) {
  if (!chat.id) return {};
  const bool linkable =
      chat.type.find("supergroup") != std::string::npos || chat.type.find("channel") != std::string::npos;
  if (!linkable) return {};
  std::int64_t id = *chat.id;
  if (id < 0) {
    // Bot API form: -100<id>.
    std::string digits = std::to_string(id).substr(1);
    if (!digits.starts_with("100") || digits.size() <= 3) return {};
    id = std::stoll(digits.substr(3));
  }
  if (id <= 0 || message_id <= 0) return {};
  return "https://t.me/c/" + std::to_string(id) + "/" + std::to_string(message_id);
}

}  // namespace takeback::scan
