// JPEG through libjpeg-turbo with its defaults (ISLOW IDCT, fancy
// upsampling), as ImageMagick 6 decodes it.
//
// libjpeg reports errors by longjmp. Only the two small functions that call
// setjmp (ReadHeader, ReadPixels) are jumped across, and they hold nothing
// with a destructor; the pixel buffer is allocated by the caller.
//
// Truncated data: libjpeg would pad the missing rows with grey and warn;
// Takeback refuses such a file with kCorrupt ("truncated JPEG data") so that
// a half-downloaded photo never yields a hash. Other corrupt-data warnings
// are tolerated when every row decodes.
#include <algorithm>
#include <climits>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jerror.h>
#include <jpeglib.h>

#include "media/internal.h"

namespace takeback::media::internal {
namespace {

// Hostile progressive files can hold thousands of tiny scans, each costing
// a full pass over the coefficients; real encoders write at most ~10.
constexpr int kMaxProgressiveScans = 1000;

struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  bool pixels_done;  // an early end of data after the last row is harmless
  bool truncated;
  bool too_many_scans;
  char message[JMSG_LENGTH_MAX];
};

struct JpegJob {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  jpeg_progress_mgr progress;
};

ErrorManager* Errors(j_common_ptr cinfo) { return reinterpret_cast<ErrorManager*>(cinfo->err); }

[[noreturn]] void OnError(j_common_ptr cinfo) {
  ErrorManager* err = Errors(cinfo);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void OnMessage(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;  // trace messages
  ErrorManager* err = Errors(cinfo);
  if (cinfo->err->msg_code == JWRN_JPEG_EOF && !err->pixels_done) {
    err->truncated = true;
    std::longjmp(err->jump, 1);
  }
  ++cinfo->err->num_warnings;
}

void OnOutput(j_common_ptr) {}  // libjpeg would print warnings to stderr

void OnProgress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number > kMaxProgressiveScans) {
    Errors(cinfo)->too_many_scans = true;
    std::longjmp(Errors(cinfo)->jump, 1);
  }
}

bool IsStartOfFrame(std::uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Walks the marker segments to the first SOFn and reads its dimensions, so
// that an oversize image is refused as kTooLarge even when the rest of the
// file is missing. False when no complete SOFn precedes the scan data.
bool PeekDimensions(std::span<const std::uint8_t> data, std::uint32_t* width, std::uint32_t* height) {
  std::size_t pos = 2;
  while (pos + 4 <= data.size()) {
    if (data[pos] != 0xFF) return false;
    const std::uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length field
      pos += 2;
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) return false;
    const std::size_t length = static_cast<std::size_t>(data[pos + 2]) << 8 | data[pos + 3];
    if (length < 2) return false;
    if (IsStartOfFrame(marker)) {
      if (pos + 9 > data.size()) return false;
      *height = static_cast<std::uint32_t>(data[pos + 5]) << 8 | data[pos + 6];
      *width = static_cast<std::uint32_t>(data[pos + 7]) << 8 | data[pos + 8];
      return true;
    }
    pos += 2 + length;
  }
  return false;
}

bool ReadHeader(JpegJob* job, std::span<const std::uint8_t> data, bool keep_exif) {
  if (setjmp(job->err.jump) != 0) return false;
  jpeg_create_decompress(&job->cinfo);
  job->cinfo.progress = &job->progress;
  jpeg_mem_src(&job->cinfo, data.data(), static_cast<unsigned long>(data.size()));
  if (keep_exif) jpeg_save_markers(&job->cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&job->cinfo, TRUE);
  return true;
}

// Decodes into `pixels` (width * height * out_color_components bytes) or,
// for CMYK, converts each row the way ImageMagick does.
bool ReadPixels(JpegJob* job, std::uint8_t* pixels) {
  if (setjmp(job->err.jump) != 0) return false;
  j_decompress_ptr cinfo = &job->cinfo;
  const JDIMENSION expected_width = cinfo->output_width;  // from jpeg_calc_output_dimensions
  const JDIMENSION expected_height = cinfo->output_height;
  jpeg_start_decompress(cinfo);
  if (cinfo->output_width != expected_width || cinfo->output_height != expected_height) {
    std::snprintf(job->err.message, sizeof job->err.message, "libjpeg changed the output size");
    return false;
  }
  const std::size_t width = cinfo->output_width;
  const bool cmyk = cinfo->out_color_space == JCS_CMYK;
  const std::size_t row_bytes = width * static_cast<std::size_t>(cmyk ? 3 : cinfo->output_components);
  JSAMPARRAY cmyk_row = nullptr;
  if (cmyk) {
    cmyk_row = (*cinfo->mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(cinfo), JPOOL_IMAGE,
                                           static_cast<JDIMENSION>(width * 4), 1);
  }
  while (cinfo->output_scanline < cinfo->output_height) {
    std::uint8_t* out = pixels + row_bytes * cinfo->output_scanline;
    if (!cmyk) {
      JSAMPROW row = out;
      jpeg_read_scanlines(cinfo, &row, 1);
      continue;
    }
    jpeg_read_scanlines(cinfo, cmyk_row, 1);
    // ImageMagick stores Adobe's inverted CMYK samples as C = 1 - sample and
    // writes PNM through ConvertCMYKToRGB in Q16 doubles:
    // red = QR - (C * (QR - K) / QR + K), rounded, then scaled to 8 bits.
    constexpr double kQuantumRange = 65535.0;
    constexpr double kQuantumScale = 1.0 / 65535.0;
    const std::uint8_t* in = cmyk_row[0];
    for (std::size_t x = 0; x < width; ++x) {
      const double k = kQuantumRange - 257.0 * in[4 * x + 3];
      for (int c = 0; c < 3; ++c) {
        const double ink = kQuantumRange - 257.0 * in[4 * x + c];
        const double value = kQuantumRange - (kQuantumScale * ink * (kQuantumRange - k) + k);
        std::uint32_t quantum = 0;
        if (value >= kQuantumRange) {
          quantum = 65535;
        } else if (value > 0) {
          quantum = static_cast<std::uint32_t>(value + 0.5);
        }
        out[3 * x + c] = ScaleShortToChar(quantum);
      }
    }
  }
  job->err.pixels_done = true;
  jpeg_finish_decompress(cinfo);
  return true;
}

