#include "hash/digest.h"

#include <cassert>
#include <memory>

#include <openssl/evp.h>

namespace takeback::hash {
namespace {

template <std::size_t N>
void Digest(const EVP_MD* md, std::span<const std::uint8_t> bytes, std::array<std::uint8_t, N>& out) {
  unsigned int len = 0;
  const int ok = EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, md, nullptr);
  assert(ok == 1 && len == N);
  (void)ok;
}

}  // namespace

FileDigests ComputeDigests(std::span<const std::uint8_t> bytes) {
  FileDigests d;
  Digest(EVP_md5(), bytes, d.md5);
  Digest(EVP_sha256(), bytes, d.sha256);
  return d;
}

}  // namespace takeback::hash
