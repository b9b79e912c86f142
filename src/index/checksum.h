// XXH64 (Yann Collet's xxHash, 64-bit variant, seed 0 by default): the
// checksum of index files. Internal to src/index. Thread-safe, pure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace takeback::index::internal {

std::uint64_t Xxh64(const void* data, std::size_t size, std::uint64_t seed = 0);

}  // namespace takeback::index::internal
