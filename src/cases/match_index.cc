#include "cases/match_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <mutex>
#include <set>
#include <string_view>
#include <unordered_set>

#include "common/hex.h"

namespace takeback::cases {
namespace {

constexpr int kFrameBits = 20;  // frames per vpdq signal < 2^20
constexpr std::uint64_t kFrameMask = (std::uint64_t{1} << kFrameBits) - 1;

struct PdqHashKey {
  std::size_t operator()(const hash::PdqHash& h) const { return h.words[0] ^ (h.words[1] * 0x9E3779B97F4A7C15ULL); }
};

}  // namespace

Result<hash::PdqHash> DecodePdqValue(const std::vector<std::uint8_t>& value) {
  if (value.size() != 32) return Corrupt("stored pdq value is not 32 bytes");
  std::optional<hash::PdqHash> h = hash::PdqHash::FromHex(HexEncode(value));
  if (!h) return Corrupt("stored pdq value does not decode");
  return *h;
}

std::vector<std::uint8_t> EncodePdqValue(const hash::PdqHash& h) {
  return HexDecode(h.ToHex()).value_or(std::vector<std::uint8_t>());
}

Result<FaceVector> DecodeFaceValue(const std::vector<std::uint8_t>& value) {
  if (value.size() != kFaceDims * sizeof(float)) return Corrupt("stored face value is not 128 float32");
  FaceVector v{};
  for (int i = 0; i < kFaceDims; ++i) {
    std::uint32_t bits = 0;
    for (int b = 3; b >= 0; --b) bits = (bits << 8) | value[static_cast<std::size_t>(i * 4 + b)];
    v[static_cast<std::size_t>(i)] = std::bit_cast<float>(bits);
  }
  return v;
}

std::vector<std::uint8_t> EncodeFaceValue(const FaceVector& v) {
  std::vector<std::uint8_t> out;
  out.reserve(kFaceDims * 4);
  for (float f : v) {
    const auto bits = std::bit_cast<std::uint32_t>(f);
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<std::uint8_t>(bits >> (8 * b)));
  }
  return out;
}

MatchIndex::MatchIndex() {
  // "MIH" is a description MakeBinaryIndex always accepts.
  pdq_ = std::move(index::MakeBinaryIndex("MIH").value());
  vpdq_frames_ = std::move(index::MakeBinaryIndex("MIH").value());
  faces_ = std::move(index::MakeVectorIndex("Flat", kFaceDims).value());
}

Status MatchIndex::AddPdqBulk(std::vector<std::uint64_t> ids, std::vector<hash::PdqHash> hashes) {
  TAKEBACK_RETURN_IF_ERROR(pdq_->Add(ids, hashes));
  // A bulk add leaves the hashes in the index's small "recent" part, searched
  // by a linear scan, and starts building the tables in the background: a
  // server that listened now would scan all of them for every query (~2 ms
  // each at 1M: part of the first load test's 100+ ms stalls). Build them first.
  return pdq_->Compact();
}

