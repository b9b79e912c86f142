// libFuzzer target: untrusted bytes -> LoadBinaryIndex (a server loads its
// pdq snapshot this way at start-up) -> searches on whatever loaded.
//
// A file must never make the loader or a later search crash or read out of
// bounds, whatever its bytes. Two kinds of input, by the first byte:
//   even: the rest is a whole file (magic, header, section table, sizes);
//   odd:  the second byte picks one of three valid files made here (Flat,
//         MIH bucket lines, ring tables) and the rest is patches of 5 bytes
//         (a 4-byte offset, a byte to XOR there); every checksum is then
//         made to match again, so the structure checks behind the
//         checksums (docs/formats/index.md) are what gets fuzzed.
//
// Built two ways (tests/fuzz/CMakeLists.txt): with libFuzzer, and linked
// with replay_main.cc into a plain program that replays index_seeds/.
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "index/binary_index.h"
#include "index/checksum.h"

namespace {

using takeback::hash::PdqHash;
using takeback::index::BinaryIndex;

// The bytes of `index` saved (through a memory file).
std::vector<std::uint8_t> Saved(BinaryIndex& index) {
  const std::string path = "/tmp/takeback_index_fuzz_" + std::to_string(::getpid()) + ".tbk";
  if (!index.Save(path).ok()) std::abort();
  std::vector<std::uint8_t> bytes;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    std::array<std::uint8_t, 65536> buffer{};
    for (std::size_t got; (got = std::fread(buffer.data(), 1, buffer.size(), f)) > 0;) {
      bytes.insert(bytes.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(got));
    }
    std::fclose(f);
  }
  std::remove(path.c_str());
  return bytes;
}

// Three valid files: Flat, MIH bucket lines (MIH64, small lines) and ring
// tables ("MIHS"), each over a few hundred hashes with near neighbours.
const std::array<std::vector<std::uint8_t>, 3>& Templates() {
  static const std::array<std::vector<std::uint8_t>, 3> templates = [] {
    std::array<std::vector<std::uint8_t>, 3> out;
    const char* descriptions[] = {"Flat", "MIH64", "MIHS"};
    for (std::size_t t = 0; t < out.size(); ++t) {
      std::mt19937_64 rng(t + 1);
      std::vector<std::uint64_t> ids;
      std::vector<PdqHash> hashes;
      for (std::uint64_t i = 0; i < 300; ++i) {
        PdqHash h;
        for (auto& w : h.words) w = rng();
        if (i % 3 == 1) {  // a neighbour of the previous hash, one bit away
          h = hashes.back();
          h.words[i % 4] ^= std::uint64_t{1} << (i % 64);
        }
        ids.push_back(i * 7 + 1);
        hashes.push_back(h);
      }
      auto index = takeback::index::MakeBinaryIndex(descriptions[t]);
      if (!index.ok() || !(*index)->Add(ids, hashes).ok()) std::abort();
      out[t] = Saved(**index);
    }
    return out;
  }();
  return templates;
}

std::uint32_t Get32(const std::vector<std::uint8_t>& b, std::size_t at) {
  std::uint32_t v = 0;
  if (at + 4 <= b.size()) std::memcpy(&v, b.data() + at, 4);
  return v;
}
std::uint64_t Get64(const std::vector<std::uint8_t>& b, std::size_t at) {
  std::uint64_t v = 0;
  if (at + 8 <= b.size()) std::memcpy(&v, b.data() + at, 8);
  return v;
}

// Recomputes every section checksum that lies inside the file, then the
// header checksum (layout: docs/formats/index.md).
void Reseal(std::vector<std::uint8_t>* file) {
  std::vector<std::uint8_t>& b = *file;
  const std::uint64_t header_bytes = Get32(b, 12);
  const std::uint64_t sections = Get32(b, 32);
  if (header_bytes < 56 || header_bytes > b.size() || sections > (header_bytes - 56) / 32) return;
  for (std::uint64_t i = 0; i < sections; ++i) {
    const std::size_t entry = 48 + 32 * i;
    const std::uint64_t offset = Get64(b, entry + 8);
    const std::uint64_t bytes = Get64(b, entry + 16);
    if (offset > b.size() || bytes > b.size() - offset) continue;
    const std::uint64_t sum = takeback::index::internal::Xxh64(b.data() + offset, bytes);
    std::memcpy(b.data() + entry + 24, &sum, 8);
  }
  const std::uint64_t sum = takeback::index::internal::Xxh64(b.data(), header_bytes - 8);
  std::memcpy(b.data() + header_bytes - 8, &sum, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<std::uint8_t> file;
  if ((data[0] & 1) == 0) {
    file.assign(data + 1, data + size);
  } else {
    if (size < 2) return 0;
    file = Templates()[data[1] % 3];
    for (std::size_t at = 2; at + 5 <= size; at += 5) {
      std::uint32_t offset = 0;
      std::memcpy(&offset, data + at, 4);
      file[offset % file.size()] ^= data[at + 4];
    }
    Reseal(&file);
  }
  const int fd = ::memfd_create("takeback_index_fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  for (std::size_t done = 0; done < file.size();) {
    const ssize_t w = ::write(fd, file.data() + done, file.size() - done);
    if (w <= 0) break;
    done += static_cast<std::size_t>(w);
  }
  {
    auto loaded = takeback::index::LoadBinaryIndex("/proc/self/fd/" + std::to_string(fd));
    static const bool verbose = std::getenv("TAKEBACK_FUZZ_VERBOSE") != nullptr;  // to check what the seeds reach
    if (verbose) {
      std::fprintf(stderr, "index_file_fuzz: %zu-byte file: %s\n", file.size(),
                   loaded.ok() ? (*loaded)->Describe().c_str() : loaded.status().ToString().c_str());
    }
    if (loaded.ok()) {
      BinaryIndex& index = **loaded;
      std::vector<PdqHash> queries(3);
      std::mt19937_64 rng(size);
      for (auto& q : queries) {
        for (auto& w : q.words) w = rng();
      }
      if (file.size() >= 4096 + 32) std::memcpy(queries[0].words.data(), file.data() + 4096, 32);  // a stored hash
      std::vector<takeback::index::Neighbor> out;
      for (const int radius : {0, 31, 63}) (void)index.RangeSearch(queries[0], radius, &out);
      (void)index.RangeSearchBatch(queries, 31);
      (void)index.Knn(queries[1], 5, &out);
    }
  }
  ::close(fd);
  return 0;
}
