// Lower-case hexadecimal encoding of byte strings.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace takeback {

std::string HexEncode(std::span<const std::uint8_t> bytes);

// Decodes upper- or lower-case hex. Returns nullopt on odd length or a
// non-hex character.
std::optional<std::vector<std::uint8_t>> HexDecode(std::string_view hex);

}  // namespace takeback
