// ParseMatchBody: the fast path for the common batch body must give exactly
// what the general JSON parser gives, for good and bad bodies alike.
#include "server/api.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace takeback::server {
namespace {

std::string RandomHex(std::mt19937_64& rng, std::size_t digits) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < digits; ++i) s += kHex[rng() % 16];
  return s;
}

std::string Item(const std::string& hash, const std::string& quality = "100") {
  return R"({"type":"pdq","hash":")" + hash + R"(","quality":)" + quality + "}";
}

std::string Body(const std::vector<std::string>& items) {
  std::string body = R"({"signals":[)";
  for (std::size_t i = 0; i < items.size(); ++i) body += (i > 0 ? "," : "") + items[i];
  return body + "]}";
}

// Both parsers agree on `body`: the same queries, or the same error.
void ExpectAgree(const std::string& body, std::size_t max_items = 1000) {
  SCOPED_TRACE(body.substr(0, 300));
  const auto fast = ParseMatchBody(body, max_items);
  const auto general = ParseMatchBodyGeneral(body, max_items);
  ASSERT_EQ(fast.ok(), general.ok()) << (fast.ok() ? general.status() : fast.status()).ToString();
  if (!fast.ok()) {
    EXPECT_EQ(fast.status().code(), general.status().code());
    EXPECT_EQ(fast.status().message(), general.status().message());
    return;
  }
  ASSERT_EQ(fast->size(), general->size());
  for (std::size_t i = 0; i < fast->size(); ++i) {
    const cases::Query& a = (*fast)[i];
    const cases::Query& b = (*general)[i];
    EXPECT_EQ(a.type, b.type) << i;
    EXPECT_EQ(a.pdq, b.pdq) << i;
    EXPECT_EQ(a.quality, b.quality) << i;
    EXPECT_EQ(a.dihedral, b.dihedral) << i;
    EXPECT_EQ(a.digest, b.digest) << i;
  }
}

TEST(ParseMatchBody, BatchOfPdqHashes) {
  std::mt19937_64 rng(3);
  std::vector<std::string> items;
  std::vector<std::string> hashes;
  for (int i = 0; i < 100; ++i) {
    hashes.push_back(RandomHex(rng, 64));
    items.push_back(Item(hashes.back(), std::to_string(i)));
  }
  const auto parsed = ParseMatchBody(Body(items), 1000);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 100U);
  for (std::size_t i = 0; i < 100; ++i) {
    EXPECT_EQ((*parsed)[i].type, "pdq");
    EXPECT_EQ((*parsed)[i].pdq.ToHex(), hashes[i]);
    EXPECT_EQ((*parsed)[i].quality, static_cast<int>(i));
  }
  ExpectAgree(Body(items));
}

TEST(ParseMatchBody, FastPathAgreesWithTheGeneralParser) {
  std::mt19937_64 rng(5);
  const std::string h = RandomHex(rng, 64);
  std::string upper = h;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::vector<std::string> bodies = {
      Body({Item(h)}),
      Body({Item(h), Item(RandomHex(rng, 64), "0")}),
      " \n{ \"signals\" : [ { \"hash\" : \"" + h + "\" , \"type\" : \"pdq\" } ] } \t\r\n",
      Body({R"({"quality":50,"hash":")" + h + R"(","type":"pdq"})"}),
      Body({Item(upper)}),
      Body({Item(h.substr(0, 63))}),
      Body({Item(h + "0")}),
      Body({Item("zz" + h.substr(2))}),
      Body({Item(h, "101")}),
      Body({Item(h, "007")}),
      Body({Item(h, "1.0")}),
      Body({Item(h, "1e2")}),
      Body({Item(h, "-1")}),
      Body({Item(h, "-0")}),
      Body({Item(h, "\"50\"")}),
      Body({Item(h, "1000")}),
      Body({Item(h, "")}),
      Body({R"({"type":"pdq","hash":"\u0030)" + h.substr(1) + R"("})"}),
      Body({R"({"type":"pdq","type":"md5","hash":")" + h + R"("})"}),
      Body({R"({"type":"pdq","hash":")" + h + R"(","hash":")" + h + R"("})"}),
      Body({R"({"type":"pdq","hash":")" + h + R"(","label":"x"})"}),
      Body({R"({"type":"md5","hash":")" + h.substr(0, 32) + R"("})"}),
      Body({R"({"type":"pdq"})"}),
      Body({R"({"hash":")" + h + R"("})"}),
      Body({}),
      Body({Item(h)}) + "x",
      Body({Item(h)}) + "}",
      R"({"signals":[)" + Item(h) + "]",
      R"({"signals":[)" + Item(h) + R"(],"more":1})",
      R"({"signals":)" + Item(h) + "}",
      Item(h),
      "",
      "[]",
      "{}",
      "null",
  };
  for (const std::string& body : bodies) ExpectAgree(body);
  // The item limit: at it, and one past it.
  const std::string three = Body({Item(h), Item(h), Item(h)});
  ExpectAgree(three, 3);
  ExpectAgree(three, 2);
  EXPECT_EQ(ParseMatchBody(three, 2).status().code(), ErrorCode::kTooLarge);
}

// Random damage to a valid body (bytes replaced, deleted, inserted): every
// variant parses the same way through both paths.
TEST(ParseMatchBody, MutatedBodiesAgree) {
  std::mt19937_64 rng(9);
  const std::string alphabet = "{}[]\":, \\0123456789abcdefxABCDEF.e-";
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::string> items;
    for (int i = 0; i < 3; ++i) items.push_back(Item(RandomHex(rng, 64), std::to_string(rng() % 120)));
    std::string body = Body(items);
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % body.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          body[at] = c;
          break;
        case 1:
          body.erase(at, 1);
          break;
        default:
          body.insert(at, 1, c);
          break;
      }
    }
    ExpectAgree(body);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace takeback::server
