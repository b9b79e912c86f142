// Zip form of a court bundle (internal to the evidence library; libzip is
// used here only). A bundle exported to a name ending in ".zip" is written as
// a directory first and then archived; `verify` on a zip file extracts it
// into a private temporary directory with every entry checked first.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace takeback::evidence::internal {

// Limits on what ExtractZipSafely accepts from an archive somebody handed us.
struct ZipLimits {
  std::uint64_t max_entries = 1'000'000;
  std::uint64_t max_total_bytes = std::uint64_t{256} << 30;  // 256 GiB uncompressed
  // Entries larger than 1 MiB may not expand more than this many times their
  // compressed size (zip bombs).
  std::uint64_t max_ratio = 200;
};

// Archives every regular file under `dir` (sorted, paths relative to `dir`,
// "/" separators) into `zip_path`, which must not exist. Originals and other
// media are stored as they are; text files are deflated. The archive is
// written to a temporary name and renamed into place when complete, so a
// failed call leaves no partial zip. Errors: kInvalidArgument when zip_path
// exists, kIoError.
Status ZipDirectory(const std::string& dir, const std::string& zip_path);

// Extracts `zip_path` into `out_dir` (created; must not exist). Refused, with
// kCorrupt naming the entry and nothing further extracted: absolute names,
// names with "..", backslashes or NUL, duplicate names, symbolic links and
// other non-regular entries, encrypted entries, more entries or bytes than
// `limits` allow, an entry whose bytes or CRC differ from its header. The
// number of files extracted is returned.
Result<std::uint64_t> ExtractZipSafely(const std::string& zip_path, const std::string& out_dir,
                                       const ZipLimits& limits = {});

// True when the file starts with a zip local-file or end-of-directory header.
bool LooksLikeZip(const std::string& path);

}  // namespace takeback::evidence::internal
