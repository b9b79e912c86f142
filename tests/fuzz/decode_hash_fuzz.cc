// libFuzzer target: untrusted bytes -> media::DecodeImage -> dihedral PDQ.
//
// This is the path every uploaded or scanned image takes, so it must never
// crash, hang, read out of bounds or allocate without limit, whatever the
// bytes. A decoded image that breaks the Image contract (media/image.h) is
// reported as a crash too: downstream code relies on it.
//
// Built two ways (tests/fuzz/CMakeLists.txt): with libFuzzer (clang,
// -DTAKEBACK_FUZZ=ON), and linked with replay_main.cc into a plain program
// that runs saved inputs, so regressions are re-checked in every build.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "hash/pdq.h"
#include "media/image.h"

namespace {

// 1 MP keeps each run fast (every pixel loop is instrumented) and the pixel
// buffers far under libFuzzer's RSS limit; bigger headers take the
// kTooLarge path, which is worth fuzzing too.
constexpr std::uint64_t kFuzzMaxPixels = std::uint64_t{1} << 20;

[[noreturn]] void ContractViolation(const char* what) {
  std::fprintf(stderr, "decode_hash_fuzz: Image contract violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using takeback::media::DecodeImage;
  using takeback::media::DecodeOptions;
  using takeback::media::Image;

  const std::span<const std::uint8_t> bytes(data, size);
  // Sniffing is part of the public surface too; it must accept anything.
  (void)takeback::media::ImageFormatName(takeback::media::SniffImageFormat(bytes));

  DecodeOptions options;
  options.max_pixels = kFuzzMaxPixels;
  // Exercise the EXIF path on every other input.
  options.auto_orient = size > 0 && (data[0] & 1U) != 0;

  takeback::Result<Image> decoded = DecodeImage(bytes, options);
  if (!decoded.ok()) {
    if (decoded.status().code() == takeback::ErrorCode::kInternal) ContractViolation("kInternal on untrusted input");
    return 0;
  }
  const Image& image = *decoded;
  if (image.width <= 0 || image.height <= 0) ContractViolation("non-positive dimensions");
  if (image.channels != 1 && image.channels != 3) ContractViolation("channels not 1 or 3");
  const auto pixel_count = static_cast<std::uint64_t>(image.width) * static_cast<std::uint64_t>(image.height);
  if (pixel_count > kFuzzMaxPixels) ContractViolation("more pixels than max_pixels");
  if (image.pixels.size() != pixel_count * static_cast<std::uint64_t>(image.channels)) {
    ContractViolation("pixels.size() != width * height * channels");
  }

  takeback::hash::PixelView view;
  view.data = image.pixels.data();
  view.width = image.width;
  view.height = image.height;
  view.channels = image.channels;
  view.stride = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.channels);
  const takeback::hash::PdqDihedralResult result = takeback::hash::PdqDihedralHashPixels(view);
  if (result.quality < 0 || result.quality > 100) ContractViolation("PDQ quality outside 0..100");
  return 0;
}
