// The index file format: docs/formats/index.md.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "index/binary_index.h"
#include "index/checksum.h"
#include "index/snapshot_index.h"

namespace takeback::index {
namespace internal {
namespace {

using hash::PdqHash;

constexpr std::array<char, 8> kMagic = {'T', 'B', 'K', 'I', 'N', 'D', 'E', 'X'};
// Version 3 added 16-chunk tables with offsets and 96-bit sketches (flag
// kFlagRingTables); version 4 replaced them with ring tables (blocks and
// 16-bit next keys). A version 3 file's next keys are the low 16 bits of its
// sketches and its blocks follow from its offsets: both are made at load.
// Version 2 files, which never have such tables, are read as before.
constexpr std::uint32_t kVersion = 4;
constexpr std::uint32_t kOldestReadable = 2;
constexpr std::size_t kFixedHeader = 48;
constexpr std::size_t kSectionEntry = 32;
constexpr std::size_t kAlign = 4096;

enum SectionType : std::uint32_t {
  kHashes = 1,
  kIds = 2,
  kLines = 3,
  kOverflow = 4,
  kRingOffsets = 5,  // version 3
  kSketches = 6,     // version 3
  kRingPositions = 7,
  kRingBlocks = 8,  // version 4
  kRingKeys = 9     // version 4
};
enum FileKind : std::uint32_t { kFileFlat = 1, kFileMih = 2 };
constexpr std::uint32_t kFlagAutoChunks = 1;
constexpr std::uint32_t kFlagRingOption = 2;  // built as "MIHS"
constexpr std::uint32_t kFlagRingTables = 4;  // ring (v3: sketch) sections instead of lines/overflow
constexpr std::uint32_t kKnownFlags = kFlagAutoChunks | kFlagRingOption | kFlagRingTables;
// A version 3 sketch: 12 bytes, its first 16 bits the next key.
constexpr std::size_t kSketchBytes = 12;

struct Section {
  std::uint32_t type = 0;
  std::uint32_t param = 0;  // lines: chunk | group bits << 16; blocks: chunk | slots << 16; else chunk
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  std::uint64_t checksum = 0;
  const void* data = nullptr;  // writing only
};

void Put32(std::vector<unsigned char>* out, std::uint32_t v) {
  const std::size_t at = out->size();
  out->resize(at + 4);
  std::memcpy(out->data() + at, &v, 4);
}
void Put64(std::vector<unsigned char>* out, std::uint64_t v) {
  const std::size_t at = out->size();
  out->resize(at + 8);
  std::memcpy(out->data() + at, &v, 8);
}
std::uint32_t Get32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
std::uint64_t Get64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::size_t AlignUp(std::size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

Status WriteAll(int fd, const void* data, std::size_t bytes, const std::string& path) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (bytes > 0) {
    const ssize_t w = ::write(fd, p, std::min<std::size_t>(bytes, std::size_t{1} << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot write " + path + ": " + std::strerror(errno));
    }
    p += w;
    bytes -= static_cast<std::size_t>(w);
  }
  return Status::Ok();
}

class MappedRegion final : public Region {
 public:
  MappedRegion(void* addr, std::size_t bytes) : addr_(addr), bytes_(bytes) {}
  ~MappedRegion() override { ::munmap(addr_, bytes_); }
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;

 private:
  void* addr_;
  std::size_t bytes_;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Status WriteIndexFile(const Base& base, const Options& options, const std::string& path) {
  const Kind kind = options.kind;
  const bool rings = !base.rings.empty();
  std::vector<Section> sections;
  sections.push_back({kHashes, 0, 0, base.n * sizeof(PdqHash), 0, base.hashes});
  sections.push_back({kIds, 0, 0, base.n * sizeof(std::uint64_t), 0, base.ids});
  for (std::size_t c = 0; rings && c < base.rings.size(); ++c) {
    const RingTable& t = base.rings[c];
    const auto chunk = static_cast<std::uint32_t>(c);
    sections.push_back({kRingBlocks, static_cast<std::uint32_t>(chunk | (base.ring_block_slots << 16)), 0,
                        kRingBuckets * base.ring_block_slots * sizeof(std::uint16_t), 0, t.blocks});
    sections.push_back({kRingKeys, chunk, 0, base.n * sizeof(std::uint16_t), 0, t.keys});
    sections.push_back({kRingPositions, chunk, 0, base.n * sizeof(std::uint32_t), 0, t.positions});
  }
  for (std::size_t c = 0; !rings && c < base.tables.size(); ++c) {
    const ChunkTable& t = base.tables[c];
    sections.push_back({kLines, static_cast<std::uint32_t>(c | (t.group_bits << 16)), 0,
                        (std::size_t{1} << (t.bits - t.group_bits)) * kLineWords * sizeof(std::uint32_t), 0, t.lines});
    sections.push_back(
        {kOverflow, static_cast<std::uint32_t>(c), 0, t.overflow_words * sizeof(std::uint32_t), 0, t.overflow});
  }
  const std::size_t header_bytes = kFixedHeader + kSectionEntry * sections.size() + 8;
  std::size_t offset = AlignUp(header_bytes);
  for (Section& s : sections) {
    s.offset = offset;
    s.checksum = Xxh64(s.data, s.bytes);
    offset = AlignUp(offset + s.bytes);
  }
  std::vector<unsigned char> header;
  header.reserve(header_bytes);
  header.insert(header.end(), kMagic.begin(), kMagic.end());
  Put32(&header, kVersion);
  Put32(&header, static_cast<std::uint32_t>(header_bytes));
  Put64(&header, base.n);
  Put32(&header, kind == Kind::kFlat ? kFileFlat : kFileMih);
  Put32(&header, static_cast<std::uint32_t>(base.tables.size()));
  Put32(&header, static_cast<std::uint32_t>(sections.size()));
  Put32(&header, (options.chunks == 0 ? kFlagAutoChunks : 0) | (options.ring ? kFlagRingOption : 0) |
                     (rings ? kFlagRingTables : 0));
  Put64(&header, static_cast<std::uint64_t>(offset));  // file size
  for (const Section& s : sections) {
    Put32(&header, s.type);
    Put32(&header, s.param);
    Put64(&header, s.offset);
    Put64(&header, s.bytes);
    Put64(&header, s.checksum);
  }
  Put64(&header, Xxh64(header.data(), header.size()));

  const std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return IoError("cannot create " + tmp + ": " + std::strerror(errno));
    TAKEBACK_RETURN_IF_ERROR(WriteAll(fd.get(), header.data(), header.size(), tmp));
    std::size_t at = header.size();
    const std::vector<unsigned char> zeros(kAlign, 0);
    for (const Section& s : sections) {
      TAKEBACK_RETURN_IF_ERROR(WriteAll(fd.get(), zeros.data(), s.offset - at, tmp));
      TAKEBACK_RETURN_IF_ERROR(WriteAll(fd.get(), s.data, s.bytes, tmp));
      at = s.offset + s.bytes;
    }
    TAKEBACK_RETURN_IF_ERROR(WriteAll(fd.get(), zeros.data(), offset - at, tmp));
    if (::fsync(fd.get()) != 0) return IoError("cannot sync " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const Status s = IoError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return s;
  }
  return Status::Ok();
}

namespace {

// Whether every line of `t` is well formed, every record lies inside the
// overflow section, every position is < n and the table holds n positions.
bool TableConsistent(const ChunkTable& t, std::uint64_t n) {
  const std::uint32_t group = 1U << t.group_bits;
  const std::size_t lines = std::size_t{1} << (t.bits - t.group_bits);
  std::uint64_t total = 0;
  for (std::size_t l = 0; l < lines; ++l) {
    const std::uint32_t* line = t.lines + l * kLineWords;
    const std::uint64_t header = line[0] | (std::uint64_t{line[1]} << 32);
    auto field = [header](std::uint32_t k) { return static_cast<std::uint32_t>(header >> (4 * k)) & 15; };
    const std::uint32_t last = field(group - 1);
    const std::uint32_t* positions = nullptr;
    std::uint32_t count = 0;
    if (last != kOverflowMark) {
      std::uint32_t previous = 0;
      for (std::uint32_t k = 0; k < 16; ++k) {
        const std::uint32_t e = field(k);
        if (k < group ? (e < previous || e > kLineCapacity) : e != 0) return false;
        if (k < group) previous = e;
      }
      positions = line + kLineHeaderWords;
      count = last;
    } else {
      if ((header & ~(std::uint64_t{15} << (4 * (group - 1)))) != 0) return false;
      const std::uint64_t at = line[kLineHeaderWords];
      if (at > t.overflow_words || t.overflow_words - at < group) return false;
      const std::uint32_t* record = t.overflow + at;
      for (std::uint32_t k = 1; k < group; ++k) {
        if (record[k] < record[k - 1]) return false;
      }
      count = record[group - 1];
      if (count > t.overflow_words - at - group) return false;
      positions = record + group;
    }
    for (std::uint32_t k = 0; k < count; ++k) {
      if (positions[k] >= n) return false;
    }
    total += count;
  }
  return total == n;
}

// Whether offsets (kRingBuckets + 1, version 3) ascend from 0 to n.
bool OffsetsConsistent(const unsigned char* offsets, std::uint64_t n) {
  std::uint32_t previous = Get32(offsets);
  if (previous != 0 || Get32(offsets + 4 * kRingBuckets) != n) return false;
  for (std::size_t b = 1; b <= kRingBuckets; ++b) {
    const std::uint32_t v = Get32(offsets + 4 * b);
    if (v < previous) return false;
    previous = v;
  }
  return true;
}

// Whether the blocks (kRingBuckets x slots) cover the entries [0, n) bucket
// after bucket, and every position is < n. (Whether each entry sits in its
// hash's bucket with its hash's next key, inline and in the dense keys, is
// covered by the checksums only: a wrong one gives wrong answers, never a
// read out of bounds.)
bool RingTableConsistent(const RingTable& t, std::size_t slots, std::uint64_t n) {
  std::uint64_t next = 0;
  for (std::size_t b = 0; b < kRingBuckets; ++b) {
    const std::uint16_t* block = t.blocks + b * slots;
    if (BlockFirst(block, slots) != next) return false;
    next += BlockCount(block, slots);
  }
  if (next != n) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (t.positions[i] >= n) return false;
  }
  return true;
}

// The ring tables of a loaded file (the sections as found: version 4
// blocks and keys, or version 3 offsets and sketches), checked and copied
// to base->rings. The probe reads 272 random blocks per query: on the
// file's 4 KiB pages nearly each one misses the TLB (in the server,
// searches on a loaded snapshot cost 20-45% more CPU than on a rebuilt
// index). So the blocks and keys (~100 MB at 1M) go to huge pages, made
// from a version 3 file's offsets and sketches; the hashes, ids and
// positions, read only for the few survivors, stay mapped.
Status CopyRingTables(Base* base, std::uint32_t version, std::size_t slots,
                      const std::vector<const unsigned char*>& block_sections,
                      const std::vector<const unsigned char*>& key_sections, const std::string& path,
                      const std::function<Status(const std::string&)>& corrupt) {
  const bool v3 = version < 4;
  const std::uint64_t n = base->n;
  const auto count = static_cast<std::size_t>(n);
  const std::size_t block_words = kRingBuckets * slots;
  for (std::size_t c = 0; v3 && c < kRingChunks; ++c) {
    if (!OffsetsConsistent(block_sections[c], n)) {
      return corrupt("chunk " + std::to_string(c) + " ring table is inconsistent");
    }
  }
  void* copy_at = nullptr;
  std::shared_ptr<Region> blocks = AllocateRegion(kRingChunks * block_words * sizeof(std::uint16_t), &copy_at);
  if (blocks == nullptr) return Internal("out of memory loading index file " + path);
  auto* all_blocks = static_cast<std::uint16_t*>(copy_at);
  base->regions.push_back(std::move(blocks));
  std::vector<std::uint32_t> offsets(v3 ? kRingBuckets + 1 : 0);
  for (std::size_t c = 0; c < kRingChunks; ++c) {
    RingTable& t = base->rings[c];
    std::shared_ptr<Region> copy = AllocateRegion(std::max<std::size_t>(count * sizeof(std::uint16_t), 64), &copy_at);
    if (copy == nullptr) return Internal("out of memory loading index file " + path);
    base->regions.push_back(std::move(copy));
    auto* keys = static_cast<std::uint16_t*>(copy_at);
    std::uint16_t* table_blocks = all_blocks + c * block_words;
    if (v3) {
      for (std::size_t k = 0; k < count; ++k) {
        std::memcpy(keys + k, key_sections[c] + k * kSketchBytes, sizeof(std::uint16_t));
      }
      std::memcpy(offsets.data(), block_sections[c], offsets.size() * sizeof(std::uint32_t));
      FillRingBlocks(offsets.data(), keys, slots, table_blocks);
    } else {
      std::memcpy(keys, key_sections[c], count * sizeof(std::uint16_t));
      std::memcpy(table_blocks, block_sections[c], block_words * sizeof(std::uint16_t));
    }
    t.keys = keys;
    t.blocks = table_blocks;
    if (!RingTableConsistent(t, slots, n)) {
      return corrupt("chunk " + std::to_string(c) + " ring table is inconsistent");
    }
  }
  base->ring_block_slots = slots;
  return Status::Ok();
}

Result<std::unique_ptr<BinaryIndex>> LoadMapped(const unsigned char* data, std::size_t size,
                                                std::shared_ptr<Region> region, const std::string& path) {
  auto corrupt = [&path](const std::string& what) { return Corrupt("index file " + path + ": " + what); };
  if (size < kFixedHeader + 8) {
    return corrupt("truncated: " + std::to_string(size) + " bytes, shorter than the header");
  }
  if (std::memcmp(data, kMagic.data(), kMagic.size()) != 0) return corrupt("bad magic (not a Takeback index file)");
  const std::uint32_t version = Get32(data + 8);
  if (version < kOldestReadable || version > kVersion) {
    const std::string reads =
        " (this build reads versions " + std::to_string(kOldestReadable) + ".." + std::to_string(kVersion) + ")";
    if (version < kVersion) {
      return corrupt("unsupported format version " + std::to_string(version) +
                     ", written by an older Takeback: build the index again from its hashes" + reads);
    }
    return corrupt("unsupported format version " + std::to_string(version) + ", written by a newer Takeback" + reads);
  }
  const std::uint32_t header_bytes = Get32(data + 12);
  const std::uint64_t n = Get64(data + 16);
  const std::uint32_t kind = Get32(data + 24);
  const std::uint32_t chunks = Get32(data + 28);
  const std::uint32_t num_sections = Get32(data + 32);
  const std::uint32_t flags = Get32(data + 36);
  const std::uint64_t file_size = Get64(data + 40);
  if (num_sections > 2 + 3 * kMaxChunks || header_bytes != kFixedHeader + kSectionEntry * num_sections + 8) {
    return corrupt("bad header size");
  }
  if (header_bytes > size) return corrupt("truncated inside the header");
  if (Get64(data + header_bytes - 8) != Xxh64(data, header_bytes - 8)) return corrupt("header checksum mismatch");
  if (file_size != size) {
    return corrupt("size mismatch: header says " + std::to_string(file_size) + " bytes, file has " +
                   std::to_string(size) + " (truncated?)");
  }
  if (kind != kFileFlat && kind != kFileMih) return corrupt("unknown index kind " + std::to_string(kind));
  if (n > 0xffffffffULL) return corrupt("count too large");
  // An empty MIH index has no tables (its first compaction builds them).
  const bool empty_mih = kind == kFileMih && n == 0 && chunks == 0;
  if (kind == kFileFlat ? chunks != 0 : !empty_mih && (chunks < kMinChunks || chunks > kMaxChunks)) {
    return corrupt("bad chunk count " + std::to_string(chunks));
  }
  if ((flags & ~kKnownFlags) != 0 || (version < 3 && (flags & ~kFlagAutoChunks) != 0)) {
    return corrupt("unknown flags " + std::to_string(flags));
  }
  const bool rings = (flags & kFlagRingTables) != 0;
  if (rings && (kind != kFileMih || chunks != kRingChunks)) {
    return corrupt("ring tables need " + std::to_string(kRingChunks) + " chunks");
  }
  if (num_sections != 2 + (rings ? 3 : 2) * chunks) return corrupt("wrong number of sections");

  auto base = std::make_shared<Base>();
  base->n = n;
  base->tables = chunks > 0 ? ChunkLayout(static_cast<int>(chunks)) : std::vector<ChunkTable>{};
  if (rings) base->rings.assign(kRingChunks, RingTable{});
  // Per ring table as found in the file: version 4 blocks and keys, or
  // version 3 offsets and sketches.
  std::vector<const unsigned char*> block_sections(rings ? kRingChunks : 0, nullptr);
  std::vector<const unsigned char*> key_sections(rings ? kRingChunks : 0, nullptr);
  const bool v3_rings = rings && version < 4;
  std::size_t slots = v3_rings ? RingBlockSlots(static_cast<std::size_t>(n)) : 0;
  for (std::uint32_t i = 0; i < num_sections; ++i) {
    const unsigned char* e = data + kFixedHeader + kSectionEntry * i;
    const std::uint32_t type = Get32(e);
    const std::uint32_t param = Get32(e + 4);
    const std::uint64_t offset = Get64(e + 8);
    const std::uint64_t bytes = Get64(e + 16);
    const std::uint64_t checksum = Get64(e + 24);
    const std::string name = "section " + std::to_string(i);
    // Sections come in a fixed order: hashes, ids, then lines/overflow per chunk.
    const std::uint32_t want_type = i == 0   ? kHashes
                                    : i == 1 ? kIds
                                    : rings  ? ((i - 2) % 3 == 0   ? (v3_rings ? kRingOffsets : kRingBlocks)
                                                : (i - 2) % 3 == 1 ? (v3_rings ? kSketches : kRingKeys)
                                                                   : kRingPositions)
                                             : (i % 2 == 0 ? kLines : kOverflow);
    const std::uint32_t want_chunk = i < 2 ? 0 : (i - 2) / (rings ? 3 : 2);
    const std::uint32_t group_bits = type == kLines ? param >> 16 : 0;
    if (type != want_type || (param & 0xffff) != want_chunk ||
        (type != kLines && type != kRingBlocks && param > 0xffff)) {
      return corrupt(name + " has an unexpected type");
    }
    std::uint64_t want_bytes = 0;
    switch (type) {
      case kHashes:
        want_bytes = n * sizeof(PdqHash);
        break;
      case kIds:
        want_bytes = n * sizeof(std::uint64_t);
        break;
      case kRingOffsets:
        want_bytes = (kRingBuckets + 1) * sizeof(std::uint32_t);
        break;
      case kSketches:
        want_bytes = n * kSketchBytes;
        break;
      case kRingKeys:
        want_bytes = n * sizeof(std::uint16_t);
        break;
      case kRingBlocks: {
        const std::uint32_t block_slots = param >> 16;
        if ((block_slots != 16 && block_slots != 32) || (slots != 0 && block_slots != slots)) {
          return corrupt(name + " has bad block slots " + std::to_string(block_slots));
        }
        slots = block_slots;
        want_bytes = kRingBuckets * slots * sizeof(std::uint16_t);
        break;
      }
      case kRingPositions:
        want_bytes = n * sizeof(std::uint32_t);
        break;
      case kLines: {
        ChunkTable& table = base->tables[want_chunk];
        if (group_bits > static_cast<std::uint32_t>(std::min(kMaxGroupBits, table.bits))) {
          return corrupt(name + " has bad group bits " + std::to_string(group_bits));
        }
        table.group_bits = static_cast<int>(group_bits);
        want_bytes = (std::uint64_t{1} << (table.bits - table.group_bits)) * kLineWords * sizeof(std::uint32_t);
        break;
      }
      default:
        // Any whole number of words below 2^32; the structure check below
        // verifies every record in it.
        if (bytes % sizeof(std::uint32_t) != 0 || bytes / sizeof(std::uint32_t) > 0xffffffffULL) {
          return corrupt(name + " has the wrong size");
        }
        want_bytes = bytes;
        break;
    }
    if (bytes != want_bytes) return corrupt(name + " has the wrong size");
    if (offset % kAlign != 0 || offset < header_bytes || offset > size || bytes > size - offset) {
      return corrupt(name + " lies outside the file (truncated?)");
    }
    const unsigned char* p = data + offset;
    if (Xxh64(p, bytes) != checksum) return corrupt(name + " checksum mismatch");
    switch (type) {
      case kHashes:
        base->hashes = reinterpret_cast<const PdqHash*>(p);
        break;
      case kIds:
        base->ids = reinterpret_cast<const std::uint64_t*>(p);
        break;
      case kLines:
        base->tables[want_chunk].lines = reinterpret_cast<const std::uint32_t*>(p);
        break;
      case kRingOffsets:
      case kRingBlocks:
        block_sections[want_chunk] = p;
        break;
      case kSketches:
      case kRingKeys:
        key_sections[want_chunk] = p;
        break;
      case kRingPositions:
        base->rings[want_chunk].positions = reinterpret_cast<const std::uint32_t*>(p);
        break;
      default:
        base->tables[want_chunk].overflow = reinterpret_cast<const std::uint32_t*>(p);
        base->tables[want_chunk].overflow_words = static_cast<std::size_t>(bytes / sizeof(std::uint32_t));
        break;
    }
  }
  // Structure: checksums catch damage, these checks catch files that are
  // well-formed but inconsistent, which would otherwise read out of bounds.
  for (std::uint64_t i = 1; i < n; ++i) {
    if (base->ids[i - 1] >= base->ids[i]) return corrupt("ids are not strictly ascending");
  }
  for (std::size_t c = 0; !rings && c < base->tables.size(); ++c) {
    if (!TableConsistent(base->tables[c], n)) return corrupt("chunk " + std::to_string(c) + " table is inconsistent");
  }
  if (rings) {
    TAKEBACK_RETURN_IF_ERROR(CopyRingTables(base.get(), version, slots, block_sections, key_sections, path, corrupt));
  }
  PlanProbes(base.get());
  base->regions.push_back(std::move(region));
  Options options;
  options.kind = kind == kFileFlat ? Kind::kFlat : Kind::kMih;
  options.chunks = (flags & kFlagAutoChunks) != 0 || kind == kFileFlat ? 0 : static_cast<int>(chunks);
  options.ring = (flags & kFlagRingOption) != 0;
  return std::unique_ptr<BinaryIndex>(std::make_unique<SnapshotIndex>(options, std::move(base)));
}

}  // namespace
}  // namespace internal

Result<std::unique_ptr<BinaryIndex>> LoadBinaryIndex(const std::string& path) {
  internal::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFound("index file " + path + " does not exist");
    return IoError("cannot open index file " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return IoError("cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return IoError("index file " + path + " is not a regular file");
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) return Corrupt("index file " + path + ": empty (truncated)");
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (addr == MAP_FAILED) return IoError("cannot map " + path + ": " + std::strerror(errno));
  auto region = std::make_shared<internal::MappedRegion>(addr, size);
  return internal::LoadMapped(static_cast<const unsigned char*>(addr), size, std::move(region), path);
}

}  // namespace takeback::index
