// Video decoding with FFmpeg: the only file in Takeback that includes an
// FFmpeg header.
#include "media/video.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/cpu.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>
}

namespace takeback::media {
namespace {

using Clock = std::chrono::steady_clock;

// Demuxers a video may be opened with: the formats Takeback recognises. No
// network protocol, playlist, concat or image-sequence demuxer is reachable.
constexpr const char* kFormatWhitelist = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,gif";
constexpr int kAvioBufferSize = 64 * 1024;
// Scaler used to convert (and, when asked, resize) frames to RGB24, as the
// reference vpdq-hash-video that made ../shared/testdata/vpdq/expected does.
// That output is reproduced bit for bit only with swscale's portable C code:
// the x86 SIMD YUV->RGB converters round differently (up to 6 bits of PDQ
// per frame, 76 on one HD frame). See docs/formats/vpdq.md.
constexpr int kScalerFlags = SWS_LANCZOS;
// A stream that fails to decode this many packets in a row before giving a
// single frame is not a video we can read.
constexpr int kMaxLeadingErrors = 64;
// Largest side we accept, whatever max_pixels says (FFmpeg's own limit is
// larger; 16384 covers 16K video).
constexpr int kMaxSide = 16384;

bool StartsWith(std::span<const std::uint8_t> data, std::string_view magic, std::size_t offset = 0) {
  return data.size() >= offset + magic.size() && std::memcmp(data.data() + offset, magic.data(), magic.size()) == 0;
}

std::uint32_t ReadBe32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}

bool IsImageBrand(const std::uint8_t* brand) {
  static constexpr std::string_view kBrands[] = {"heic", "heix", "hevc", "hevx", "heim", "heis",
                                                 "mif1", "msf1", "avif", "avis", "mif2"};
  return std::any_of(std::begin(kBrands), std::end(kBrands),
                     [&](std::string_view b) { return std::memcmp(brand, b.data(), 4) == 0; });
}

// ISO BMFF (MP4, MOV, 3GP...) that is not a HEIF/AVIF image.
bool IsIsoVideo(std::span<const std::uint8_t> data) {
  if (data.size() < 12) return false;
  if (StartsWith(data, "ftyp", 4)) {
    const std::uint32_t box_size = ReadBe32(data.data());
    if (box_size < 16) return false;
    const std::size_t end = std::min<std::size_t>(box_size, data.size());
    if (IsImageBrand(data.data() + 8)) return false;
    for (std::size_t off = 16; off + 4 <= end; off += 4) {
      if (IsImageBrand(data.data() + off)) return false;
    }
    return true;
  }
  // Old QuickTime files start with one of these atoms instead of "ftyp".
  static constexpr std::string_view kAtoms[] = {"moov", "mdat", "wide", "free", "skip", "pnot"};
  const bool atom =
      std::any_of(std::begin(kAtoms), std::end(kAtoms), [&](std::string_view a) { return StartsWith(data, a, 4); });
  return atom && ReadBe32(data.data()) >= 8;
}

// Counts GIF image descriptors, walking the block structure; stops at 2.
int CountGifFrames(std::span<const std::uint8_t> d) {
  if (d.size() < 13 || !(StartsWith(d, "GIF87a") || StartsWith(d, "GIF89a"))) return 0;
  std::size_t pos = 13;
  if ((d[10] & 0x80U) != 0) pos += 3U * (std::size_t{1} << ((d[10] & 0x07U) + 1));
  auto skip_sub_blocks = [&]() {
    while (pos < d.size()) {
      const std::size_t n = d[pos];
      pos += 1 + n;
      if (n == 0) return true;
    }
    return false;
  };
  int frames = 0;
  while (pos < d.size() && frames < 2) {
    const std::uint8_t tag = d[pos];
    if (tag == 0x21) {  // extension: label, then sub-blocks
      pos += 2;
      if (!skip_sub_blocks()) break;
    } else if (tag == 0x2C) {  // image descriptor
      if (pos + 10 > d.size()) break;
      const std::uint8_t flags = d[pos + 9];
      pos += 10;
      if ((flags & 0x80U) != 0) pos += 3U * (std::size_t{1} << ((flags & 0x07U) + 1));
      pos += 1;  // LZW minimum code size
      if (pos > d.size() || !skip_sub_blocks()) {
        ++frames;  // a damaged last frame still counts as a frame
        break;
      }
      ++frames;
    } else {
      break;  // trailer (0x3B) or garbage
    }
  }
  return frames;
}

std::string AvError(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof(buf));
  return buf;
}

