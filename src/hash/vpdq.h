// vPDQ: Meta's video similarity hash (facebook/ThreatExchange vpdq), a list of
// per-frame PDQ hashes, with its text and JSON forms and its matching rule.
//
// Pure functions of pixels and hashes: nothing here decodes video (frames
// come from src/media/video.h). Everything is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "hash/digest.h"
#include "hash/pdq.h"

namespace takeback::hash {

// One hashed frame: the reference's vpdqFeature.
struct VpdqFrame {
  std::int64_t frame_number = 0;
  int quality = 0;
  PdqHash hash;
  double timestamp = 0;  // seconds

  friend bool operator==(const VpdqFrame&, const VpdqFrame&) = default;
};

// Hashes one decoded video frame the way the reference vpdq does: float luma
// 0.299 R + 0.587 G + 0.114 B of the RGB pixels at the size given (no 512x512
// pre-resize, unlike still images), then PDQ. A grey view (channels == 1) is
// taken as luma directly. Frames under 5 pixels a side get quality 0.
PdqResult VpdqHashFrame(const PixelView& view);

// Drops frames whose hash is within `max_distance` bits of the last frame
// kept, so that a static scene costs one frame instead of hundreds. A
// negative distance keeps every frame. Used on registered (bank) videos.
class VpdqPruner {
 public:
  explicit VpdqPruner(int max_distance) : max_distance_(max_distance) {}
  // True when `frame` should be kept (and remembers it as the last kept).
  bool Keep(const VpdqFrame& frame);

 private:
  int max_distance_;
  std::optional<PdqHash> last_;
};

// Text form, identical to the reference vpdq-hash-video output: one line per
// frame, "FRAME,QUALITY,PDQHEX,TIMESTAMP\n" with the timestamp in seconds with
// three decimals ("0,100,e429...,0.033").
std::string FormatVpdqLine(const VpdqFrame& frame);
std::string FormatVpdqText(std::span<const VpdqFrame> frames);

// Parses the text form: blank lines and lines starting with '#' are skipped.
// Errors: kCorrupt with the line number of the first malformed line.
Result<std::vector<VpdqFrame>> ParseVpdqText(std::string_view text);

// JSON form: [{"frame":0,"quality":100,"pdq":"e429...","timestamp":0.033},...]
// (an array; `takeback hash --json` puts it under "vpdq").
std::string FormatVpdqJson(std::span<const VpdqFrame> frames);
// Accepts that array, or an object with a "vpdq" array (a `takeback hash
// --json` line). Errors: kCorrupt.
Result<std::vector<VpdqFrame>> ParseVpdqJson(std::string_view json);

struct VpdqMatchOptions {
  int max_distance = 31;  // a frame matches a frame within this many bits (inclusive)
  int min_quality = 50;   // frames below this quality are ignored
  // Verdict: a match when the query share OR the target share reaches its
  // threshold (percent). A clip cut from a registered video has a high query
  // share; an upload that contains a registered video among other footage
  // has a high target share.
  double query_threshold = 80;
  double target_threshold = 80;
};

struct VpdqMatchResult {
  double query_percent = 0;      // share of the query's unique frames found in the target
  double target_percent = 0;     // share of the target's unique frames found in the query
  std::size_t query_frames = 0;  // unique frames of quality >= min_quality
  std::size_t target_frames = 0;
  std::size_t query_matched = 0;
  std::size_t target_matched = 0;
  bool match = false;
};

// The vPDQ comparison: frames of each side below min_quality are dropped,
// frames with identical hashes are counted once, then each share is the
// fraction of one side's frames that have a frame of the other side within
// max_distance. Either side empty gives 0% and no match. O(n * m) popcounts.
VpdqMatchResult MatchVpdq(std::span<const VpdqFrame> query, std::span<const VpdqFrame> target,
                          const VpdqMatchOptions& options);

// MD5 and SHA-256 of a file fed in pieces (videos are not held in memory).
class StreamingDigests {
 public:
  StreamingDigests();
  ~StreamingDigests();
  StreamingDigests(const StreamingDigests&) = delete;
  StreamingDigests& operator=(const StreamingDigests&) = delete;

  void Update(std::span<const std::uint8_t> bytes);
  FileDigests Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace takeback::hash
