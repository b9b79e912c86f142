#include "index/binary_index.h"

#include <algorithm>
#include <charconv>

#include "index/hamming.h"
#include "index/snapshot_index.h"

namespace takeback::index {

Status BinaryIndex::RangeSearchDihedral(std::span<const hash::PdqHash> variants, int radius,
                                        std::vector<DihedralNeighbor>* out) const {
  if (variants.size() != static_cast<std::size_t>(hash::kNumDihedral)) {
    return InvalidArgument("RangeSearchDihedral: needs exactly 8 hashes");
  }
  Result<RangeSearchResult> batch = RangeSearchBatch(variants, radius);
  if (!batch.ok()) return batch.status();
  out->clear();
  for (std::size_t v = 0; v < variants.size(); ++v) {
    for (std::size_t i = batch->lims[v]; i < batch->lims[v + 1]; ++i) {
      out->push_back({batch->neighbors[i].id, batch->neighbors[i].distance, static_cast<int>(v)});
    }
  }
  // Best (distance, then variant) per id.
  std::sort(out->begin(), out->end(), [](const DihedralNeighbor& a, const DihedralNeighbor& b) {
    if (a.id != b.id) return a.id < b.id;
    if (a.distance != b.distance) return a.distance < b.distance;
    return a.variant < b.variant;
  });
  out->erase(std::unique(out->begin(), out->end(),
                         [](const DihedralNeighbor& a, const DihedralNeighbor& b) { return a.id == b.id; }),
             out->end());
  std::sort(out->begin(), out->end(), [](const DihedralNeighbor& a, const DihedralNeighbor& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
  });
  return Status::Ok();
}

Result<std::unique_ptr<BinaryIndex>> MakeBinaryIndex(std::string_view description) {
  internal::Options options;
  std::string_view kind = description;
  const std::size_t comma = description.find(',');
  if (comma != std::string_view::npos) {
    kind = description.substr(0, comma);
    // Tuning, for tests: ",recent=<n>" sets the compaction threshold.
    std::string_view rest = description.substr(comma + 1);
    constexpr std::string_view kRecent = "recent=";
    std::size_t value = 0;
    if (rest.substr(0, kRecent.size()) != kRecent) {
      return InvalidArgument("unknown index option in \"" + std::string(description) + "\"");
    }
    rest.remove_prefix(kRecent.size());
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc() || ptr != rest.data() + rest.size()) {
      return InvalidArgument("bad recent= value in \"" + std::string(description) + "\"");
    }
    options.max_recent = value;
  }
  if (kind == "Flat") {
    options.kind = internal::Kind::kFlat;
  } else if (kind == "MIHS") {
    options.kind = internal::Kind::kMih;
    options.ring = true;
  } else if (kind.substr(0, 3) == "MIH") {
    options.kind = internal::Kind::kMih;
    const std::string_view digits = kind.substr(3);
    if (!digits.empty()) {
      int chunks = 0;
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), chunks);
      if (ec != std::errc() || ptr != digits.data() + digits.size() || chunks < internal::kMinChunks ||
          chunks > internal::kMaxChunks) {
        return InvalidArgument("MIH<m>: m must be " + std::to_string(internal::kMinChunks) + ".." +
                               std::to_string(internal::kMaxChunks) + ", got \"" + std::string(description) + "\"");
      }
      options.chunks = chunks;
    }
  } else {
    return InvalidArgument("unknown index description \"" + std::string(description) + "\" (Flat, MIH, MIH<m>, MIHS)");
  }
  return std::unique_ptr<BinaryIndex>(std::make_unique<internal::SnapshotIndex>(options));
}

std::string_view KernelName() { return internal::IsaName(internal::DetectedIsa()); }

}  // namespace takeback::index