// Guards the process-wide CPU flags of FFmpeg while a scaler is built.
std::mutex& CpuFlagsMutex() {
  static std::mutex mutex;
  return mutex;
}

// Builds (or reuses) a scaler that uses FFmpeg's C code only. FFmpeg picks
// its SIMD routines from global CPU flags when a context is initialised, so
// they are cleared just for this call and restored to auto-detection; every
// codec open in this file takes the same lock, so decoders keep their SIMD.
SwsContext* Scaler(SwsContext* cached, int src_w, int src_h, AVPixelFormat src_format, int dst_w, int dst_h,
                   bool portable) {
  if (!portable) {
    return sws_getCachedContext(cached, src_w, src_h, src_format, dst_w, dst_h, AV_PIX_FMT_RGB24, kScalerFlags, nullptr,
                                nullptr, nullptr);
  }
  const std::lock_guard<std::mutex> lock(CpuFlagsMutex());
  av_force_cpu_flags(0);
  SwsContext* sws = sws_getCachedContext(cached, src_w, src_h, src_format, dst_w, dst_h, AV_PIX_FMT_RGB24, kScalerFlags,
                                         nullptr, nullptr, nullptr);
  av_force_cpu_flags(-1);
  return sws;
}

void QuietFfmpegLogs() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_QUIET); });
}

struct MemoryInput {
  std::span<const std::uint8_t> data;
  std::size_t pos = 0;
};

int ReadMemory(void* opaque, std::uint8_t* buf, int buf_size) {
  auto* in = static_cast<MemoryInput*>(opaque);
  const std::size_t left = in->data.size() - in->pos;
  if (left == 0) return AVERROR_EOF;
  const std::size_t n = std::min(left, static_cast<std::size_t>(std::max(buf_size, 0)));
  std::memcpy(buf, in->data.data() + in->pos, n);
  in->pos += n;
  return static_cast<int>(n);
}

std::int64_t SeekMemory(void* opaque, std::int64_t offset, int whence) {
  auto* in = static_cast<MemoryInput*>(opaque);
  const auto size = static_cast<std::int64_t>(in->data.size());
  if ((whence & AVSEEK_SIZE) != 0) return size;
  std::int64_t base = 0;
  switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = static_cast<std::int64_t>(in->pos);
      break;
    case SEEK_END:
      base = size;
      break;
    default:
      return AVERROR(EINVAL);
  }
  if (offset > size || offset < -size) return AVERROR(EINVAL);
  const std::int64_t target = base + offset;
  if (target < 0 || target > size) return AVERROR(EINVAL);
  in->pos = static_cast<std::size_t>(target);
  return target;
}

class FfmpegVideoReader final : public VideoReader {
 public:
  explicit FfmpegVideoReader(const VideoOptions& options) : options_(options) {
    if (options_.max_seconds > 0) {
      deadline_ = Clock::now() +
                  std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.max_seconds));
    } else {
      deadline_ = Clock::time_point::max();
    }
  }

  ~FfmpegVideoReader() override {
    sws_freeContext(sws_);
    av_frame_free(&rgb_);
    av_frame_free(&frame_);
    av_packet_free(&packet_);
    avcodec_free_context(&codec_);
    avformat_close_input(&format_);
    if (avio_ != nullptr) {
      av_freep(&avio_->buffer);
      avio_context_free(&avio_);
    }
  }

  FfmpegVideoReader(const FfmpegVideoReader&) = delete;
  FfmpegVideoReader& operator=(const FfmpegVideoReader&) = delete;

  Status Open(const std::string* path, std::span<const std::uint8_t> memory);

  const VideoInfo& info() const override { return info_; }
  const VideoStats& stats() const override { return stats_; }
  Result<bool> Next(VideoFrame& frame) override;

 private:
  static int Interrupt(void* opaque) {
    const auto* self = static_cast<const FfmpegVideoReader*>(opaque);
    return Clock::now() > self->deadline_ ? 1 : 0;
  }
  bool TimeUp() const { return Clock::now() > deadline_; }
  void Truncate(std::string reason) {
    stats_.truncated = true;
    stats_.truncated_reason = std::move(reason);
    done_ = true;
  }
  Status CheckSize(int width, int height) const;
  // Seeks when the keyframe before `target_seconds` lies after what has been
  // decoded so far. Never fails: on any error decoding just goes on.
  void MaybeSeek(double target_seconds);
  Result<bool> Convert(VideoFrame& out, std::int64_t frame_number);
  // Receives the next decoded frame into frame_: true, false at the end.
  Result<bool> DecodeOne();

  VideoOptions options_;
  Clock::time_point deadline_;
  VideoInfo info_;
  VideoStats stats_;
  MemoryInput memory_;
  AVIOContext* avio_ = nullptr;
  AVFormatContext* format_ = nullptr;
  AVCodecContext* codec_ = nullptr;
  SwsContext* sws_ = nullptr;
  AVPacket* packet_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVFrame* rgb_ = nullptr;
  int stream_index_ = -1;
  AVRational time_base_{0, 1};
  std::int64_t start_pts_ = 0;
  std::int64_t next_frame_number_ = 0;  // decode-order count (no seeking)
  std::int64_t next_sample_ = 0;        // index k of the next sample time k / sample_fps
  double last_decoded_seconds_ = -1;
  bool flushing_ = false;
  bool done_ = false;
  bool seeked_ = false;
  int leading_errors_ = 0;
};