Status MatchIndex::Apply(const store::StoredSignal& s) {
  const bool active = s.state == store::SignalState::kActive;
  const auto id = static_cast<std::uint64_t>(s.id);
  if (s.type == "pdq") {
    const std::uint64_t ids[] = {id};
    Result<std::size_t> removed = pdq_->Remove(ids);
    if (!removed.ok()) return removed.status();
    if (!active) return Status::Ok();
    Result<hash::PdqHash> h = DecodePdqValue(s.value);
    if (!h.ok()) return h.status();
    const hash::PdqHash hashes[] = {*h};
    return pdq_->Add(ids, hashes);
  }
  if (s.type == "md5" || s.type == "sha256") {
    std::unique_lock lock(mu_);
    auto& map = s.type == "md5" ? md5_ : sha256_;
    if (auto it = digest_of_.find(s.id); it != digest_of_.end()) {
      auto& old = map[it->second];
      old.erase(std::remove(old.begin(), old.end(), s.id), old.end());
      if (old.empty()) map.erase(it->second);
      digest_of_.erase(it);
    }
    if (!active) return Status::Ok();
    std::string key(s.value.begin(), s.value.end());
    map[key].push_back(s.id);
    digest_of_[s.id] = std::move(key);
    return Status::Ok();
  }
  if (s.type == "vpdq") {
    std::vector<std::uint64_t> old_ids;
    {
      std::unique_lock lock(mu_);
      if (auto it = vpdq_frame_ids_.find(s.id); it != vpdq_frame_ids_.end()) {
        old_ids = std::move(it->second);
        vpdq_frame_ids_.erase(it);
        vpdq_unique_.erase(s.id);
      }
    }
    if (!old_ids.empty()) {
      Result<std::size_t> removed = vpdq_frames_->Remove(old_ids);
      if (!removed.ok()) return removed.status();
    }
    if (!active) return Status::Ok();
    Result<std::vector<hash::VpdqFrame>> frames =
        hash::ParseVpdqText(std::string_view(reinterpret_cast<const char*>(s.value.data()), s.value.size()));
    if (!frames.ok()) return frames.status();
    std::vector<std::uint64_t> ids;
    std::vector<hash::PdqHash> hashes;
    std::unordered_set<hash::PdqHash, PdqHashKey> seen;
    for (std::size_t i = 0; i < frames->size() && i <= kFrameMask; ++i) {
      const hash::VpdqFrame& f = (*frames)[i];
      if (f.quality < 50 || !seen.insert(f.hash).second) continue;
      ids.push_back((id << kFrameBits) | i);
      hashes.push_back(f.hash);
    }
    if (!ids.empty()) TAKEBACK_RETURN_IF_ERROR(vpdq_frames_->Add(ids, hashes));
    std::unique_lock lock(mu_);
    vpdq_unique_[s.id] = ids.size();
    vpdq_frame_ids_[s.id] = std::move(ids);
    return Status::Ok();
  }
  if (s.type == "face") {
    const std::uint64_t ids[] = {id};
    Result<std::size_t> removed = faces_->Remove(ids);
    if (!removed.ok()) return removed.status();
    if (!active) return Status::Ok();
    Result<FaceVector> v = DecodeFaceValue(s.value);
    if (!v.ok()) return v.status();
    return faces_->Add(ids, *v);
  }
  return Corrupt("unknown signal type '" + s.type + "'");
}

Result<std::vector<std::vector<Candidate>>> MatchIndex::SearchPdqBatch(const std::vector<hash::PdqHash>& queries,
                                                                       int radius) const {
  Result<index::RangeSearchResult> r = pdq_->RangeSearchBatch(queries, radius);
  if (!r.ok()) return r.status();
  std::vector<std::vector<Candidate>> out(queries.size());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    for (std::size_t i = r->lims[q]; i < r->lims[q + 1]; ++i) {
      const index::Neighbor& n = r->neighbors[i];
      out[q].push_back(Candidate{static_cast<std::int64_t>(n.id), static_cast<double>(n.distance), 0, 0, 0});
    }
  }
  return out;
}

