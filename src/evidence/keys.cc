#include "evidence/keys.h"

#include <sys/stat.h>

#include <cstring>

#include <sodium.h>

#include "common/hex.h"
#include "evidence/canonical_json.h"
#include "evidence/io.h"

namespace takeback::evidence {
namespace {

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE {
// SEQUENCE { OID 1.3.101.112 }, BIT STRING { 32 key bytes } }.
constexpr std::array<std::uint8_t, 12> kSpkiPrefix = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                      0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
constexpr std::uint64_t kMaxKeyFileBytes = 4096;

bool SodiumReady() {
  static const bool ready = ::sodium_init() >= 0;
  return ready;
}

std::span<const std::uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

std::string Base64Encode(std::span<const std::uint8_t> bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  ::sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (::sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), " \r\n",
                          &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Corrupt("not valid base64");
  }
  out.resize(len);
  return out;
}

Signer::~Signer() { ::sodium_memzero(secret_key_.data(), secret_key_.size()); }

std::unique_ptr<Signer> Signer::FromSeed(std::span<const std::uint8_t, 32> seed) {
  (void)SodiumReady();
  std::unique_ptr<Signer> signer(new Signer());
  ::crypto_sign_seed_keypair(signer->public_key_.data(), signer->secret_key_.data(), seed.data());
  return signer;
}

Result<std::unique_ptr<Signer>> Signer::LoadOrCreate(const std::string& key_dir) {
  if (!SodiumReady()) return Internal("libsodium failed to initialise");
  TAKEBACK_RETURN_IF_ERROR(internal::MakeDirs(key_dir));
  const std::string key_path = key_dir + "/signing.key";
  if (!internal::PathExists(key_path)) {
    std::array<std::uint8_t, 32> seed{};
    ::randombytes_buf(seed.data(), seed.size());
    std::unique_ptr<Signer> signer = FromSeed(seed);
    std::string hex_seed = HexEncode(seed) + "\n";
    ::sodium_memzero(seed.data(), seed.size());
    const Status written = internal::WriteFileDurable(key_path, hex_seed, 0600, /*exclusive=*/true);
    ::sodium_memzero(hex_seed.data(), hex_seed.size());
    if (written.ok()) {
      TAKEBACK_RETURN_IF_ERROR(
          internal::WriteFileDurable(key_dir + "/signing.pub", HexEncode(signer->public_key()) + "\n", 0644, false));
      TAKEBACK_RETURN_IF_ERROR(
          internal::WriteFileDurable(key_dir + "/signing.pub.pem", PublicKeyPem(signer->public_key()), 0644, false));
      return signer;
    }
    if (!internal::PathExists(key_path)) return written;  // else another process won the race: load its key
  }
  struct stat st {};
  if (::stat(key_path.c_str(), &st) != 0) return internal::ErrnoError("cannot stat", key_path, errno);
  if ((st.st_mode & 077) != 0) {
    return InvalidArgument("signing key " + key_path + " is readable by other users; run: chmod 600 " + key_path);
  }
  Result<std::string> text = internal::ReadWholeFile(key_path, kMaxKeyFileBytes);
  if (!text.ok()) return text.status();
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  std::optional<std::vector<std::uint8_t>> seed = HexDecode(*text);
  ::sodium_memzero(text->data(), text->size());
  if (!seed || seed->size() != 32) return Corrupt("signing key " + key_path + " is not 64 hex digits");
  std::unique_ptr<Signer> signer = FromSeed(std::span<const std::uint8_t, 32>(seed->data(), 32));
  ::sodium_memzero(seed->data(), seed->size());
  return signer;
}

Signature Signer::Sign(std::span<const std::uint8_t> message) const {
  Signature sig{};
  ::crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key_.data());
  return sig;
}

bool VerifySignature(const PublicKey& key, std::span<const std::uint8_t> message, const Signature& signature) {
  if (!SodiumReady()) return false;
  return ::crypto_sign_verify_detached(signature.data(), message.data(), message.size(), key.data()) == 0;
}

std::string PublicKeyPem(const PublicKey& key) {
  std::vector<std::uint8_t> der(kSpkiPrefix.begin(), kSpkiPrefix.end());
  der.insert(der.end(), key.begin(), key.end());
  return "-----BEGIN PUBLIC KEY-----\n" + Base64Encode(der) + "\n-----END PUBLIC KEY-----\n";
}

Result<PublicKey> ParsePublicKeyPem(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN PUBLIC KEY-----";
  constexpr std::string_view kEnd = "-----END PUBLIC KEY-----";
  const std::size_t b = pem.find(kBegin);
  const std::size_t e = pem.find(kEnd);
  if (b == std::string_view::npos || e == std::string_view::npos || e < b) return Corrupt("not a PEM public key");
  Result<std::string> der = Base64Decode(pem.substr(b + kBegin.size(), e - b - kBegin.size()));
  if (!der.ok()) return Corrupt("PEM public key: " + der.status().message());
  if (der->size() != kSpkiPrefix.size() + 32 || std::memcmp(der->data(), kSpkiPrefix.data(), kSpkiPrefix.size()) != 0) {
    return Corrupt("PEM public key is not an Ed25519 key");
  }
  PublicKey key{};
  std::memcpy(key.data(), der->data() + kSpkiPrefix.size(), key.size());
  return key;
}

std::string KeyId(const PublicKey& key) { return HashHex(Sha256(key)); }

std::string EncodeTreeHead(const TreeHead& head) {
  JsonValue::Object o;
  o.emplace_back("type", "takeback.tree_head");
  o.emplace_back("v", 1);
  o.emplace_back("size", static_cast<std::int64_t>(head.size));
  o.emplace_back("root", HashHex(head.root));
  o.emplace_back("time", head.time);
  o.emplace_back("key_id", head.key_id);
  Result<std::string> bytes = EncodeCanonical(o);
  return bytes.ok() ? *bytes : std::string();  // only ASCII fields: cannot fail
}

Result<TreeHead> DecodeTreeHead(std::string_view bytes) {
  Result<JsonValue> v = ParseJson(bytes, /*require_canonical=*/true);
  if (!v.ok()) return Corrupt("tree head: " + v.status().message());
  const JsonValue* type = v->Find("type");
  const JsonValue* version = v->Find("v");
  const JsonValue* size = v->Find("size");
  const JsonValue* root = v->Find("root");
  const JsonValue* time = v->Find("time");
  const JsonValue* key_id = v->Find("key_id");
  if (type == nullptr || !type->is_string() || type->as_string() != "takeback.tree_head" || version == nullptr ||
      !version->is_int() || version->as_int() != 1) {
    return Corrupt("tree head: not a takeback.tree_head version 1");
  }
  if (size == nullptr || !size->is_int() || size->as_int() < 0) return Corrupt("tree head: bad size");
  if (root == nullptr || !root->is_string()) return Corrupt("tree head: no root");
  if (time == nullptr || !time->is_string() || key_id == nullptr || !key_id->is_string()) {
    return Corrupt("tree head: no time or key_id");
  }
  if (v->as_object().size() != 6) return Corrupt("tree head: unknown fields");
  Result<Hash> root_hash = ParseHashHex(root->as_string());
  if (!root_hash.ok()) return Corrupt("tree head: " + root_hash.status().message());
  TreeHead head;
  head.size = static_cast<std::uint64_t>(size->as_int());
  head.root = *root_hash;
  head.time = time->as_string();
  head.key_id = key_id->as_string();
  return head;
}

SignedTreeHead SignTreeHead(const Signer& signer, const TreeHead& head) {
  return {head, signer.Sign(Bytes(EncodeTreeHead(head)))};
}

bool VerifyTreeHead(const PublicKey& key, const SignedTreeHead& sth) {
  return VerifySignature(key, Bytes(EncodeTreeHead(sth.head)), sth.signature);
}

}  // namespace takeback::evidence
