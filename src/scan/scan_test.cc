#include "scan/scan.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "scan/report.h"
#include "scan/telegram.h"

namespace takeback::scan {
namespace {

class Collect final : public TelegramVisitor {
 public:
  void OnChat(const TelegramChat& chat) override { chats.push_back(chat); }
  void OnMessage(const TelegramChat& chat, TelegramMessage&& message) override {
    chat_of.push_back(chat.name);
    messages.push_back(std::move(message));
  }
  void OnWarning(const std::string& warning) override { warnings.push_back(warning); }

  std::vector<TelegramChat> chats;
  std::vector<std::string> chat_of;
  std::vector<TelegramMessage> messages;
  std::vector<std::string> warnings;
};

Result<TelegramReadResult> Read(const std::string& text, Collect& out, const TelegramReadLimits& limits = {}) {
  std::istringstream in(text);
  return ReadTelegramExport(in, out, limits);
}

TEST(TelegramTest, SingleChatWithEveryField) {
  const std::string text = R"j({"name":"room","type":"private_supergroup","id":1876543210,"messages":[
    {"id":1,"type":"service","actor":"a","actor_id":"user1","action":"invite_members","text":""},
    {"id":2,"type":"message","date":"2024-08-20T21:15:07","date_unixtime":"1724188507","from":"jh","from_id":"user2",
     "forwarded_from":"free room","reply_to_message_id":1,"edited":"2024-08-20T21:21:30","edited_unixtime":"1724188890",
     "self_destruct_period_seconds":30,"photo":"photos/p.jpg","photo_file_size":59266,"width":320,"height":240,
     "text":["hi ",{"type":"mention","text":"@minsu"}," bye"],"text_entities":[{"type":"plain","text":"hi "}]},
    {"id":3,"type":"message","from":null,"from_id":"user3","file":"(File not included. Change data exporting settings to download.)",
     "thumbnail":"files/t_thumb.jpg","file_name":"a.mov","file_size":48234496,"media_type":"video_file",
     "mime_type":"video/quicktime","duration_seconds":61,"text":"plain"}
  ]})j";
  Collect c;
  Result<TelegramReadResult> r = Read(text, c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chats, 1U);
  EXPECT_EQ(r->messages, 3U);
  ASSERT_EQ(c.chats.size(), 1U);
  EXPECT_EQ(c.chats[0].name, "room");
  EXPECT_EQ(c.chats[0].id, 1876543210);
  ASSERT_EQ(c.messages.size(), 3U);
  EXPECT_EQ(c.messages[0].type, "service");
  EXPECT_EQ(c.messages[0].from_id, "user1");  // actor_id for service messages
  const TelegramMessage& m = c.messages[1];
  EXPECT_EQ(m.id, 2);
  EXPECT_EQ(m.date_unixtime, 1724188507);
  EXPECT_EQ(m.from, "jh");
  EXPECT_EQ(m.forwarded_from, "free room");
  EXPECT_EQ(m.reply_to_message_id, 1);
  EXPECT_EQ(m.edited_unixtime, 1724188890);
  EXPECT_EQ(m.self_destruct_period_seconds, 30);
  EXPECT_EQ(m.file_size, 59266);
  EXPECT_EQ(m.text, "hi @minsu bye");
  ASSERT_EQ(m.media.size(), 1U);
  EXPECT_EQ(m.media[0].field, "photo");
  EXPECT_EQ(m.media[0].path, "photos/p.jpg");
  const TelegramMessage& v = c.messages[2];
  EXPECT_TRUE(v.from_null);
  EXPECT_EQ(v.text, "plain");
  ASSERT_EQ(v.media.size(), 2U);
  EXPECT_EQ(v.media[0].field, "file");
  EXPECT_TRUE(v.media[0].path.empty());
  EXPECT_NE(v.media[0].placeholder.find("File not included"), std::string::npos);
  EXPECT_EQ(v.media[1].field, "thumbnail");
  EXPECT_EQ(v.media[1].path, "files/t_thumb.jpg");
  EXPECT_EQ(v.duration_seconds, 61);
  EXPECT_EQ(TelegramMessageLink(c.chats[0], 2), "https://t.me/c/1876543210/2");
}

