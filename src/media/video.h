// Decoded video frames. The FFmpeg libraries (libavformat, libavcodec,
// libswscale) are called from src/media/video.cc only; no FFmpeg type appears
// here. Every input is untrusted: containers are limited to a whitelist of
// demuxers, frames to a pixel limit, and decoding to a frame and a wall-clock
// budget, so a hostile or endless file ends with an error or a bounded result,
// never a crash or a hang.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace takeback::media {

enum class VideoFormat { kUnknown, kMp4, kMatroska, kAvi, kGif };

// "mp4" (ISO BMFF and QuickTime: MP4, MOV, M4V, 3GP), "matroska" (MKV and
// WebM), "avi", "gif"; "unknown" for kUnknown.
std::string_view VideoFormatName(VideoFormat format);

// Identifies a video container by its magic bytes, never by file name.
// `prefix` is the start of the file (64 KiB is plenty). HEIF/AVIF images,
// which are ISO BMFF too, are not videos. A GIF is a video only when `prefix`
// holds at least two image frames, so pass the whole file for GIFs.
VideoFormat SniffVideoFormat(std::span<const std::uint8_t> prefix);

struct VideoOptions {
  // Sampling. 0: every frame (dense, the reference's output). F > 0: the
  // first frame at or after each multiple of 1/F seconds.
  double sample_fps = 0;
  // With sample_fps > 0: seek (to the keyframe before each sample time)
  // instead of decoding every frame, where that is cheaper: when the next
  // sample is beyond the next keyframe. Frame numbers then come from the
  // timestamps (exact for constant frame rate).
  bool seek = false;
  // Decode key frames only (the decoder skips every other frame, so this is
  // many times cheaper). With sample_fps > 0, at most one key frame per
  // 1/sample_fps seconds. For queries: each key frame is a real frame of the
  // video, so it is found in a densely hashed registered copy whatever the
  // cut offset. Frame numbers come from the timestamps.
  bool keyframes_only = false;
  // Scale frames to this size (0: native size, as the reference by default).
  int scale_width = 0;
  int scale_height = 0;
  // Convert frames with swscale's portable C code, as the reference output
  // in ../shared/testdata/vpdq was made (bit-exact there). false uses FFmpeg's
  // SIMD converters: faster, but frame hashes may differ by a few bits.
  bool exact_scaler = true;
  // Decoder threads; 1 keeps figures single-threaded.
  int threads = 1;
  // Refuse frames with more pixels than this (checked from the stream
  // header before decoding, and again on every frame).
  std::uint64_t max_pixels = 40'000'000;
  // Budgets: stop after decoding this many frames, or after this much wall
  // time (0 = no time limit). Hitting either ends the video early with
  // VideoStats::truncated set: the frames so far are a valid, bounded result.
  std::uint64_t max_frames = 216'000;  // two hours at 30 fps
  double max_seconds = 600;
};

struct VideoInfo {
  VideoFormat format = VideoFormat::kUnknown;
  std::string codec;  // "h264", "vp9", ...
  int width = 0;      // coded frame size
  int height = 0;
  double frame_rate = 0;        // average (or, failing that, real base) frame rate
  double duration_seconds = 0;  // container's estimate; 0 if unknown
};

// One decoded frame, valid until the next call to Next() or the reader's
// destruction. Pixels are RGB24 (channels == 3), rows top to bottom.
struct VideoFrame {
  std::int64_t frame_number = 0;  // 0-based, in presentation order
  double timestamp = 0;           // frame_number / frame_rate, as the reference
  int width = 0;
  int height = 0;
  int channels = 3;
  const std::uint8_t* data = nullptr;
  std::size_t stride = 0;
};

struct VideoStats {
  std::uint64_t frames_decoded = 0;  // every frame the decoder produced
  std::uint64_t frames_returned = 0;
  std::uint64_t seeks = 0;
  bool truncated = false;        // a budget ended decoding early
  std::string truncated_reason;  // "frame budget (216000 frames)" / "time budget (600 s)"
};

// Reads the frames of the first video stream of one file. Not thread-safe;
// use one reader per thread.
class VideoReader {
 public:
  // Opens a file by path; FFmpeg reads it in pieces, so the file may be far
  // larger than memory. Errors: kNotFound, kIoError, kUnsupported (not a
  // video, no video stream, no decoder), kCorrupt, kTooLarge (frame size).
  static Result<std::unique_ptr<VideoReader>> OpenFile(const std::string& path, const VideoOptions& options);
  // Reads from memory; `data` must outlive the reader.
  static Result<std::unique_ptr<VideoReader>> OpenMemory(std::span<const std::uint8_t> data,
                                                         const VideoOptions& options);

  virtual ~VideoReader() = default;

  virtual const VideoInfo& info() const = 0;
  virtual const VideoStats& stats() const = 0;

  // The next selected frame: true and `frame` filled, or false at the end of
  // the video (or when a budget ran out: see stats().truncated). Errors:
  // kCorrupt when the stream cannot be decoded at all (no frame decoded);
  // damage after the first good frame ends the video instead, as players do.
  virtual Result<bool> Next(VideoFrame& frame) = 0;
};

}  // namespace takeback::media
