// The in-memory match state of a server: every active signal, by type, in
// the structure that answers its query fastest (issue 4).
//
//   pdq     a BinaryIndex (MIH), id = signal id
//   md5     hash map digest -> signal ids
//   sha256  hash map digest -> signal ids
//   vpdq    a BinaryIndex of frames, id = (signal id << 20) | frame number,
//           plus the unique-frame count of each signal (for the shares)
//   face    a VectorIndex ("Flat": exact SIMD scan, Euclidean), id = signal id
//
// Thread-safety: any number of searches run concurrently with Apply(); a
// search sees each Apply() completely or not at all per type.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "hash/pdq.h"
#include "hash/vpdq.h"
#include "index/binary_index.h"
#include "index/vector/vector_index.h"
#include "store/store.h"

namespace takeback::cases {

inline constexpr int kFaceDims = 128;
using FaceVector = std::array<float, kFaceDims>;

// One query item of POST /v1/match.
struct Query {
  std::string type;                     // "pdq", "md5", "sha256", "vpdq", "face"
  hash::PdqHash pdq;                    // pdq
  int quality = 100;                    // pdq (optional in queries)
  std::vector<hash::PdqHash> dihedral;  // pdq: optional, the 8 dihedral variants (hash::Dihedral order)
  std::vector<std::uint8_t> digest;     // md5 / sha256
  std::vector<hash::VpdqFrame> frames;  // vpdq
  FaceVector face{};                    // face
};

// A candidate found by the index, before the store confirms it.
struct Candidate {
  std::int64_t signal_id = 0;
  double distance = 0;        // bits for pdq, 0 for digests, percent-free for vpdq (see below), Euclidean for face
  int variant = 0;            // pdq: dihedral variant that matched
  double query_percent = 0;   // vpdq
  double target_percent = 0;  // vpdq
};

// Decodes the stored bytes of a signal (docs/formats/service-store.md).
Result<hash::PdqHash> DecodePdqValue(const std::vector<std::uint8_t>& value);
std::vector<std::uint8_t> EncodePdqValue(const hash::PdqHash& h);
Result<FaceVector> DecodeFaceValue(const std::vector<std::uint8_t>& value);
std::vector<std::uint8_t> EncodeFaceValue(const FaceVector& v);

struct MatchLimits {
  int pdq_radius = 31;         // the largest pdq_max_distance of any bank
  double vpdq_percent = 80;    // the smallest vpdq threshold of any bank
  double face_distance = 0.5;  // face::kDefaultFaceMatchThreshold
  int vpdq_frame_radius = 31;
  int min_quality = 50;
};

class MatchIndex {
 public:
  MatchIndex();

  // Brings the index in line with one signal's current state: active signals
  // are (re)added, every other state removes it. Idempotent.
  Status Apply(const store::StoredSignal& signal);
  // Bulk load of active pdq signals (start-up), faster than Apply one by one;
  // returns when the index structure over them is built (searches are fast).
  Status AddPdqBulk(std::vector<std::uint64_t> ids, std::vector<hash::PdqHash> hashes);

  // Candidates for one query (their distance within the limits), sorted by
  // distance. The caller confirms each with the store and applies per-bank
  // thresholds.
  Result<std::vector<Candidate>> Search(const Query& query, const MatchLimits& limits) const;
  // Pdq-only batch without dihedral variants: one search over one snapshot.
  Result<std::vector<std::vector<Candidate>>> SearchPdqBatch(const std::vector<hash::PdqHash>& queries,
                                                             int radius) const;

  struct Sizes {
    std::size_t pdq = 0, md5 = 0, sha256 = 0, vpdq_signals = 0, vpdq_frames = 0, face = 0;
  };
  Sizes sizes() const;

  // Persists / restores the pdq index (the slow part to rebuild).
  Status SavePdq(const std::string& path);
  Status LoadPdq(const std::string& path);

 private:
  std::unique_ptr<index::BinaryIndex> pdq_;
  std::unique_ptr<index::BinaryIndex> vpdq_frames_;
  std::unique_ptr<index::VectorIndex> faces_;

  mutable std::shared_mutex mu_;  // guards the maps below
  std::unordered_map<std::string, std::vector<std::int64_t>> md5_;
  std::unordered_map<std::string, std::vector<std::int64_t>> sha256_;
  std::unordered_map<std::int64_t, std::string> digest_of_;  // signal id -> "md5:"/"sha256:" + bytes, for removal
  std::unordered_map<std::int64_t, std::vector<std::uint64_t>> vpdq_frame_ids_;
  std::unordered_map<std::int64_t, std::size_t> vpdq_unique_;  // unique frames of quality >= 50
};

}  // namespace takeback::cases
