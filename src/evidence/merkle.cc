#include "evidence/merkle.h"

#include <bit>
#include <cstring>
#include <memory>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/hex.h"

namespace takeback::evidence {
namespace {

// Largest power of two strictly smaller than n (n >= 2).
std::uint64_t SplitPoint(std::uint64_t n) { return std::bit_floor(n - 1); }

}  // namespace

Hash Sha256(std::span<const std::uint8_t> bytes) {
  Hash out{};
  ::SHA256(bytes.data(), bytes.size(), out.data());
  return out;
}

Hash LeafHash(std::span<const std::uint8_t> entry) {
  // One context per thread, reused: the one-shot API cannot take the 0x00
  // prefix without copying the entry.
  struct CtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  thread_local const std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  const std::uint8_t prefix = 0x00;
  Hash out{};
  unsigned int len = 0;
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx.get(), &prefix, 1) == 1 &&
                  EVP_DigestUpdate(ctx.get(), entry.data(), entry.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1;
  if (!ok) out.fill(0);  // only on allocation failure; no entry hashes to all zeros
  return out;
}

Hash NodeHash(const Hash& left, const Hash& right) {
  std::array<std::uint8_t, 65> buf{};
  buf[0] = 0x01;
  std::memcpy(buf.data() + 1, left.data(), left.size());
  std::memcpy(buf.data() + 33, right.data(), right.size());
  return Sha256(buf);
}

Hash EmptyTreeHash() { return Sha256({}); }

std::string HashHex(const Hash& hash) { return HexEncode(hash); }

Result<Hash> ParseHashHex(std::string_view hex) {
  const std::optional<std::vector<std::uint8_t>> bytes = HexDecode(hex);
  if (!bytes || bytes->size() != 32)
    return InvalidArgument("not a SHA-256 hash (64 hex digits): '" + std::string(hex) + "'");
  Hash out{};
  std::memcpy(out.data(), bytes->data(), out.size());
  return out;
}

void MerkleTree::Append(const Hash& leaf_hash) {
  Hash carry = leaf_hash;
  for (std::vector<Hash>& level : levels_) {
    level.push_back(carry);
    if (level.size() % 2 != 0) return;
    carry = NodeHash(level[level.size() - 2], level.back());
  }
}

Hash MerkleTree::RangeHash(std::uint64_t begin, std::uint64_t end) const {
  const std::uint64_t n = end - begin;
  if (std::has_single_bit(n)) {
    const auto k = static_cast<std::size_t>(std::countr_zero(n));
    return levels_[k][begin >> k];
  }
  const std::uint64_t split = SplitPoint(n);
  return NodeHash(RangeHash(begin, begin + split), RangeHash(begin + split, end));
}

Result<Hash> MerkleTree::Root(std::uint64_t tree_size) const {
  if (tree_size > size())
    return InvalidArgument("tree size " + std::to_string(tree_size) + " beyond the log's " + std::to_string(size()));
  if (tree_size == 0) return EmptyTreeHash();
  return RangeHash(0, tree_size);
}

void MerkleTree::Path(std::uint64_t index, std::uint64_t begin, std::uint64_t end, std::vector<Hash>& out) const {
  const std::uint64_t n = end - begin;
  if (n <= 1) return;
  const std::uint64_t split = SplitPoint(n);
  if (index - begin < split) {
    Path(index, begin, begin + split, out);
    out.push_back(RangeHash(begin + split, end));
  } else {
    Path(index, begin + split, end, out);
    out.push_back(RangeHash(begin, begin + split));
  }
}

Result<std::vector<Hash>> MerkleTree::InclusionProof(std::uint64_t index, std::uint64_t tree_size) const {
  if (tree_size > size() || index >= tree_size) {
    return InvalidArgument("no inclusion proof for leaf " + std::to_string(index) + " in a tree of " +
                           std::to_string(tree_size) + " (log holds " + std::to_string(size()) + ")");
  }
  std::vector<Hash> out;
  Path(index, 0, tree_size, out);
  return out;
}

// SUBPROOF(m, D[begin:end], whole) of RFC 9162 section 2.1.4.1.
void MerkleTree::SubProof(std::uint64_t m, std::uint64_t begin, std::uint64_t end, bool whole,
                          std::vector<Hash>& out) const {
  const std::uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out.push_back(RangeHash(begin, end));
    return;
  }
  const std::uint64_t split = SplitPoint(n);
  if (m <= split) {
    SubProof(m, begin, begin + split, whole, out);
    out.push_back(RangeHash(begin + split, end));
  } else {
    SubProof(m - split, begin + split, end, false, out);
    out.push_back(RangeHash(begin, begin + split));
  }
}

Result<std::vector<Hash>> MerkleTree::ConsistencyProof(std::uint64_t old_size, std::uint64_t new_size) const {
  if (old_size == 0 || old_size > new_size || new_size > size()) {
    return InvalidArgument("no consistency proof from size " + std::to_string(old_size) + " to " +
                           std::to_string(new_size) + " (log holds " + std::to_string(size()) + ")");
  }
  std::vector<Hash> out;
  if (old_size < new_size) SubProof(old_size, 0, new_size, true, out);
  return out;
}

bool VerifyInclusion(const Hash& leaf_hash, std::uint64_t index, std::uint64_t tree_size, std::span<const Hash> proof,
                     const Hash& root) {
  if (index >= tree_size) return false;
  std::uint64_t fn = index;
  std::uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root, const Hash& new_root,
                       std::span<const Hash> proof) {
  if (old_size == 0 || old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (proof.empty()) return false;
  // When old_size is a power of two the old root is itself the first node.
  const bool prepend = std::has_single_bit(old_size);
  const std::size_t path_size = proof.size() + (prepend ? 1 : 0);
  auto path = [&](std::size_t i) -> const Hash& { return prepend ? (i == 0 ? old_root : proof[i - 1]) : proof[i]; };
  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path(0);
  Hash sr = path(0);
  for (std::size_t i = 1; i < path_size; ++i) {
    const Hash& c = path(i);
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

}  // namespace takeback::evidence