TEST(TelegramTest, WholeAccountExport) {
  const std::string text = R"({"about":"x","personal_information":{"user_id":5,"first_name":"me"},
    "chats":{"about":"y","list":[
      {"name":"a","type":"personal_chat","id":11,"messages":[{"id":1,"type":"message","text":"x"}]},
      {"name":"b","type":"public_channel","id":-1001234,"messages":[{"id":7,"type":"message","text":"y"},{"id":8}]}
    ]},
    "left_chats":{"list":[{"name":"c","type":"private_group","id":13,"messages":[]}]}})";
  Collect c;
  Result<TelegramReadResult> r = Read(text, c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chats, 3U);
  EXPECT_EQ(r->messages, 3U);
  EXPECT_EQ(c.chat_of, (std::vector<std::string>{"a", "b", "b"}));
  EXPECT_EQ(c.chats[1].type, "public_channel");
  EXPECT_EQ(TelegramMessageLink(c.chats[0], 1), "");                       // personal chats have no link
  EXPECT_EQ(TelegramMessageLink(c.chats[1], 7), "https://t.me/c/1234/7");  // -100 prefix dropped
}

TEST(TelegramTest, TruncatedAndInvalidInputGiveErrorsAfterDeliveringWhatWasRead) {
  const std::string good =
      R"({"name":"r","type":"private_group","id":1,"messages":[{"id":1,"text":"a"},{"id":2,"text":"b"},)";
  Collect c;
  Result<TelegramReadResult> r = Read(good + R"({"id":3,"te)", c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.status().message().find("at byte"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("2 messages were read"), std::string::npos) << r.status().message();
  EXPECT_EQ(c.messages.size(), 2U);

  for (const std::string& bad : std::vector<std::string>{"", "nul", "{\"messages\":[}", "[1,2,3]", "{\"a\":1}",
                                                         "{\"messages\":[]} trailing", std::string(5000, '[')}) {
    Collect d;
    Result<TelegramReadResult> e = Read(bad, d);
    EXPECT_FALSE(e.ok()) << bad.substr(0, 40);
  }
}

TEST(TelegramTest, OversizedMessagesAreSkippedWithAWarning) {
  const std::string big(2000, 'x');
  const std::string text =
      R"({"name":"r","messages":[{"id":1,"text":")" + big + R"(","photo":"p.jpg"},{"id":2,"text":"ok"}]})";
  Collect c;
  TelegramReadLimits limits;
  limits.max_message_bytes = 1000;
  Result<TelegramReadResult> r = Read(text, c, limits);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_EQ(c.messages[0].id, 2);
  ASSERT_EQ(c.warnings.size(), 1U);
  EXPECT_NE(c.warnings[0].find("skipped"), std::string::npos);
}

