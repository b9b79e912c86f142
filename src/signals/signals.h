// Signals: what a victim registers about her images, computed on her own
// device (the images never leave it), and the signal-set file that carries
// them to a lawyer, an investigator or a server (docs/formats/signal-set.md).
//
// One signal is one of: a PDQ hash with its quality, an MD5 or SHA-256 file
// digest, a vPDQ hash (per-frame PDQ of a video) or a 128-d face descriptor.
// Its JSON object is the same in signal-set files and in the HTTP API.
//
// Parsing and formatting are pure and thread-safe. MakeSignals reads files.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "face/face.h"
#include "hash/digest.h"
#include "hash/pdq.h"
#include "hash/vpdq.h"
#include "media/image.h"
#include "media/video.h"

namespace takeback::signals {

enum class SignalType { kPdq, kMd5, kSha256, kVpdq, kFace };

// "pdq", "md5", "sha256", "vpdq", "face".
std::string_view SignalTypeName(SignalType type);
// The inverse of SignalTypeName; nullopt for anything else.
std::optional<SignalType> ParseSignalType(std::string_view name);

// One signal. Only the fields of its `type` are meaningful.
struct Signal {
  SignalType type = SignalType::kPdq;
  hash::PdqHash pdq;                      // kPdq
  int quality = 0;                        // kPdq: 0..100
  std::array<std::uint8_t, 16> md5{};     // kMd5
  std::array<std::uint8_t, 32> sha256{};  // kSha256
  std::vector<hash::VpdqFrame> frames;    // kVpdq
  face::Descriptor descriptor{};          // kFace
  std::string label;                      // optional free text ("photo 3"); never a path by default
};

// Parses one signal object (docs/formats/signal-set.md). Errors:
// kCorrupt naming the field that is missing or malformed (wrong hex length,
// quality out of 0..100, a descriptor that is not 128 finite numbers, no
// frames, an unknown type).
Result<Signal> ParseSignalJson(std::string_view json);
// The JSON object of one signal, compact, keys in a fixed order.
std::string FormatSignalJson(const Signal& signal);

inline constexpr std::string_view kSignalSetFormat = "takeback-signals";
inline constexpr int kSignalSetVersion = 1;

struct SignalSet {
  std::string case_ref;                  // optional
  std::vector<std::string> watch_terms;  // names, phone numbers, handles (doxxing)
  std::vector<Signal> signals;
  std::string created;  // RFC 3339 UTC, "2024-08-21T10:00:00Z"
  std::string tool;     // "takeback 0.1.0"
};

// Parses a signal-set document. Errors: kCorrupt when it is not JSON, not a
// "takeback-signals" document, or a signal is malformed (the message names
// the signal's index); kUnsupported for a version other than 1.
Result<SignalSet> ParseSignalSet(std::string_view json);
// The document, pretty-printed with one signal per line.
std::string FormatSignalSet(const SignalSet& set);

// Reads and parses a file (at most 1 GiB). Errors as ParseSignalSet, plus
// kNotFound / kIoError / kTooLarge; messages name the path.
Result<SignalSet> ReadSignalSet(const std::string& path);
// Writes the file atomically (a temporary beside it, then rename), mode
// 0600: signals are sensitive. On error the old file, if any, is unchanged.
Status WriteSignalSet(const std::string& path, const SignalSet& set);

// A video's vPDQ hash and file digests.
struct VideoHashResult {
  media::VideoInfo info;
  media::VideoStats stats;  // stats.truncated: a budget ended decoding early
  std::vector<hash::VpdqFrame> frames;
  hash::FileDigests digests;
};

// Hashes the video at `path`, read in pieces (never held in memory), with
// the frames `video` selects, dropping frames within `prune` bits of the last
// kept (-1 keeps all), plus the file's MD5 and SHA-256. Errors as
// media::VideoReader; kCorrupt when no frame decodes. Thread-safe.
Result<VideoHashResult> HashVideoFile(const std::string& path, const media::VideoOptions& video, int prune);

// Now, as RFC 3339 UTC with seconds ("2026-11-26T00:43:36Z").
std::string NowRfc3339();

struct MakeOptions {
  bool faces = true;  // detect faces in images and add their descriptors
  face::ModelPaths models = face::DefaultModelPaths();
  face::DetectOptions detect;
  media::DecodeOptions decode;
  // Registered videos are hashed densely (every frame), dropping frames
  // within `vpdq_prune` bits of the last frame kept (docs/formats/vpdq.md:
  // pruning at 8 keeps a 1 fps query at 100%).
  media::VideoOptions video;
  int vpdq_prune = 8;
  std::uint64_t max_image_bytes = std::uint64_t{256} << 20;
};

// What one input file gave.
struct FileSignals {
  std::string path;
  Status status;  // not ok: the file could not be used (the others still are)
  bool video = false;
  int faces = 0;                   // face descriptors found (images)
  std::vector<Signal> signals;     // labelled "photo N" / "video N" (+ " face K")
  std::vector<std::string> notes;  // warnings: low quality, no face, truncated video
};

// Hashes each file locally: an image gives pdq (its quality may be under
// 50: a note says so), md5, sha256 and one face signal per face found (with
// `faces`); a video gives a dense vpdq, md5 and sha256. Files are
// recognised by content. Returns one FileSignals per file, in order; a bad
// file is reported in its FileSignals and never stops the others. The whole
// call fails only when `faces` is on and the face models cannot be loaded
// (kNotFound / kCorrupt from face::FaceAnalyzer::Open, saying how to fetch
// them). Not thread-safe with itself only through the shared models: each
// call opens its own analyzer.
Result<std::vector<FileSignals>> MakeSignals(std::span<const std::string> files, const MakeOptions& options);

}  // namespace takeback::signals
