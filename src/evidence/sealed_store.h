// Sealed originals: captured files kept byte-for-byte, encrypted at rest
// with libsodium secretstream (XChaCha20-Poly1305), one file per original
// named by the SHA-256 of its plaintext, never modified once written.
// The sealing key lives in its own file, which may sit apart from the data
// (another disk, a mounted token).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "evidence/merkle.h"

namespace takeback::evidence {

// Thread-compatible; separate processes may Put the same original at once
// (each write is a temporary file linked into place exactly once).
class SealedStore {
 public:
  // Opens the store in `dir`, loading the 32-byte key from `key_path` or
  // creating it there (mode 0600) when it does not exist. kInvalidArgument
  // when the key file is readable by others; kCorrupt when malformed.
  static Result<std::unique_ptr<SealedStore>> Open(const std::string& dir, const std::string& key_path);
  ~SealedStore();
  SealedStore(const SealedStore&) = delete;
  SealedStore& operator=(const SealedStore&) = delete;

  // Seals `bytes` and returns their SHA-256. A no-op when the same original
  // is already sealed (content addressing: the existing file is kept).
  Result<Hash> Put(std::span<const std::uint8_t> bytes);
  // Decrypts the original with SHA-256 `digest`. kNotFound when absent;
  // kCorrupt when the file fails authentication, is truncated, or decrypts
  // to bytes with another digest.
  Result<std::vector<std::uint8_t>> Get(const Hash& digest) const;
  bool Contains(const Hash& digest) const;
  std::string PathFor(const Hash& digest) const;

 private:
  SealedStore() = default;
  std::string dir_;
  std::array<std::uint8_t, 32> key_{};
};

}  // namespace takeback::evidence
