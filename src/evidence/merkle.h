// RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing, inclusion
// proofs and consistency proofs over SHA-256:
//   leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right),
//   the hash of the empty tree = SHA-256("").
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace takeback::evidence {

using Hash = std::array<std::uint8_t, 32>;

// SHA-256 of `bytes` (no domain prefix).
Hash Sha256(std::span<const std::uint8_t> bytes);
Hash LeafHash(std::span<const std::uint8_t> entry);
Hash NodeHash(const Hash& left, const Hash& right);
Hash EmptyTreeHash();

// Lower-case hex of a hash, and back (nullopt-like error on anything but
// 64 hex digits).
std::string HashHex(const Hash& hash);
Result<Hash> ParseHashHex(std::string_view hex);

// An in-memory Merkle tree over leaf hashes that answers root, inclusion and
// consistency queries for any tree size up to size() in O(log^2 n) hash
// operations. It keeps every complete subtree root (about 2 hashes per leaf,
// 64 MiB at 1M leaves). Not thread-safe: callers serialise access.
class MerkleTree {
 public:
  void Append(const Hash& leaf_hash);
  std::uint64_t size() const { return levels_[0].size(); }
  const Hash& leaf(std::uint64_t index) const { return levels_[0][index]; }

  // MTH(D[0:tree_size]). kInvalidArgument when tree_size > size().
  Result<Hash> Root(std::uint64_t tree_size) const;
  // PATH(index, D[0:tree_size]) in RFC 9162 order (leaf side first).
  // kInvalidArgument unless index < tree_size <= size().
  Result<std::vector<Hash>> InclusionProof(std::uint64_t index, std::uint64_t tree_size) const;
  // PROOF(old_size, D[0:new_size]). kInvalidArgument unless
  // 0 < old_size <= new_size <= size(). Empty when old_size == new_size.
  Result<std::vector<Hash>> ConsistencyProof(std::uint64_t old_size, std::uint64_t new_size) const;

 private:
  // MTH of D[begin:end); begin is a multiple of the largest power of two
  // smaller than end - begin (true of every range RFC 9162 recursion visits).
  Hash RangeHash(std::uint64_t begin, std::uint64_t end) const;
  void Path(std::uint64_t index, std::uint64_t begin, std::uint64_t end, std::vector<Hash>& out) const;
  void SubProof(std::uint64_t m, std::uint64_t begin, std::uint64_t end, bool whole, std::vector<Hash>& out) const;

  // levels_[k][i] = root of the complete subtree over leaves [i*2^k, (i+1)*2^k).
  std::array<std::vector<Hash>, 64> levels_;
};

// RFC 9162 section 2.1.3.2: true when `proof` proves that `leaf_hash` is
// leaf `index` of the tree of `tree_size` leaves with root `root`.
bool VerifyInclusion(const Hash& leaf_hash, std::uint64_t index, std::uint64_t tree_size, std::span<const Hash> proof,
                     const Hash& root);

// RFC 9162 section 2.1.4.2: true when `proof` proves that the tree of
// `old_size` leaves with `old_root` is a prefix of the tree of `new_size`
// leaves with `new_root`.
bool VerifyConsistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root, const Hash& new_root,
                       std::span<const Hash> proof);

}  // namespace takeback::evidence
