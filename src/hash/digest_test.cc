#include "hash/digest.h"

#include <string_view>

#include <gtest/gtest.h>

#include "common/hex.h"

namespace takeback::hash {
namespace {

std::span<const std::uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(DigestTest, KnownVectors) {
  // RFC 1321 and FIPS 180-2 test vectors.
  FileDigests empty = ComputeDigests({});
  EXPECT_EQ(HexEncode(empty.md5), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(HexEncode(empty.sha256), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  FileDigests abc = ComputeDigests(Bytes("abc"));
  EXPECT_EQ(HexEncode(abc.md5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(HexEncode(abc.sha256), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace takeback::hash
