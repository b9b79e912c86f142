#include "index/hamming.h"

#include <bit>
#include <cstring>

#include <immintrin.h>

#include "common/cpu.h"

namespace takeback::index::internal {
namespace {

using hash::PdqHash;

static_assert(sizeof(PdqHash) == 32, "PdqHash must be four packed 64-bit words");

// ---- portable and POPCNT: four 64-bit popcounts per hash -------------------

#define TAKEBACK_SCALAR_KERNELS(SUFFIX, ATTR)                                                                        \
  ATTR std::size_t Scan##SUFFIX(const PdqHash* hashes, std::size_t n, const PdqHash& query, int radius,              \
                                std::uint32_t pos_base, std::uint32_t* out_pos, std::uint16_t* out_dist) {           \
    const std::uint64_t q0 = query.words[0], q1 = query.words[1], q2 = query.words[2], q3 = query.words[3];          \
    std::size_t found = 0;                                                                                           \
    for (std::size_t i = 0; i < n; ++i) {                                                                            \
      const std::uint64_t* w = hashes[i].words.data();                                                               \
      const int d =                                                                                                  \
          std::popcount(w[0] ^ q0) + std::popcount(w[1] ^ q1) + std::popcount(w[2] ^ q2) + std::popcount(w[3] ^ q3); \
      if (d <= radius) {                                                                                             \
        out_pos[found] = pos_base + static_cast<std::uint32_t>(i);                                                   \
        out_dist[found] = static_cast<std::uint16_t>(d);                                                             \
        ++found;                                                                                                     \
      }                                                                                                              \
    }                                                                                                                \
    return found;                                                                                                    \
  }                                                                                                                  \
  ATTR void Distances##SUFFIX(const PdqHash* hashes, std::size_t n, const PdqHash& query, std::uint16_t* out) {      \
    const std::uint64_t q0 = query.words[0], q1 = query.words[1], q2 = query.words[2], q3 = query.words[3];          \
    for (std::size_t i = 0; i < n; ++i) {                                                                            \
      const std::uint64_t* w = hashes[i].words.data();                                                               \
      out[i] = static_cast<std::uint16_t>(std::popcount(w[0] ^ q0) + std::popcount(w[1] ^ q1) +                      \
                                          std::popcount(w[2] ^ q2) + std::popcount(w[3] ^ q3));                      \
    }                                                                                                                \
  }

TAKEBACK_SCALAR_KERNELS(Portable, )
TAKEBACK_SCALAR_KERNELS(Popcnt, __attribute__((target("popcnt"))))
#undef TAKEBACK_SCALAR_KERNELS

// ---- AVX2: nibble-table popcount (pshufb), four hashes per step ------------
//
// Each hash is one 256-bit register. Byte popcounts come from a 16-entry
// table looked up with vpshufb, vpsadbw folds them to four 64-bit partial
// sums, and four hashes' partial sums are packed as 16-bit fields of one
// 64-bit word, so one horizontal add yields four distances.

#define TAKEBACK_AVX2 __attribute__((target("avx2,popcnt")))

TAKEBACK_AVX2 inline __m256i PartialCounts(__m256i x, __m256i lut, __m256i low_mask) {
  const __m256i lo = _mm256_and_si256(x, low_mask);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low_mask);
  const __m256i bytes = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
  return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
}

// Four distances, as 16-bit fields (hash k in bits 16k..16k+15).
TAKEBACK_AVX2 inline std::uint64_t FourDistances(const PdqHash* h, __m256i q, __m256i lut, __m256i low_mask) {
  const __m256i s0 = PartialCounts(
      _mm256_xor_si256(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h[0].words.data()))), lut, low_mask);
  const __m256i s1 = PartialCounts(
      _mm256_xor_si256(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h[1].words.data()))), lut, low_mask);
  const __m256i s2 = PartialCounts(
      _mm256_xor_si256(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h[2].words.data()))), lut, low_mask);
  const __m256i s3 = PartialCounts(
      _mm256_xor_si256(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h[3].words.data()))), lut, low_mask);
  const __m256i packed = _mm256_or_si256(_mm256_or_si256(s0, _mm256_slli_epi64(s1, 16)),
                                         _mm256_or_si256(_mm256_slli_epi64(s2, 32), _mm256_slli_epi64(s3, 48)));
  const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1));
  const __m128i sum = _mm_add_epi64(half, _mm_unpackhi_epi64(half, half));
  return static_cast<std::uint64_t>(_mm_cvtsi128_si64(sum));
}

TAKEBACK_AVX2 inline __m256i NibbleTable() {
  return _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3,
                          4);
}

TAKEBACK_AVX2 std::size_t ScanAvx2(const PdqHash* hashes, std::size_t n, const PdqHash& query, int radius,
                                   std::uint32_t pos_base, std::uint32_t* out_pos, std::uint16_t* out_dist) {
  const __m256i lut = NibbleTable();
  const __m256i low_mask = _mm256_set1_epi8(0x0f);
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query.words.data()));
  // A field d (<= 256) plus (0x7fff - radius) sets bit 15 exactly when
  // d > radius, and never carries into the next field.
  constexpr std::uint64_t kOnes = 0x0001000100010001ULL;
  constexpr std::uint64_t kHigh = 0x8000800080008000ULL;
  const std::uint64_t bias = static_cast<std::uint64_t>(0x7fff - radius) * kOnes;
  std::size_t found = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const std::uint64_t d = FourDistances(hashes + i, q, lut, low_mask);
    if (((d + bias) & kHigh) == kHigh) continue;
    for (int k = 0; k < 4; ++k) {
      const int dk = static_cast<int>((d >> (16 * k)) & 0xffff);
      if (dk <= radius) {
        out_pos[found] = pos_base + static_cast<std::uint32_t>(i + k);
        out_dist[found] = static_cast<std::uint16_t>(dk);
        ++found;
      }
    }
  }
  found += ScanPopcnt(hashes + i, n - i, query, radius, pos_base + static_cast<std::uint32_t>(i), out_pos + found,
                      out_dist + found);
  return found;
}

