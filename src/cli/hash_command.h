// `takeback hash`: PDQ hashes (and optionally dihedral hashes and exact
// digests) of image files, in the reference pdq-photo-hasher's text layout
// or as JSON lines; vPDQ hashes of videos, in the reference vpdq-hash-video
// layout (see docs/formats/vpdq.md).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.h"
#include "common/status.h"
#include "hash/digest.h"
#include "hash/vpdq.h"
#include "media/video.h"

namespace takeback::cli {

// Runs the sub-command on `args` (the arguments after "hash"). Returns
// kExitOk when every file hashed, kExitSomeFailed when some did not (each
// failure has one line on io.err and the run went on), kExitUsage on a bad
// command line.
int RunHashCommand(std::span<const std::string> args, const CommandIo& io);

// The text of `takeback hash --help`.
std::string_view HashCommandHelp();

// Video hashing, shared by `takeback hash` and `takeback compare`.
struct VideoHashOptions {
  media::VideoOptions video;
  // Drop frames within this many bits of the last frame kept; -1 keeps all.
  int prune = -1;
};

struct VideoHash {
  media::VideoInfo info;
  media::VideoStats stats;
  std::vector<hash::VpdqFrame> frames;
  hash::FileDigests digests;  // of the file's bytes
};

// True when `path` starts like a video container (MP4/MOV, MKV/WebM, AVI);
// reads at most 64 KiB. Animated GIFs need the whole file: use
// media::SniffVideoFormat on it.
bool LooksLikeVideoFile(const std::string& path);

// Hashes the frames of a video. `bytes` is the whole file when the caller
// already holds it (it is decoded from memory), or empty: the file is then
// read from `path` in pieces, never held in memory. Errors as
// media::VideoReader; a budget that runs out is not an error (see
// stats.truncated). Thread-safe.
Result<VideoHash> HashVideo(const std::string& path, std::span<const std::uint8_t> bytes,
                            const VideoHashOptions& options);

// Parses a --fps value: a finite number > 0 (at most 1000).
Result<double> ParseFpsOption(std::string_view text);

}  // namespace takeback::cli
