// Prints the evidence-log figures quoted in docs/BENCHMARKS.md:
//  (a) appends/s to the log up to N entries (default 1,000,000) with durable
//      commits batched (fdatasync + an Ed25519-signed tree head per batch);
//  (b) appends/s with a durable commit after every entry, for comparison;
//  (c) reopening the log at N entries (scan, checksums, tree rebuild);
//  (d) inclusion and consistency proof generation (and verification) at N.
// Usage: evidence_bench [--entries N] [--batch B] [--dir DIR]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "evidence/keys.h"
#include "evidence/log.h"

namespace {

namespace ev = takeback::evidence;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// A realistic entry (about 430 bytes of canonical JSON).
ev::Entry MakeEntry(std::uint64_t i) {
  ev::Entry e;
  std::array<std::uint8_t, 8> seed{};
  for (int k = 0; k < 8; ++k) seed[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(i >> (8 * k));
  e.sha256 = ev::HashHex(ev::Sha256(seed));
  e.size = 100'000 + i % 5'000'000;
  e.media_type = "image/jpeg";
  e.source.kind = "chat";
  e.source.chat = "Telegram export: channel 1234567890";
  e.source.message_id = std::to_string(1'000'000 + i);
  e.source.sender_id = "user" + std::to_string(i % 9973);
  e.source.url = "https://t.me/c/1234567890/" + std::to_string(1'000'000 + i);
  e.observed_time = "2026-11-24T21:03:00Z";
  e.captured_time = "2026-11-25T09:00:00Z";
  e.captured_by = "caseworker-17";
  e.tool = "takeback 0.1.0";
  e.case_ref = "CASE-2026-" + std::to_string(i % 100);
  return e;
}

bool Fail(const takeback::Status& s) {
  std::fprintf(stderr, "evidence_bench: %s\n", s.ToString().c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t entries = 1'000'000;
  std::uint64_t batch = 1000;
  std::string dir =
      (std::filesystem::temp_directory_path() / ("evidence_bench_" + std::to_string(::getpid()))).string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--entries") entries = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--batch") batch = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--dir") dir = argv[i + 1];
  }
  if (entries == 0 || batch == 0) return 2;
  std::filesystem::remove_all(dir);
  std::array<std::uint8_t, 32> seed{};
  const std::unique_ptr<ev::Signer> signer = ev::Signer::FromSeed(seed);
  const std::string key_id = ev::KeyId(signer->public_key());

  std::printf("evidence_bench: %llu entries, durable commit every %llu, log in %s\n",
              static_cast<unsigned long long>(entries), static_cast<unsigned long long>(batch), dir.c_str());
  {
    auto log = ev::EvidenceLog::Open(dir + "/batched");
    if (!log.ok()) return Fail(log.status()) ? 0 : 1;
    const auto start = Clock::now();
    auto last_start = start;
    const std::uint64_t last_from = entries - std::min<std::uint64_t>(entries, 100'000);
    for (std::uint64_t i = 0; i < entries; ++i) {
      if (i == last_from) last_start = Clock::now();
      if (!(*log)->Append(MakeEntry(i)).ok()) return 1;
      if ((i + 1) % batch == 0 || i + 1 == entries) {
        if (!(*log)->Commit().ok()) return 1;
        const ev::TreeHead head{(*log)->size(), *(*log)->tree().Root((*log)->size()), "2026-11-25T09:00:00Z", key_id};
        const ev::SignedTreeHead sth = ev::SignTreeHead(*signer, head);
        if (!ev::VerifyTreeHead(signer->public_key(), sth)) return 1;
      }
    }
    const double total = Seconds(start);
    const double last = Seconds(last_start);
    std::printf(
        "(a) batched appends: %llu in %.2f s = %.0f appends/s overall; last 100k (log at 900k-1M): %.0f appends/s\n",
        static_cast<unsigned long long>(entries), total, static_cast<double>(entries) / total,
        static_cast<double>(entries - last_from) / last);
    std::printf(
        "    log file %.1f MiB (%.0f bytes/entry)\n",
        static_cast<double>(std::filesystem::file_size(dir + "/batched/entries")) / (1 << 20),
        static_cast<double>(std::filesystem::file_size(dir + "/batched/entries")) / static_cast<double>(entries));
  }
  {
    auto log = ev::EvidenceLog::Open(dir + "/single");
    if (!log.ok()) return 1;
    constexpr int kSingle = 500;
    const auto start = Clock::now();
    for (int i = 0; i < kSingle; ++i) {
      if (!(*log)->Append(MakeEntry(static_cast<std::uint64_t>(i))).ok() || !(*log)->Commit().ok()) return 1;
    }
    const double t = Seconds(start);
    std::printf("(b) one fdatasync per append: %d in %.2f s = %.0f appends/s\n", kSingle, t, kSingle / t);
  }
  const auto open_start = Clock::now();
  auto log = ev::EvidenceLog::Open(dir + "/batched");
  if (!log.ok()) return 1;
  std::printf("(c) reopen at %llu entries (read, checksum, rebuild tree): %.2f s\n",
              static_cast<unsigned long long>((*log)->size()), Seconds(open_start));

  const ev::MerkleTree& tree = (*log)->tree();
  const std::uint64_t n = tree.size();
  const ev::Hash root = *tree.Root(n);
  std::mt19937_64 rng(42);
  constexpr int kProofs = 10'000;
  std::vector<std::uint64_t> indices(kProofs);
  for (std::uint64_t& i : indices) i = rng() % n;
  std::size_t hashes = 0;
  auto start = Clock::now();
  for (const std::uint64_t i : indices) hashes += tree.InclusionProof(i, n)->size();
  const double incl = Seconds(start) / kProofs;
  start = Clock::now();
  int ok = 0;
  for (const std::uint64_t i : indices) {
    const std::vector<ev::Hash> proof = *tree.InclusionProof(i, n);
    ok += ev::VerifyInclusion(tree.leaf(i), i, n, proof, root) ? 1 : 0;
  }
  const double incl_verify = Seconds(start) / kProofs - incl;
  start = Clock::now();
  std::size_t chashes = 0;
  for (const std::uint64_t i : indices) chashes += tree.ConsistencyProof(i + 1, n)->size();
  const double cons = Seconds(start) / kProofs;
  std::printf(
      "(d) at %llu entries: inclusion proof %.1f us (%.1f hashes, verify %.1f us), consistency proof %.1f us "
      "(%.1f hashes); %d/%d verified\n",
      static_cast<unsigned long long>(n), incl * 1e6, static_cast<double>(hashes) / kProofs, incl_verify * 1e6,
      cons * 1e6, static_cast<double>(chashes) / kProofs, ok, kProofs);
  std::filesystem::remove_all(dir);
  return ok == kProofs ? 0 : 1;
}