Status FfmpegVideoReader::CheckSize(int width, int height) const {
  if (width <= 0 || height <= 0)
    return Corrupt("video frame size is " + std::to_string(width) + "x" + std::to_string(height));
  const auto pixels = static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
  if (width > kMaxSide || height > kMaxSide || pixels > options_.max_pixels) {
    return TooLarge("video frames are " + std::to_string(width) + "x" + std::to_string(height) + ", over the " +
                    std::to_string(options_.max_pixels) + "-pixel limit");
  }
  return Status::Ok();
}

Status FfmpegVideoReader::Open(const std::string* path, std::span<const std::uint8_t> memory) {
  QuietFfmpegLogs();
  if (options_.sample_fps < 0 || !std::isfinite(options_.sample_fps)) return InvalidArgument("bad sample rate");
  if (options_.scale_width < 0 || options_.scale_height < 0) return InvalidArgument("bad scale size");
  format_ = avformat_alloc_context();
  packet_ = av_packet_alloc();
  frame_ = av_frame_alloc();
  rgb_ = av_frame_alloc();
  if (format_ == nullptr || packet_ == nullptr || frame_ == nullptr || rgb_ == nullptr) {
    return TooLarge("out of memory opening a video");
  }
  format_->interrupt_callback.callback = &FfmpegVideoReader::Interrupt;
  format_->interrupt_callback.opaque = this;
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "format_whitelist", kFormatWhitelist, 0);
  const char* url = "";
  if (path != nullptr) {
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    url = path->c_str();
  } else {
    memory_.data = memory;
    auto* buffer = static_cast<std::uint8_t*>(av_malloc(kAvioBufferSize));
    if (buffer == nullptr) return TooLarge("out of memory opening a video");
    avio_ = avio_alloc_context(buffer, kAvioBufferSize, 0, &memory_, &ReadMemory, nullptr, &SeekMemory);
    if (avio_ == nullptr) {
      av_free(buffer);
      return TooLarge("out of memory opening a video");
    }
    format_->pb = avio_;
    format_->flags |= AVFMT_FLAG_CUSTOM_IO;
  }
  int ret = avformat_open_input(&format_, url, nullptr, &opts);  // frees format_ on failure
  av_dict_free(&opts);
  if (ret < 0) {
    if (TimeUp()) return TooLarge("time budget exceeded while opening the video");
    if (ret == AVERROR(ENOENT)) return NotFound("no such file");
    if (ret == AVERROR(EACCES) || ret == AVERROR(EISDIR)) return IoError(AvError(ret));
    if (ret == AVERROR_INVALIDDATA) return Unsupported("not a video this build can read");
    return Corrupt("cannot open the video: " + AvError(ret));
  }
  ret = avformat_find_stream_info(format_, nullptr);
  if (ret < 0) {
    if (TimeUp()) return TooLarge("time budget exceeded while reading the video header");
    return Corrupt("cannot read the video's stream information: " + AvError(ret));
  }
  const AVCodec* decoder = nullptr;
  stream_index_ = av_find_best_stream(format_, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  if (stream_index_ == AVERROR_STREAM_NOT_FOUND)
    return Unsupported("no video stream (audio only, or a damaged header)");
  if (stream_index_ < 0 || decoder == nullptr) return Unsupported("no decoder for this video's codec");
  const AVStream* stream = format_->streams[stream_index_];
  TAKEBACK_RETURN_IF_ERROR(CheckSize(stream->codecpar->width, stream->codecpar->height));
  codec_ = avcodec_alloc_context3(decoder);
  if (codec_ == nullptr) return TooLarge("out of memory opening the decoder");
  if (avcodec_parameters_to_context(codec_, stream->codecpar) < 0) return Corrupt("bad codec parameters");
  codec_->thread_count = std::max(1, options_.threads);
  codec_->pkt_timebase = stream->time_base;
  if (options_.keyframes_only) codec_->skip_frame = AVDISCARD_NONKEY;
  {
    const std::lock_guard<std::mutex> lock(CpuFlagsMutex());
    ret = avcodec_open2(codec_, decoder, nullptr);
  }
  if (ret < 0) return Unsupported("cannot open the " + std::string(decoder->name) + " decoder: " + AvError(ret));

  AVRational rate = stream->avg_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) rate = stream->r_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) return Corrupt("the video has no frame rate");
  info_.format = VideoFormat::kUnknown;
  const std::string_view demuxer = format_->iformat->name;
  if (demuxer.find("mp4") != std::string_view::npos) info_.format = VideoFormat::kMp4;
  if (demuxer.find("matroska") != std::string_view::npos) info_.format = VideoFormat::kMatroska;
  if (demuxer == "avi") info_.format = VideoFormat::kAvi;
  if (demuxer == "gif") info_.format = VideoFormat::kGif;
  info_.codec = decoder->name;
  info_.width = stream->codecpar->width;
  info_.height = stream->codecpar->height;
  info_.frame_rate = av_q2d(rate);
  if (format_->duration > 0) info_.duration_seconds = static_cast<double>(format_->duration) / AV_TIME_BASE;
  time_base_ = stream->time_base;
  start_pts_ = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
  return Status::Ok();
}

