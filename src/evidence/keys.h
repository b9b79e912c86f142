// Ed25519 signing keys (libsodium; signatures are plain RFC 8032, so
// OpenSSL 3 and other tools verify them) and signed tree heads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "evidence/merkle.h"

namespace takeback::evidence {

using PublicKey = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 64>;

// The log's signing key. Holds the secret key in memory, wiped on
// destruction. Thread-compatible (Sign is const and reentrant).
class Signer {
 public:
  // Loads `key_dir`/signing.key, or creates a fresh key pair there when it
  // does not exist (signing.key mode 0600, signing.pub hex, signing.pub.pem).
  // kInvalidArgument when an existing signing.key is readable by group or
  // others (it is not used); kCorrupt when it is malformed.
  static Result<std::unique_ptr<Signer>> LoadOrCreate(const std::string& key_dir);
  // A signer over a given 32-byte seed (tests and benchmarks).
  static std::unique_ptr<Signer> FromSeed(std::span<const std::uint8_t, 32> seed);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  Signature Sign(std::span<const std::uint8_t> message) const;
  const PublicKey& public_key() const { return public_key_; }

 private:
  Signer() = default;
  std::array<std::uint8_t, 64> secret_key_{};
  PublicKey public_key_{};
};

bool VerifySignature(const PublicKey& key, std::span<const std::uint8_t> message, const Signature& signature);
// SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----"), as OpenSSL reads it.
std::string PublicKeyPem(const PublicKey& key);
Result<PublicKey> ParsePublicKeyPem(std::string_view pem);
// The key's identity: lower-case hex SHA-256 of the 32 key bytes.
std::string KeyId(const PublicKey& key);

// A tree head: the log's size and root at a time, signed by the log key.
struct TreeHead {
  std::uint64_t size = 0;
  Hash root{};
  std::string time;    // RFC 3339 UTC
  std::string key_id;  // KeyId of the signing key

  bool operator==(const TreeHead&) const = default;
};

struct SignedTreeHead {
  TreeHead head;
  Signature signature{};

  bool operator==(const SignedTreeHead&) const = default;
};

// The signed bytes: canonical JSON
// {"key_id":..,"root":..,"size":N,"time":..,"type":"takeback.tree_head","v":1}.
std::string EncodeTreeHead(const TreeHead& head);
// kCorrupt naming the problem unless `bytes` is exactly such an encoding.
Result<TreeHead> DecodeTreeHead(std::string_view bytes);
SignedTreeHead SignTreeHead(const Signer& signer, const TreeHead& head);
bool VerifyTreeHead(const PublicKey& key, const SignedTreeHead& sth);

// Standard base64 (with padding) for manifests and PEM.
std::string Base64Encode(std::span<const std::uint8_t> bytes);
Result<std::string> Base64Decode(std::string_view text);

}  // namespace takeback::evidence
