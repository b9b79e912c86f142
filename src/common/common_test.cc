#include <gtest/gtest.h>

#include "common/cpu.h"
#include "common/hex.h"
#include "common/status.h"

namespace takeback {
namespace {

TEST(StatusTest, OkAndErrorsDescribeThemselves) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "ok");
  Status s = Corrupt("JPEG data ends early");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kCorrupt);
  EXPECT_EQ(s.ToString(), "corrupt: JPEG data ends early");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = 42;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = TooLarge("100 MP limit");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kTooLarge);
}

TEST(HexTest, RoundTripsAndRejectsGarbage) {
  const std::vector<std::uint8_t> bytes = {0x00, 0x7f, 0xab, 0xff};
  EXPECT_EQ(HexEncode(bytes), "007fabff");
  auto decoded = HexDecode("007FabFF");
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, bytes);
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
  EXPECT_TRUE(HexDecode("")->empty());
}

// The answers are the CPU's, so they follow the instruction sets' nesting:
// every AVX2 CPU has AVX, every AVX-512 VPOPCNTDQ CPU has AVX2 and POPCNT.
TEST(CpuTest, FeaturesAreNested) {
  if (cpu::HasAvx2()) {
    EXPECT_TRUE(cpu::HasAvx());
  }
  if (cpu::HasAvx512Vpopcntdq()) {
    EXPECT_TRUE(cpu::HasAvx2());
    EXPECT_TRUE(cpu::HasPopcnt());
  }
#if defined(__x86_64__)
  // x86-64 CPUs without POPCNT predate 2008; this project's machines have it.
  EXPECT_TRUE(cpu::HasPopcnt());
#endif
}

}  // namespace
}  // namespace takeback