TEST(ReportTest, HtmlEscapesEverythingFromTheExport) {
  ScanReport report;
  report.tool = "t";
  MatchRecord m;
  m.source.kind = "telegram";
  m.source.chat_name = "<b>chat</b>";
  m.source.sender_name = "\"><script>alert(1)</script>";
  m.source.text = "<img src=x onerror=alert(2)> & 'q'";
  m.source.link = "javascript:alert(3)\"";
  m.source.message_id = 5;
  m.file.path = "photos/<x>.jpg";
  m.signal_type = "pdq";
  report.matches.push_back(m);
  report.cases.push_back({"case.json", "<ref>", 1, {}});
  const std::string html = FormatReportHtml(report, {});
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img src=x"), std::string::npos);
  EXPECT_EQ(html.find("<b>chat"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(2)&gt; &amp; &#39;q&#39;"), std::string::npos);
  EXPECT_NE(html.find("&quot;&gt;&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  const std::string json = FormatReportJson(report);
  EXPECT_NE(json.find("\"matches\""), std::string::npos);
}

// Signals read from a bank match by the bank's own rule (issue 6): the same
// registered hash, 12 bits from the item, matches under the default radius
// (31) and not under a bank's radius of 8; signal ids travel into the hits.
TEST(MatcherTest, EachCaseMatchesByItsOwnRule) {
  signals::Signal pdq;
  pdq.type = signals::SignalType::kPdq;
  pdq.pdq.words = {0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0x0f0f0f0f0f0f0f0fULL, 0x5555aaaa5555aaaaULL};
  pdq.quality = 90;
  CaseSignals by_default;
  by_default.file = "case.json";
  by_default.set.signals = {pdq};
  CaseSignals strict_bank;
  strict_bank.kind = "bank";
  strict_bank.name = "strict";
  strict_bank.set.signals = {pdq};
  strict_bank.signal_ids = {42};
  MatchOptions strict;
  strict.pdq_radius = 8;
  strict_bank.rule = strict;
  CaseSignals loose_bank = strict_bank;
  loose_bank.name = "loose";
  loose_bank.rule->pdq_radius = 40;
  loose_bank.rule->pdq_min_quality = 95;  // the item's quality (90) is too low for it

  Result<std::unique_ptr<Matcher>> m = Matcher::Build({by_default, strict_bank, loose_bank}, MatchOptions{});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  MediaHashes item;
  item.quality = 90;
  hash::PdqHash near = pdq.pdq;
  near.words[0] ^= 0xfffULL;  // 12 bits away
  item.dihedral.fill(near);
  std::vector<MatchHit> hits = (*m)->Match(item);
  ASSERT_EQ(hits.size(), 1U);
  EXPECT_EQ(hits[0].case_index, 0U);
  EXPECT_EQ(hits[0].distance, 12);
  EXPECT_EQ(hits[0].threshold, 31);

  near = pdq.pdq;
  near.words[1] ^= 0x7ULL;  // 3 bits away: inside the strict bank's radius too
  item.dihedral.fill(near);
  hits = (*m)->Match(item);
  ASSERT_EQ(hits.size(), 2U);
  const MatchHit& bank_hit = hits[0].case_index == 1 ? hits[0] : hits[1];
  EXPECT_EQ(bank_hit.case_index, 1U);
  EXPECT_EQ(bank_hit.threshold, 8);
  EXPECT_EQ(bank_hit.distance, 3);
  EXPECT_EQ((*m)->cases()[bank_hit.case_index].signal_ids[bank_hit.signal_index], 42);
}

// A server's banks can hold millions of pdq signals: past 20,000 the matcher
// indexes them with MIH; it must find exactly what the flat scan finds.
TEST(MatcherTest, ManySignalsStillMatchExactly) {
  CaseSignals bank;
  bank.kind = "bank";
  bank.name = "big";
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int i = 0; i < 25'000; ++i) {
    signals::Signal s;
    s.type = signals::SignalType::kPdq;
    s.quality = 100;
    for (std::uint64_t& w : s.pdq.words) w = next();
    bank.set.signals.push_back(s);
  }
  const hash::PdqHash target = bank.set.signals[12'345].pdq;
  Result<std::unique_ptr<Matcher>> m = Matcher::Build({bank}, MatchOptions{});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  MediaHashes item;
  item.quality = 100;
  hash::PdqHash near = target;
  near.words[2] ^= 0x0101010101010101ULL;  // 8 bits away
  item.dihedral.fill(hash::PdqHash{});
  item.dihedral[3] = near;  // found through one dihedral variant
  const std::vector<MatchHit> hits = (*m)->Match(item);
  ASSERT_EQ(hits.size(), 1U);
  EXPECT_EQ(hits[0].signal_index, 12'345U);
  EXPECT_EQ(hits[0].distance, 8);
}

}  // namespace
}  // namespace takeback::scan
