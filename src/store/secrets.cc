#include "store/secrets.h"

#include <array>
#include <cstdint>
#include <ctime>

#include <sodium.h>

#include "common/hex.h"

namespace takeback::store {
namespace {

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

bool InitSodium() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

std::string RandomBase32(int chars) {
  InitSodium();
  std::string out;
  out.reserve(static_cast<std::size_t>(chars));
  for (int i = 0; i < chars; ++i) out.push_back(kCrockford[randombytes_uniform(32)]);
  return out;
}

}  // namespace

std::string GenerateApiKey() { return "tbk_" + RandomBase32(52); }

std::string HashApiKey(std::string_view key) {
  InitSodium();
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(key.data()), key.size());
  return HexEncode(digest);
}

std::string ApiKeyPrefix(std::string_view key) { return std::string(key.substr(0, 8)); }

std::string GenerateCaseNumber() {
  const std::string body = RandomBase32(8);
  return "TB-" + body.substr(0, 4) + "-" + body.substr(4);
}

std::string GeneratePin() {
  InitSodium();
  std::string pin;
  for (int i = 0; i < 10; ++i) pin.push_back(static_cast<char>('0' + randombytes_uniform(10)));
  return pin;
}

Result<std::string> HashPin(std::string_view pin) {
  if (!InitSodium()) return Internal("libsodium failed to initialise");
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str(out.data(), pin.data(), pin.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Internal("out of memory hashing a PIN");
  }
  return std::string(out.data());
}

bool VerifyPin(std::string_view pin, const std::string& pin_hash) {
  if (!InitSodium()) return false;
  return crypto_pwhash_str_verify(pin_hash.c_str(), pin.data(), pin.size()) == 0;
}

std::string NowRfc3339() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::array<char, 32> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf.data(), n);
}

}  // namespace takeback::store
