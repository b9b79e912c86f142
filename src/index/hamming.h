// Hamming-distance kernels over packed arrays of PDQ hashes, compiled per
// instruction set and picked once at run time (AVX-512 VPOPCNTDQ, AVX2,
// POPCNT, portable C++). Internal to src/index.
//
// All functions are pure and thread-safe; none allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hash/pdq.h"

namespace takeback::index::internal {

enum class Isa { kPortable = 0, kPopcnt, kAvx2, kAvx512 };

// The best kernel set this CPU supports (decided once, on first use).
Isa DetectedIsa();
std::string_view IsaName(Isa isa);

// Appends to `out_pos` / `out_dist` every i in [0, n) with
// HammingDistance(hashes[i], query) <= radius, in increasing i, and returns
// how many were appended. `out_pos` and `out_dist` must have room for n
// entries. `pos_base` is added to each reported position.
using ScanFn = std::size_t (*)(const hash::PdqHash* hashes, std::size_t n, const hash::PdqHash& query, int radius,
                               std::uint32_t pos_base, std::uint32_t* out_pos, std::uint16_t* out_dist);

// Writes HammingDistance(hashes[i], query) to out[i] for i in [0, n).
using DistancesFn = void (*)(const hash::PdqHash* hashes, std::size_t n, const hash::PdqHash& query,
                             std::uint16_t* out);

struct Kernels {
  Isa isa;
  ScanFn scan;
  DistancesFn distances;
};

// The kernels for `isa`; precondition: the CPU supports it (tests iterate
// over SupportedIsas()).
const Kernels& KernelsFor(Isa isa);
// KernelsFor(DetectedIsa()).
const Kernels& BestKernels();
// Whether this CPU can run `isa`.
bool IsaSupported(Isa isa);

}  // namespace takeback::index::internal
