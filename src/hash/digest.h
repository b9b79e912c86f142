// Exact file digests (MD5 for compatibility with existing hash banks such as
// StopNCII's video list, SHA-256 for everything new).
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace takeback::hash {

struct FileDigests {
  std::array<std::uint8_t, 16> md5{};
  std::array<std::uint8_t, 32> sha256{};
};

// Digests of the bytes as given (the file as stored, not decoded pixels).
FileDigests ComputeDigests(std::span<const std::uint8_t> bytes);

}  // namespace takeback::hash
