#include "evidence/canonical_json.h"

#include <gtest/gtest.h>

#include "evidence/entry.h"

namespace takeback::evidence {
namespace {

struct Case {
  std::string input;
  std::string canonical;  // empty: the input must be refused
};

TEST(CanonicalJsonTest, EncodesTable) {
  const std::vector<Case> cases = {
      {R"({"b":1,"a":2})", R"({"a":2,"b":1})"},
      {R"( { "z" : [ 1 , -2 , true ] , "a" : { "y":"x" , "b":false } } )",
       R"({"a":{"b":false,"y":"x"},"z":[1,-2,true]})"},
      {R"({"s":"tab\tnl\ncr\rq\"bs\\sl\/u\u0001é\u00e9"})",
       "{\"s\":\"tab\\tnl\\ncr\\rq\\\"bs\\\\sl/u\\u0001\xc3\xa9\xc3\xa9\"}"},
      {R"({"aa":1,"a":2,"B":3,"é":4})", "{\"B\":3,\"a\":2,\"aa\":1,\"\xc3\xa9\":4}"},
      {R"({"n":9223372036854775807})", R"({"n":9223372036854775807})"},
      {R"({"a":1.5})", ""},
      {R"({"a":1e3})", ""},
      {R"({"a":null})", ""},
      {R"({"a":1,"a":2})", ""},
      {R"({"a":18446744073709551615})", ""},
      {R"({"a":)", ""},
      {"{\"a\":\"\xff\"}", ""},
  };
  for (const Case& c : cases) {
    const Result<JsonValue> v = ParseJson(c.input, false);
    if (c.canonical.empty()) {
      EXPECT_FALSE(v.ok()) << c.input;
      continue;
    }
    ASSERT_TRUE(v.ok()) << c.input << ": " << v.status().ToString();
    const Result<std::string> enc = EncodeCanonical(*v);
    ASSERT_TRUE(enc.ok());
    EXPECT_EQ(*enc, c.canonical) << c.input;
    EXPECT_TRUE(ParseJson(*enc, true).ok()) << *enc;
    if (*enc != c.input) {
      EXPECT_FALSE(ParseJson(c.input, true).ok()) << c.input;
    }
  }
}

TEST(CanonicalJsonTest, RefusesBadUtf8AndDuplicateKeysOnEncode) {
  EXPECT_FALSE(EncodeCanonical(JsonValue(std::string("\xc0\x80"))).ok());
  EXPECT_FALSE(EncodeCanonical(JsonValue(std::string("\xed\xa0\x80"))).ok());  // a surrogate
  JsonValue::Object o = {{"a", 1}, {"a", 2}};
  EXPECT_FALSE(EncodeCanonical(JsonValue(o)).ok());
}

Entry SampleEntry() {
  Entry e;
  e.sha256 = std::string(64, 'a');
  e.size = 1234;
  e.media_type = "image/jpeg";
  e.source.kind = "chat";
  e.source.chat = "Group \"Ex\"";
  e.source.message_id = "42";
  e.source.sender_id = "+15550100";
  e.observed_time = "2026-11-24T21:03:00Z";
  e.captured_time = "2026-11-25T09:00:00Z";
  e.captured_by = "caseworker1";
  e.tool = "takeback 0.1.0";
  e.case_ref = "CASE-7";
  return e;
}

TEST(EntryTest, GoldenEncodingAndRoundTrip) {
  const Result<std::string> bytes = EncodeEntry(SampleEntry());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes,
            "{\"captured_by\":\"caseworker1\",\"captured_time\":\"2026-11-25T09:00:00Z\",\"case\":\"CASE-7\","
            "\"media_type\":\"image/jpeg\",\"observed_time\":\"2026-11-24T21:03:00Z\",\"sha256\":\"" +
                std::string(64, 'a') +
                "\",\"size\":1234,\"source\":{\"chat\":\"Group \\\"Ex\\\"\",\"kind\":\"chat\",\"message_id\":\"42\","
                "\"sender_id\":\"+15550100\"},\"tool\":\"takeback 0.1.0\",\"v\":1}");
  const Result<Entry> back = DecodeEntry(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, SampleEntry());
}

TEST(EntryTest, RefusesBadEntries) {
  Entry e = SampleEntry();
  e.sha256 = "ABC";
  EXPECT_FALSE(EncodeEntry(e).ok());
  e = SampleEntry();
  e.captured_time = "2026-11-25 09:00";
  EXPECT_FALSE(EncodeEntry(e).ok());
  e = SampleEntry();
  e.observed_time = "yesterday";
  EXPECT_FALSE(EncodeEntry(e).ok());
  const std::string good = *EncodeEntry(SampleEntry());
  std::string extra = good;
  extra.insert(1, "\"aaa\":1,");
  const Result<Entry> r = DecodeEntry(extra);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown field 'aaa'"), std::string::npos) << r.status().message();
  std::string spaced = good;
  spaced.insert(1, " ");
  EXPECT_FALSE(DecodeEntry(spaced).ok());
}

}  // namespace
}  // namespace takeback::evidence
