#include "text/text.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace takeback::text {
namespace {

TEST(NormalizeTextTest, FoldsCaseWidthCompatibilityAndJamo) {
  EXPECT_EQ(NormalizeText("Kim JI-EUN"), "kim ji-eun");
  EXPECT_EQ(NormalizeText("ＫＩＭ　０１０"), "kim 010");  // full-width letters, digits and space
  // Decomposed Hangul jamo (U+1100 U+1175 U+11B7 = 김) compose to the syllable.
  EXPECT_EQ(NormalizeText("\u1100\u1175\u11B7지은"), "김지은");
  // Compatibility ideograph U+F900 is U+8C48.
  EXPECT_EQ(NormalizeText("\uF900"), "\u8C48");
  // Zero-width space and joiner are dropped (a common way to dodge filters).
  EXPECT_EQ(NormalizeText("김\u200B지\u200D은"), "김지은");
  EXPECT_EQ(NormalizeText("Straße"), "strasse");
  // Invalid UTF-8 never fails.
  EXPECT_FALSE(NormalizeText(std::string("a\xff\xfe b", 5)).empty());
}

TEST(NormalizePhoneNumberTest, KoreanAndChineseForms) {
  for (const char* form :
       {"01012345678", "010-1234-5678", "010 1234 5678", "010.1234.5678", "+82 10-1234-5678", "+82-10-1234-5678",
        "821012345678", "0082 10 1234 5678", "+82 (0)10 1234 5678", "(010) 1234-5678", "０１０－１２３４－５６７８"}) {
    EXPECT_EQ(NormalizePhoneNumber(form).value_or("none"), "01012345678") << form;
  }
  for (const char* form : {"13812345678", "138-1234-5678", "+86 138 1234 5678", "008613812345678", "8613812345678"}) {
    EXPECT_EQ(NormalizePhoneNumber(form).value_or("none"), "13812345678") << form;
  }
  EXPECT_EQ(NormalizePhoneNumber("+86 10 1234 5678").value_or("none"), "01012345678");  // Beijing landline
  EXPECT_EQ(NormalizePhoneNumber("02-123-4567").value_or("none"), "021234567");         // Seoul landline
  EXPECT_FALSE(NormalizePhoneNumber("김지은").has_value());
  EXPECT_FALSE(NormalizePhoneNumber("12345").has_value());
  EXPECT_FALSE(NormalizePhoneNumber("1234567890123456").has_value());
  EXPECT_FALSE(NormalizePhoneNumber("call 01012345678").has_value());
}

TEST(WatchListTest, FindsNamesAndPhonesInMessages) {
  const std::vector<std::string> terms = {"김지은", "01012345678", "Jieun Kim", "@jieun_k"};
  const WatchList list(terms);
  auto kinds = [&](const std::string& message) {
    std::string out;
    for (const TermHit& h : list.Find(message)) out += std::to_string(h.term_index) + h.kind + ";";
    return out;
  };
  EXPECT_EQ(kinds("이름은 김지은, 번호 010-1234-5678"), "0text;1phone;");
  EXPECT_EQ(kinds("김지은이 여기 있어"), "0text;");  // Korean particle glued to the name
  EXPECT_EQ(kinds("김\u200b지은"), "0text;");        // zero-width space inside
  EXPECT_EQ(kinds("번호는 +82 10 1234 5678 이야"), "1phone;");
  EXPECT_EQ(kinds("번호는 ０１０１２３４５６７８"), "1phone;");
  EXPECT_EQ(kinds("this is JIEUN KIM from school"), "2text;");
  EXPECT_EQ(kinds("ask @Jieun_K"), "3text;");
  // Not hits: part of a longer word or number, other numbers, other names.
  EXPECT_EQ(kinds("jieun kimchi"), "");
  EXPECT_EQ(kinds("order 9010123456789 shipped"), "");
  EXPECT_EQ(kinds("010-1234-5679"), "");
  EXPECT_EQ(kinds("김지연"), "");
  EXPECT_EQ(kinds(""), "");
  const std::vector<TermHit> hits = list.Find("번호 010-1234-5678 저장해");
  ASSERT_EQ(hits.size(), 1U);
  EXPECT_EQ(hits[0].matched, "010-1234-5678");
  EXPECT_NE(hits[0].excerpt.find("번호 010-1234-5678"), std::string::npos);
  EXPECT_EQ(hits[0].term, "01012345678");
}

TEST(WatchListTest, ChinesePhoneAndHanName) {
  const std::vector<std::string> terms = {"+86 138 1234 5678", "王小明"};
  const WatchList list(terms);
  EXPECT_EQ(list.Find("她的电话13812345678，名字王小明").size(), 2U);
  EXPECT_EQ(list.Find("电话 138-1234-5678").size(), 1U);
  EXPECT_TRUE(list.Find("电话 138-1234-5670").empty());
}

}  // namespace
}  // namespace takeback::text