Result<bool> FfmpegVideoReader::DecodeOne() {
  while (true) {
    if (TimeUp()) {
      Truncate("time budget (" + std::to_string(options_.max_seconds) + " s)");
      return false;
    }
    int ret = avcodec_receive_frame(codec_, frame_);
    if (ret == 0) {
      if (stats_.frames_decoded >= options_.max_frames) {
        Truncate("frame budget (" + std::to_string(options_.max_frames) + " frames)");
        return false;
      }
      ++stats_.frames_decoded;
      leading_errors_ = 0;
      return true;
    }
    if (ret == AVERROR_EOF) return false;
    if (ret != AVERROR(EAGAIN)) {
      if (stats_.frames_decoded == 0) return Corrupt("the video cannot be decoded: " + AvError(ret));
      return false;  // damage after good frames: end here, as players do
    }
    if (flushing_) return false;
    ret = av_read_frame(format_, packet_);
    if (ret < 0) {
      if (TimeUp()) continue;  // reported at the top of the loop
      flushing_ = true;
      avcodec_send_packet(codec_, nullptr);
      continue;
    }
    if (packet_->stream_index != stream_index_) {
      av_packet_unref(packet_);
      continue;
    }
    ret = avcodec_send_packet(codec_, packet_);
    av_packet_unref(packet_);
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
      if (stats_.frames_decoded == 0 && ++leading_errors_ > kMaxLeadingErrors) {
        return Corrupt("the video cannot be decoded: " + AvError(ret));
      }
    }
  }
}

void FfmpegVideoReader::MaybeSeek(double target_seconds) {
  AVStream* stream = format_->streams[stream_index_];
  const auto target_ts = start_pts_ + static_cast<std::int64_t>(std::floor(target_seconds / av_q2d(time_base_)));
  const AVIndexEntry* entry = avformat_index_get_entry_from_timestamp(stream, target_ts, AVSEEK_FLAG_BACKWARD);
  if (entry == nullptr) return;
  const double key_seconds = static_cast<double>(entry->timestamp - start_pts_) * av_q2d(time_base_);
  if (key_seconds <= last_decoded_seconds_) return;  // decoding on is cheaper
  if (av_seek_frame(format_, stream_index_, target_ts, AVSEEK_FLAG_BACKWARD) < 0) return;
  avcodec_flush_buffers(codec_);
  flushing_ = false;
  seeked_ = true;
  last_decoded_seconds_ = key_seconds;  // no second seek before a frame is decoded
  ++stats_.seeks;
}

