// libFuzzer target: untrusted bytes -> the streaming Telegram export reader
// (src/scan/telegram.h), as `takeback scan` reads result.json.
//
// The reader must never crash, hang or grow without bound, whatever the
// bytes: it returns messages or an error. Message fields it hands over are
// touched so that a bad pointer or length would show up under ASan.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "scan/telegram.h"

namespace {

class Sink final : public takeback::scan::TelegramVisitor {
 public:
  void OnChat(const takeback::scan::TelegramChat& chat) override { total_ += chat.name.size() + chat.type.size(); }
  void OnMessage(const takeback::scan::TelegramChat& chat, takeback::scan::TelegramMessage&& m) override {
    total_ += m.text.size() + m.from.size() + m.from_id.size() + m.media.size() + chat.name.size();
    for (const auto& media : m.media) total_ += media.path.size() + media.placeholder.size();
    (void)takeback::scan::TelegramMessageLink(chat, m.id);
  }
  void OnWarning(const std::string& warning) override { total_ += warning.size(); }
  std::size_t total() const { return total_; }

 private:
  std::size_t total_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  Sink sink;
  takeback::scan::TelegramReadLimits limits;
  limits.max_message_bytes = 1 << 16;
  (void)takeback::scan::ReadTelegramExport(in, sink, limits);
  return sink.total() == static_cast<std::size_t>(-1) ? 1 : 0;
}