Result<std::vector<Candidate>> MatchIndex::Search(const Query& query, const MatchLimits& limits) const {
  std::vector<Candidate> out;
  if (query.type == "pdq") {
    if (query.quality < limits.min_quality) return out;
    if (query.dihedral.size() == hash::kNumDihedral) {
      std::vector<index::DihedralNeighbor> found;
      TAKEBACK_RETURN_IF_ERROR(pdq_->RangeSearchDihedral(query.dihedral, limits.pdq_radius, &found));
      for (const auto& n : found) {
        out.push_back(Candidate{static_cast<std::int64_t>(n.id), static_cast<double>(n.distance), n.variant, 0, 0});
      }
    } else {
      std::vector<index::Neighbor> found;
      TAKEBACK_RETURN_IF_ERROR(pdq_->RangeSearch(query.pdq, limits.pdq_radius, &found));
      for (const auto& n : found) {
        out.push_back(Candidate{static_cast<std::int64_t>(n.id), static_cast<double>(n.distance), 0, 0, 0});
      }
    }
    return out;
  }
  if (query.type == "md5" || query.type == "sha256") {
    std::shared_lock lock(mu_);
    const auto& map = query.type == "md5" ? md5_ : sha256_;
    auto it = map.find(std::string(query.digest.begin(), query.digest.end()));
    if (it != map.end()) {
      for (std::int64_t id : it->second) out.push_back(Candidate{id, 0, 0, 0, 0});
    }
    return out;
  }
  if (query.type == "vpdq") {
    // Unique query frames of sufficient quality.
    std::vector<hash::PdqHash> unique;
    {
      std::unordered_set<hash::PdqHash, PdqHashKey> seen;
      for (const auto& f : query.frames) {
        if (f.quality >= limits.min_quality && seen.insert(f.hash).second) unique.push_back(f.hash);
      }
    }
    if (unique.empty()) return out;
    Result<index::RangeSearchResult> r = vpdq_frames_->RangeSearchBatch(unique, limits.vpdq_frame_radius);
    if (!r.ok()) return r.status();
    // Per signal: which query frames found it, which of its frames were found.
    std::unordered_map<std::int64_t, std::pair<std::set<std::size_t>, std::set<std::uint64_t>>> hits;
    for (std::size_t q = 0; q < unique.size(); ++q) {
      for (std::size_t i = r->lims[q]; i < r->lims[q + 1]; ++i) {
        const std::uint64_t fid = r->neighbors[i].id;
        auto& h = hits[static_cast<std::int64_t>(fid >> kFrameBits)];
        h.first.insert(q);
        h.second.insert(fid & kFrameMask);
      }
    }
    std::shared_lock lock(mu_);
    for (const auto& [sid, h] : hits) {
      auto it = vpdq_unique_.find(sid);
      if (it == vpdq_unique_.end() || it->second == 0) continue;
      const double qp = 100.0 * static_cast<double>(h.first.size()) / static_cast<double>(unique.size());
      const double tp = 100.0 * static_cast<double>(h.second.size()) / static_cast<double>(it->second);
      if (qp >= limits.vpdq_percent || tp >= limits.vpdq_percent) {
        out.push_back(Candidate{sid, 100.0 - std::max(qp, tp), 0, qp, tp});
      }
    }
    std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
      return a.distance != b.distance ? a.distance < b.distance : a.signal_id < b.signal_id;
    });
    return out;
  }
  if (query.type == "face") {
    std::vector<index::VectorNeighbor> found;
    TAKEBACK_RETURN_IF_ERROR(faces_->RangeSearch(query.face, static_cast<float>(limits.face_distance), &found));
    for (const auto& n : found) {
      out.push_back(Candidate{static_cast<std::int64_t>(n.id), static_cast<double>(n.distance), 0, 0, 0});
    }
    return out;
  }
  return InvalidArgument("unknown signal type '" + query.type + "'");
}

MatchIndex::Sizes MatchIndex::sizes() const {
  Sizes s;
  s.pdq = pdq_->size();
  s.vpdq_frames = vpdq_frames_->size();
  std::shared_lock lock(mu_);
  for (const auto& [k, v] : md5_) s.md5 += v.size();
  for (const auto& [k, v] : sha256_) s.sha256 += v.size();
  s.vpdq_signals = vpdq_unique_.size();
  s.face = faces_->size();
  return s;
}

Status MatchIndex::SavePdq(const std::string& path) { return pdq_->Save(path); }

Status MatchIndex::LoadPdq(const std::string& path) {
  Result<std::unique_ptr<index::BinaryIndex>> loaded = index::LoadBinaryIndex(path);
  if (!loaded.ok()) return loaded.status();
  pdq_ = std::move(*loaded);
  return Status::Ok();
}

}  // namespace takeback::cases
