// Reading whole files with a size limit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace takeback {

// Reads the file at `path` into memory. Refuses (kTooLarge) a file longer
// than `max_bytes` before reading its contents; kNotFound when it does not
// exist; kIoError when it cannot be read (permissions, a directory, ...).
Result<std::vector<std::uint8_t>> ReadFileLimited(const std::string& path, std::uint64_t max_bytes);

}  // namespace takeback
