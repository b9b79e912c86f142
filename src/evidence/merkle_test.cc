#include "evidence/merkle.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace takeback::evidence {
namespace {

std::span<const std::uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The RFC 9162 definitions, written as literally as possible (O(n) per call).
Hash RefMth(const std::vector<Hash>& d, std::size_t b, std::size_t e) {
  const std::size_t n = e - b;
  if (n == 0) return EmptyTreeHash();
  if (n == 1) return d[b];
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return NodeHash(RefMth(d, b, b + k), RefMth(d, b + k, e));
}

std::vector<Hash> RefPath(std::size_t m, const std::vector<Hash>& d, std::size_t b, std::size_t e) {
  const std::size_t n = e - b;
  if (n == 1) return {};
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  std::vector<Hash> out;
  if (m < k) {
    out = RefPath(m, d, b, b + k);
    out.push_back(RefMth(d, b + k, e));
  } else {
    out = RefPath(m - k, d, b + k, e);
    out.push_back(RefMth(d, b, b + k));
  }
  return out;
}

std::vector<Hash> RefSubproof(std::size_t m, const std::vector<Hash>& d, std::size_t b, std::size_t e, bool whole) {
  const std::size_t n = e - b;
  if (m == n) return whole ? std::vector<Hash>{} : std::vector<Hash>{RefMth(d, b, e)};
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  std::vector<Hash> out;
  if (m <= k) {
    out = RefSubproof(m, d, b, b + k, whole);
    out.push_back(RefMth(d, b + k, e));
  } else {
    out = RefSubproof(m - k, d, b + k, e, false);
    out.push_back(RefMth(d, b, b + k));
  }
  return out;
}

std::vector<Hash> Leaves(std::size_t n) {
  std::vector<Hash> leaves;
  for (std::size_t i = 0; i < n; ++i) leaves.push_back(LeafHash(Bytes("entry " + std::to_string(i))));
  return leaves;
}

TEST(MerkleTest, KnownHashes) {
  // SHA-256("") and the RFC 6962/9162 test-vector leaf hash of the empty entry.
  EXPECT_EQ(HashHex(EmptyTreeHash()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HashHex(LeafHash({})), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  // The certificate-transparency test vectors: leaves 0x00, 0x10, 0x2021, ...
  const std::vector<std::vector<std::uint8_t>> inputs = {
      {},
      {0x00},
      {0x10},
      {0x20, 0x21},
      {0x30, 0x31},
      {0x40, 0x41, 0x42, 0x43},
      {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
      {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f}};
  MerkleTree tree;
  for (const auto& in : inputs) tree.Append(LeafHash(in));
  const std::vector<std::string> roots = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                                          "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                                          "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                                          "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                                          "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                                          "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                                          "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                                          "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  for (std::size_t n = 1; n <= roots.size(); ++n) EXPECT_EQ(HashHex(*tree.Root(n)), roots[n - 1]) << n;
}

TEST(MerkleTest, EveryProofUpTo64MatchesTheReferenceAndVerifies) {
  const std::vector<Hash> leaves = Leaves(64);
  MerkleTree tree;
  for (const Hash& h : leaves) tree.Append(h);
  for (std::size_t n = 1; n <= 64; ++n) {
    const Hash root = RefMth(leaves, 0, n);
    ASSERT_EQ(*tree.Root(n), root) << n;
    for (std::size_t m = 0; m < n; ++m) {
      const Result<std::vector<Hash>> proof = tree.InclusionProof(m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_EQ(*proof, RefPath(m, leaves, 0, n)) << m << "/" << n;
      EXPECT_TRUE(VerifyInclusion(leaves[m], m, n, *proof, root)) << m << "/" << n;
      EXPECT_FALSE(VerifyInclusion(leaves[(m + 1) % 64], m, n, *proof, root));
      if (!proof->empty()) {
        std::vector<Hash> bad = *proof;
        bad.back()[0] ^= 1;
        EXPECT_FALSE(VerifyInclusion(leaves[m], m, n, bad, root));
        bad = *proof;
        bad.pop_back();
        EXPECT_FALSE(VerifyInclusion(leaves[m], m, n, bad, root));
      }
      // (The tree size only fixes the proof's shape; it is bound by the
      // signed tree head, so a wrong size is not asserted to fail here.)
    }
    for (std::size_t m = 1; m <= n; ++m) {
      const Result<std::vector<Hash>> proof = tree.ConsistencyProof(m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_EQ(*proof, RefSubproof(m, leaves, 0, n, true)) << m << "/" << n;
      const Hash old_root = RefMth(leaves, 0, m);
      EXPECT_TRUE(VerifyConsistency(m, n, old_root, root, *proof)) << m << "/" << n;
      if (m < n) {
        Hash forked = old_root;
        forked[5] ^= 0x40;
        EXPECT_FALSE(VerifyConsistency(m, n, forked, root, *proof)) << m << "/" << n;
        EXPECT_FALSE(VerifyConsistency(m, n, old_root, forked, *proof)) << m << "/" << n;
        std::vector<Hash> bad = *proof;
        bad.front()[0] ^= 1;
        EXPECT_FALSE(VerifyConsistency(m, n, old_root, root, bad)) << m << "/" << n;
      }
    }
  }
}

TEST(MerkleTest, ForkedLogFailsConsistency) {
  std::vector<Hash> a = Leaves(20);
  std::vector<Hash> b = a;
  b[12] = LeafHash(Bytes("rewritten history"));
  MerkleTree ta;
  MerkleTree tb;
  for (const Hash& h : a) ta.Append(h);
  for (const Hash& h : b) tb.Append(h);
  // A head of log A at 15 cannot be proven a prefix of log B at 20.
  const Result<std::vector<Hash>> proof = tb.ConsistencyProof(15, 20);
  ASSERT_TRUE(proof.ok());
  EXPECT_FALSE(VerifyConsistency(15, 20, *ta.Root(15), *tb.Root(20), *proof));
  // Before the fork, both agree.
  EXPECT_TRUE(VerifyConsistency(12, 20, *ta.Root(12), *tb.Root(20), *tb.ConsistencyProof(12, 20)));
}

TEST(MerkleTest, BadArguments) {
  MerkleTree tree;
  EXPECT_EQ(HashHex(*tree.Root(0)), HashHex(EmptyTreeHash()));
  EXPECT_FALSE(tree.Root(1).ok());
  tree.Append(LeafHash({}));
  EXPECT_FALSE(tree.InclusionProof(1, 1).ok());
  EXPECT_FALSE(tree.ConsistencyProof(0, 1).ok());
  EXPECT_FALSE(tree.ConsistencyProof(1, 2).ok());
  EXPECT_FALSE(ParseHashHex("abc").ok());
}

}  // namespace
}  // namespace takeback::evidence
