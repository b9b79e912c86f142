#include "evidence/sealed_store.h"

#include <sys/stat.h>

#include <cstring>

#include <sodium.h>

#include "common/hex.h"
#include "evidence/io.h"

namespace takeback::evidence {
namespace {

constexpr std::string_view kMagic = "TBSEAL01";
constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr std::size_t kABytes = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr std::uint64_t kMaxSealedBytes = std::uint64_t{4} << 30;
static_assert(crypto_secretstream_xchacha20poly1305_KEYBYTES == 32);

}  // namespace

SealedStore::~SealedStore() { ::sodium_memzero(key_.data(), key_.size()); }

Result<std::unique_ptr<SealedStore>> SealedStore::Open(const std::string& dir, const std::string& key_path) {
  if (::sodium_init() < 0) return Internal("libsodium failed to initialise");
  TAKEBACK_RETURN_IF_ERROR(internal::MakeDirs(dir));
  std::unique_ptr<SealedStore> store(new SealedStore());
  store->dir_ = dir;
  if (!internal::PathExists(key_path)) {
    const std::string parent = key_path.find('/') == std::string::npos ? "." : key_path.substr(0, key_path.rfind('/'));
    TAKEBACK_RETURN_IF_ERROR(internal::MakeDirs(parent.empty() ? "/" : parent));
    ::crypto_secretstream_xchacha20poly1305_keygen(store->key_.data());
    std::string hex = HexEncode(store->key_) + "\n";
    const Status written = internal::WriteFileDurable(key_path, hex, 0600, /*exclusive=*/true);
    ::sodium_memzero(hex.data(), hex.size());
    if (written.ok()) return store;
    if (!internal::PathExists(key_path)) return written;
  }
  struct stat st {};
  if (::stat(key_path.c_str(), &st) != 0) return internal::ErrnoError("cannot stat", key_path, errno);
  if ((st.st_mode & 077) != 0) {
    return InvalidArgument("sealing key " + key_path + " is readable by other users; run: chmod 600 " + key_path);
  }
  Result<std::string> text = internal::ReadWholeFile(key_path, 4096);
  if (!text.ok()) return text.status();
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  std::optional<std::vector<std::uint8_t>> key = HexDecode(*text);
  ::sodium_memzero(text->data(), text->size());
  if (!key || key->size() != 32) return Corrupt("sealing key " + key_path + " is not 64 hex digits");
  std::memcpy(store->key_.data(), key->data(), 32);
  ::sodium_memzero(key->data(), key->size());
  return store;
}

std::string SealedStore::PathFor(const Hash& digest) const { return dir_ + "/" + HashHex(digest) + ".sealed"; }

bool SealedStore::Contains(const Hash& digest) const { return internal::PathExists(PathFor(digest)); }

Result<Hash> SealedStore::Put(std::span<const std::uint8_t> bytes) {
  const Hash digest = Sha256(bytes);
  const std::string path = PathFor(digest);
  if (internal::PathExists(path)) return digest;
  crypto_secretstream_xchacha20poly1305_state state;
  std::string out(kMagic);
  std::array<std::uint8_t, kHeaderBytes> header{};
  ::crypto_secretstream_xchacha20poly1305_init_push(&state, header.data(), key_.data());
  out.append(reinterpret_cast<const char*>(header.data()), header.size());
  // The digest is the additional data of every chunk: a sealed file renamed
  // to another original's name fails authentication.
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min(kChunk, bytes.size() - pos);
    const bool last = pos + n == bytes.size();
    const std::size_t at = out.size();
    out.resize(at + n + kABytes);
    ::crypto_secretstream_xchacha20poly1305_push(&state, reinterpret_cast<unsigned char*>(out.data() + at), nullptr,
                                                 bytes.data() + pos, n, digest.data(), digest.size(),
                                                 last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    pos += n;
  } while (pos < bytes.size());
  const Status written = internal::WriteFileDurable(path, out, 0400, /*exclusive=*/true);
  if (!written.ok() && !internal::PathExists(path)) return written;
  return digest;
}

Result<std::vector<std::uint8_t>> SealedStore::Get(const Hash& digest) const {
  const std::string path = PathFor(digest);
  Result<std::string> data = internal::ReadWholeFile(path, kMaxSealedBytes);
  if (!data.ok()) return data.status();
  const std::string name = "sealed original " + HashHex(digest);
  if (data->size() < kMagic.size() + kHeaderBytes || data->compare(0, kMagic.size(), kMagic) != 0) {
    return Corrupt(name + ": not a sealed file");
  }
  crypto_secretstream_xchacha20poly1305_state state;
  const auto* p = reinterpret_cast<const std::uint8_t*>(data->data());
  if (::crypto_secretstream_xchacha20poly1305_init_pull(&state, p + kMagic.size(), key_.data()) != 0) {
    return Corrupt(name + ": bad header");
  }
  std::vector<std::uint8_t> plain;
  std::size_t pos = kMagic.size() + kHeaderBytes;
  bool final = false;
  while (!final) {
    if (pos >= data->size()) return Corrupt(name + ": truncated");
    const std::size_t n = std::min(kChunk + kABytes, data->size() - pos);
    if (n < kABytes) return Corrupt(name + ": truncated");
    const std::size_t at = plain.size();
    plain.resize(at + n - kABytes);
    unsigned long long len = 0;  // NOLINT(google-runtime-int): libsodium's type
    unsigned char tag = 0;
    if (::crypto_secretstream_xchacha20poly1305_pull(&state, plain.data() + at, &len, &tag, p + pos, n, digest.data(),
                                                     digest.size()) != 0) {
      return Corrupt(name + ": authentication failed (wrong key, or the file was altered)");
    }
    plain.resize(at + static_cast<std::size_t>(len));
    pos += n;
    final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  }
  if (pos != data->size()) return Corrupt(name + ": data after the final chunk");
  if (Sha256(plain) != digest) return Corrupt(name + ": decrypts to different bytes");
  return plain;
}

}  // namespace takeback::evidence
