// PNG through libpng. Palette and low-bit grey are expanded to 8 bits, tRNS
// and alpha are dropped without compositing (ImageMagick keeps the colour
// values when it writes PNM).
//
// 16-bit samples: ImageMagick would write a 16-bit PNM, which the reference
// hasher reads at 257 times the 8-bit scale (PDQ's bits do not depend on
// that scale). Takeback rounds each sample to the nearest 8-bit value,
// round(v / 257), which is ImageMagick's ScaleQuantumToChar. Note that
// `convert FILE -depth 8 pnm:-` truncates instead and can be 1 lower.
//
// libpng reports errors by longjmp; only ReadHeader and ReadRows call
// setjmp, and they hold nothing with a destructor.
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <png.h>

#include "media/internal.h"

namespace takeback::media::internal {
namespace {

// Caps libpng's buffers for ancillary chunks (text, ICC profiles).
constexpr png_alloc_size_t kMaxChunkBytes = 16U << 20;

struct PngJob {
  png_structp png;
  png_infop info;
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos;
  bool truncated;
  char message[256];
};

[[noreturn]] void OnPngError(png_structp png, png_const_charp message) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof job->message, "%s", message);
  png_longjmp(png, 1);
}

void OnPngWarning(png_structp, png_const_charp) {}  // libpng would print to stderr

void OnPngRead(png_structp png, png_bytep out, std::size_t length) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (job->size - job->pos < length) {
    job->truncated = true;
    png_error(png, "truncated PNG data");
  }
  std::memcpy(out, job->data + job->pos, length);
  job->pos += length;
}

bool ReadHeader(PngJob* job) {
  if (setjmp(png_jmpbuf(job->png)) != 0) return false;
  png_structp png = job->png;
  png_infop info = job->info;
  png_set_read_fn(png, job, OnPngRead);
  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);  // CheckDimensions is the real limit
  png_set_chunk_malloc_max(png, kMaxChunkBytes);
  png_read_info(png, info);
  const int color_type = png_get_color_type(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return true;
}

bool ReadRows(PngJob* job, png_bytepp rows) {
  if (setjmp(png_jmpbuf(job->png)) != 0) return false;
  png_read_image(job->png, rows);
  return true;  // chunks after the image data (png_read_end) are not needed
}

Status JobError(const PngJob& job) {
  if (job.truncated) return Corrupt("truncated PNG data");
  return Corrupt(std::string("corrupt PNG: ") + job.message);
}

class JobGuard {
 public:
  explicit JobGuard(PngJob* job) : job_(job) {}
  JobGuard(const JobGuard&) = delete;
  JobGuard& operator=(const JobGuard&) = delete;
  ~JobGuard() { png_destroy_read_struct(&job_->png, job_->info != nullptr ? &job_->info : nullptr, nullptr); }

 private:
  PngJob* job_;
};

std::uint32_t ReadBe32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}

}  // namespace

Result<Image> DecodePng(std::span<const std::uint8_t> data, const DecodeOptions& options) {
  // IHDR must come first; refuse an oversize image before libpng runs.
  if (data.size() >= 24 && std::memcmp(data.data() + 12, "IHDR", 4) == 0) {
    TAKEBACK_RETURN_IF_ERROR(
        CheckDimensions(ReadBe32(data.data() + 16), ReadBe32(data.data() + 20), options.max_pixels, "PNG"));
  }

  PngJob job;
  std::memset(&job, 0, sizeof job);
  job.data = data.data();
  job.size = data.size();
  job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, OnPngError, OnPngWarning);
  if (job.png == nullptr) return TooLarge("out of memory starting libpng");
  JobGuard guard(&job);
  job.info = png_create_info_struct(job.png);
  if (job.info == nullptr) return TooLarge("out of memory starting libpng");
  if (!ReadHeader(&job)) return JobError(job);

  const png_uint_32 width = png_get_image_width(job.png, job.info);
  const png_uint_32 height = png_get_image_height(job.png, job.info);
  TAKEBACK_RETURN_IF_ERROR(CheckDimensions(width, height, options.max_pixels, "PNG"));
  const int channels = png_get_channels(job.png, job.info);
  const int bit_depth = png_get_bit_depth(job.png, job.info);
  const std::size_t row_bytes = png_get_rowbytes(job.png, job.info);
  if ((channels != 1 && channels != 3) || (bit_depth != 8 && bit_depth != 16) ||
      row_bytes != static_cast<std::size_t>(width) * static_cast<std::size_t>(channels * bit_depth / 8)) {
    return Internal("unexpected libpng output layout");
  }

  Image image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.channels = channels;
  const std::size_t samples = static_cast<std::size_t>(width) * height * static_cast<std::size_t>(channels);
  if (!TryResize(&image.pixels, samples)) return TooLarge("out of memory for the PNG's pixels");
  std::vector<std::uint8_t> wide;  // 16-bit samples, big-endian, before scaling
  if (bit_depth == 16 && !TryResize(&wide, samples * 2)) return TooLarge("out of memory for the PNG's pixels");
  std::uint8_t* base = bit_depth == 16 ? wide.data() : image.pixels.data();
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = base + row_bytes * y;
  if (!ReadRows(&job, rows.data())) return JobError(job);

  if (bit_depth == 16) {
    const std::uint8_t* in = wide.data();
    std::uint8_t* out = image.pixels.data();
    for (std::size_t i = 0; i < samples; ++i) {
      out[i] = ScaleShortToChar(static_cast<std::uint32_t>(in[2 * i]) << 8 | in[2 * i + 1]);
    }
  }
  CollapseGrey(&image);
  return image;
}

}  // namespace takeback::media::internal