TAKEBACK_AVX2 void DistancesAvx2(const PdqHash* hashes, std::size_t n, const PdqHash& query, std::uint16_t* out) {
  const __m256i lut = NibbleTable();
  const __m256i low_mask = _mm256_set1_epi8(0x0f);
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query.words.data()));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const std::uint64_t d = FourDistances(hashes + i, q, lut, low_mask);
    std::memcpy(out + i, &d, sizeof(d));  // little-endian: field k is hash i + k
  }
  DistancesPopcnt(hashes + i, n - i, query, out + i);
}

#undef TAKEBACK_AVX2

// ---- AVX-512 VPOPCNTDQ: two hashes per 512-bit register --------------------

#define TAKEBACK_AVX512 __attribute__((target("avx512f,avx512vpopcntdq,popcnt")))

TAKEBACK_AVX512 inline __m512i QueryTwice(const PdqHash& query) {
  std::uint64_t twice[8];
  std::memcpy(twice, query.words.data(), 32);
  std::memcpy(twice + 4, query.words.data(), 32);
  return _mm512_loadu_si512(twice);
}

// The distance of hash `which` (0: lanes 0-3, 1: lanes 4-7) of a pair.
TAKEBACK_AVX512 inline int PairSum(__m512i counts, int which) {
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, counts);
  const std::uint64_t* l = lanes + 4 * which;
  return static_cast<int>(l[0] + l[1] + l[2] + l[3]);
}

TAKEBACK_AVX512 std::size_t ScanAvx512(const PdqHash* hashes, std::size_t n, const PdqHash& query, int radius,
                                       std::uint32_t pos_base, std::uint32_t* out_pos, std::uint16_t* out_dist) {
  const __m512i q = QueryTwice(query);
  std::size_t found = 0;
  std::size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const __m512i x = _mm512_xor_si512(q, _mm512_loadu_si512(hashes[i].words.data()));
    const __m512i counts = _mm512_popcnt_epi64(x);
    const int d0 = PairSum(counts, 0);
    const int d1 = PairSum(counts, 1);
    if (d0 <= radius) {
      out_pos[found] = pos_base + static_cast<std::uint32_t>(i);
      out_dist[found++] = static_cast<std::uint16_t>(d0);
    }
    if (d1 <= radius) {
      out_pos[found] = pos_base + static_cast<std::uint32_t>(i + 1);
      out_dist[found++] = static_cast<std::uint16_t>(d1);
    }
  }
  found += ScanPopcnt(hashes + i, n - i, query, radius, pos_base + static_cast<std::uint32_t>(i), out_pos + found,
                      out_dist + found);
  return found;
}

TAKEBACK_AVX512 void DistancesAvx512(const PdqHash* hashes, std::size_t n, const PdqHash& query, std::uint16_t* out) {
  const __m512i q = QueryTwice(query);
  std::size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const __m512i counts = _mm512_popcnt_epi64(_mm512_xor_si512(q, _mm512_loadu_si512(hashes[i].words.data())));
    out[i] = static_cast<std::uint16_t>(PairSum(counts, 0));
    out[i + 1] = static_cast<std::uint16_t>(PairSum(counts, 1));
  }
  DistancesPopcnt(hashes + i, n - i, query, out + i);
}

#undef TAKEBACK_AVX512

constexpr Kernels kPortable{Isa::kPortable, ScanPortable, DistancesPortable};
constexpr Kernels kPopcnt{Isa::kPopcnt, ScanPopcnt, DistancesPopcnt};
constexpr Kernels kAvx2{Isa::kAvx2, ScanAvx2, DistancesAvx2};
constexpr Kernels kAvx512{Isa::kAvx512, ScanAvx512, DistancesAvx512};

}  // namespace

bool IsaSupported(Isa isa) {
  switch (isa) {
    case Isa::kPortable:
      return true;
    case Isa::kPopcnt:
      return cpu::HasPopcnt();
    case Isa::kAvx2:
      return cpu::HasAvx2() && cpu::HasPopcnt();
    case Isa::kAvx512:
      return cpu::HasAvx512Vpopcntdq() && cpu::HasPopcnt();
  }
  return false;
}

Isa DetectedIsa() {
  static const Isa isa = [] {
    for (Isa candidate : {Isa::kAvx512, Isa::kAvx2, Isa::kPopcnt}) {
      if (IsaSupported(candidate)) return candidate;
    }
    return Isa::kPortable;
  }();
  return isa;
}

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kPortable:
      return "portable";
    case Isa::kPopcnt:
      return "popcnt";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512-vpopcntdq";
  }
  return "unknown";
}

const Kernels& KernelsFor(Isa isa) {
  switch (isa) {
    case Isa::kPortable:
      return kPortable;
    case Isa::kPopcnt:
      return kPopcnt;
    case Isa::kAvx2:
      return kAvx2;
    case Isa::kAvx512:
      return kAvx512;
  }
  return kPortable;
}

const Kernels& BestKernels() {
  static const Kernels& best = KernelsFor(DetectedIsa());
  return best;
}

}  // namespace takeback::index::internal