// Smallest N/8 scale keeping both sides >= min_side (1/8 .. 8/8).
void ChooseFastScale(j_decompress_ptr cinfo, int min_side) {
  const auto side = static_cast<std::uint64_t>(min_side);
  for (unsigned num = 1; num <= 8; ++num) {
    const std::uint64_t w = (static_cast<std::uint64_t>(cinfo->image_width) * num + 7) / 8;
    const std::uint64_t h = (static_cast<std::uint64_t>(cinfo->image_height) * num + 7) / 8;
    if ((w >= side && h >= side) || num == 8) {
      cinfo->scale_num = num;
      cinfo->scale_denom = 8;
      break;
    }
  }
  cinfo->dct_method = JDCT_IFAST;
}

bool CalcOutputSize(JpegJob* job) {
  if (setjmp(job->err.jump) != 0) return false;
  jpeg_calc_output_dimensions(&job->cinfo);
  return true;
}

Status JobError(const JpegJob& job) {
  if (job.err.truncated) return Corrupt("truncated JPEG data");
  if (job.err.too_many_scans) return Corrupt("JPEG has more than 1000 progressive scans");
  const int code = job.err.pub.msg_code;
  if (code == JERR_OUT_OF_MEMORY || code == JERR_NO_BACKING_STORE) {
    return TooLarge("JPEG decoder needs more memory than the image size allows");
  }
  if (code == JERR_BAD_PRECISION || code == JERR_NOT_COMPILED) {
    return Unsupported(std::string("unsupported JPEG: ") + job.err.message);
  }
  return Corrupt(std::string("corrupt JPEG: ") + job.err.message);
}

class JobGuard {
 public:
  explicit JobGuard(JpegJob* job) : job_(job) {}
  JobGuard(const JobGuard&) = delete;
  JobGuard& operator=(const JobGuard&) = delete;
  ~JobGuard() { jpeg_destroy_decompress(&job_->cinfo); }

 private:
  JpegJob* job_;
};

}  // namespace

Result<Image> DecodeJpeg(std::span<const std::uint8_t> data, const DecodeOptions& options) {
  std::uint32_t peek_width = 0;
  std::uint32_t peek_height = 0;
  if (PeekDimensions(data, &peek_width, &peek_height) && peek_height != 0) {
    TAKEBACK_RETURN_IF_ERROR(CheckDimensions(peek_width, peek_height, options.max_pixels, "JPEG"));
  }

  JpegJob job;
  std::memset(&job, 0, sizeof job);
  job.cinfo.err = jpeg_std_error(&job.err.pub);
  job.err.pub.error_exit = OnError;
  job.err.pub.emit_message = OnMessage;
  job.err.pub.output_message = OnOutput;
  job.progress.progress_monitor = OnProgress;
  // jpeg_create_decompress runs inside ReadHeader; destroying a zeroed
  // struct is a no-op, so the guard is safe even when creation fails.
  JobGuard guard(&job);
  if (!ReadHeader(&job, data, options.auto_orient)) return JobError(job);

  j_decompress_ptr cinfo = &job.cinfo;
  TAKEBACK_RETURN_IF_ERROR(CheckDimensions(cinfo->image_width, cinfo->image_height, options.max_pixels, "JPEG"));
  // Bounds libjpeg's own buffers (progressive coefficients: 2 bytes per
  // sample) by what an allowed image needs, plus slack for tables.
  const std::uint64_t samples = static_cast<std::uint64_t>(cinfo->image_width) * cinfo->image_height *
                                static_cast<std::uint64_t>(cinfo->num_components);
  cinfo->mem->max_memory_to_use = static_cast<long>(std::min<std::uint64_t>(samples * 2 + (64U << 20), LONG_MAX));

  int channels = 3;
  switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo->out_color_space = JCS_GRAYSCALE;
      channels = 1;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      cinfo->out_color_space = JCS_CMYK;
      break;
    case JCS_RGB:
    case JCS_YCbCr:
      cinfo->out_color_space = JCS_RGB;
      break;
    default:
      return Unsupported("unsupported JPEG colour space (" + std::to_string(cinfo->num_components) + " components)");
  }

  if (options.jpeg_fast_min_side > 0) ChooseFastScale(cinfo, options.jpeg_fast_min_side);
  if (!CalcOutputSize(&job)) return JobError(job);

  Image image;
  image.width = static_cast<int>(cinfo->output_width);
  image.height = static_cast<int>(cinfo->output_height);
  image.channels = channels;
  const std::size_t size = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) *
                           static_cast<std::size_t>(channels);
  if (!TryResize(&image.pixels, size)) return TooLarge("out of memory for the JPEG's pixels");

  int orientation = 0;
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != nullptr && orientation == 0; m = m->next) {
    if (m->marker == JPEG_APP0 + 1) orientation = ParseExifOrientation({m->data, m->data_length});
  }

  if (!ReadPixels(&job, image.pixels.data())) return JobError(job);
  CollapseGrey(&image);
  if (options.auto_orient) TAKEBACK_RETURN_IF_ERROR(ApplyOrientation(orientation, &image));
  return image;
}

}  // namespace takeback::media::internal