Result<bool> FfmpegVideoReader::Convert(VideoFrame& out, std::int64_t frame_number) {
  TAKEBACK_RETURN_IF_ERROR(CheckSize(frame_->width, frame_->height));
  const int out_w = options_.scale_width > 0 ? options_.scale_width : frame_->width;
  const int out_h = options_.scale_height > 0 ? options_.scale_height : frame_->height;
  sws_ = Scaler(sws_, frame_->width, frame_->height, static_cast<AVPixelFormat>(frame_->format), out_w, out_h,
                options_.exact_scaler);
  if (sws_ == nullptr) return Unsupported("cannot convert this video's pixel format");
  if (rgb_->width != out_w || rgb_->height != out_h || rgb_->data[0] == nullptr) {
    av_frame_unref(rgb_);
    rgb_->format = AV_PIX_FMT_RGB24;
    rgb_->width = out_w;
    rgb_->height = out_h;
    if (av_frame_get_buffer(rgb_, 0) < 0) return TooLarge("out of memory converting a frame");
  }
  sws_scale(sws_, frame_->data, frame_->linesize, 0, frame_->height, rgb_->data, rgb_->linesize);
  out.frame_number = frame_number;
  out.timestamp = static_cast<double>(frame_number) / info_.frame_rate;
  out.width = out_w;
  out.height = out_h;
  out.channels = 3;
  out.data = rgb_->data[0];
  out.stride = static_cast<std::size_t>(rgb_->linesize[0]);
  ++stats_.frames_returned;
  return true;
}

Result<bool> FfmpegVideoReader::Next(VideoFrame& frame) {
  if (done_) return false;
  const bool sparse = options_.sample_fps > 0;
  while (true) {
    const double target = sparse ? static_cast<double>(next_sample_) / options_.sample_fps : 0;
    if (sparse && options_.seek && !options_.keyframes_only) MaybeSeek(target);
    Result<bool> got = DecodeOne();
    if (!got.ok() || !*got) {
      done_ = true;
      return got;
    }
    std::int64_t number = next_frame_number_++;
    if (seeked_ || options_.keyframes_only) {
      const std::int64_t pts = frame_->best_effort_timestamp;
      if (pts == AV_NOPTS_VALUE) continue;
      const double seconds = static_cast<double>(pts - start_pts_) * av_q2d(time_base_);
      number = std::llround(seconds * info_.frame_rate);
    }
    const double seconds = static_cast<double>(number) / info_.frame_rate;
    last_decoded_seconds_ = seconds;
    if (sparse) {
      // Tolerance: a frame within a microsecond of the sample time is on it.
      if (seconds + 1e-6 < target) continue;
      next_sample_ = static_cast<std::int64_t>(std::floor(seconds * options_.sample_fps + 1e-6)) + 1;
    }
    return Convert(frame, number);
  }
}

}  // namespace

std::string_view VideoFormatName(VideoFormat format) {
  switch (format) {
    case VideoFormat::kMp4:
      return "mp4";
    case VideoFormat::kMatroska:
      return "matroska";
    case VideoFormat::kAvi:
      return "avi";
    case VideoFormat::kGif:
      return "gif";
    case VideoFormat::kUnknown:
      break;
  }
  return "unknown";
}

VideoFormat SniffVideoFormat(std::span<const std::uint8_t> prefix) {
  if (IsIsoVideo(prefix)) return VideoFormat::kMp4;
  if (StartsWith(prefix, "\x1A\x45\xDF\xA3")) return VideoFormat::kMatroska;
  if (StartsWith(prefix, "RIFF") && StartsWith(prefix, "AVI ", 8)) return VideoFormat::kAvi;
  if (CountGifFrames(prefix) >= 2) return VideoFormat::kGif;
  return VideoFormat::kUnknown;
}

Result<std::unique_ptr<VideoReader>> VideoReader::OpenFile(const std::string& path, const VideoOptions& options) {
  auto reader = std::make_unique<FfmpegVideoReader>(options);
  TAKEBACK_RETURN_IF_ERROR(reader->Open(&path, {}));
  return std::unique_ptr<VideoReader>(std::move(reader));
}

Result<std::unique_ptr<VideoReader>> VideoReader::OpenMemory(std::span<const std::uint8_t> data,
                                                             const VideoOptions& options) {
  if (data.empty()) return Corrupt("empty video (0 bytes)");
  auto reader = std::make_unique<FfmpegVideoReader>(options);
  TAKEBACK_RETURN_IF_ERROR(reader->Open(nullptr, data));
  return std::unique_ptr<VideoReader>(std::move(reader));
}

}  // namespace takeback::media
