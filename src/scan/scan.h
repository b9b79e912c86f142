// `takeback scan` as a library (issue 6): Telegram exports and folders are
// read, every photo, video, image document and thumbnail is hashed (PDQ with
// its dihedral variants, vPDQ, MD5/SHA-256, faces), matched against the
// signals of one or more cases, and message texts are searched for the
// cases' watch terms. Results go into a ScanReport (scan/report.h).
//
// Every input is untrusted: media paths in an export are resolved inside the
// export folder only (absolute paths, "..", and symlinks that leave it are
// refused; nothing outside is opened), decoders run with limits, and a bad
// file is a failure in the report, never the end of the scan.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "face/face.h"
#include "hash/digest.h"
#include "hash/pdq.h"
#include "hash/vpdq.h"
#include "media/image.h"
#include "media/video.h"
#include "scan/report.h"
#include "signals/signals.h"

namespace takeback::index {
class BinaryIndex;
}
namespace takeback::text {
class WatchList;
}

namespace takeback::scan {

// ---------------------------------------------------------------- paths

// The folder of an export, resolved once; Resolve() maps the relative paths
// written in result.json to files inside it.
class ExportRoot {
 public:
  // kNotFound / kInvalidArgument when `dir` is not a directory.
  static Result<ExportRoot> Open(const std::string& dir);

  // The real path of `relative` when it names a regular file inside the
  // root. Errors: kInvalidArgument "refused: ..." for an absolute path, a
  // ".." component, or a path whose real location (after symlinks) is
  // outside the root; kNotFound when the file does not exist; kIoError when
  // it is not a regular file.
  Result<std::string> Resolve(const std::string& relative) const;

  const std::string& path() const { return root_; }

 private:
  std::string root_;  // realpath, no trailing slash
};

// ---------------------------------------------------------------- hashing

struct MediaHashes {
  bool video = false;
  std::string format;  // "jpeg", "mp4", ...
  int width = 0;
  int height = 0;
  int quality = 0;                                           // image PDQ quality
  std::array<hash::PdqHash, hash::kNumDihedral> dihedral{};  // [0] is the plain hash
  hash::FileDigests digests;
  std::vector<hash::VpdqFrame> frames;  // video: sparse query frames
  bool video_truncated = false;
  std::vector<face::Descriptor> faces;
};

struct HashOptions {
  bool faces = false;
  face::ModelPaths models = face::DefaultModelPaths();
  // Face detection settings. parallel_passes is forced off (the scan keeps
  // every core busy with files already).
  face::DetectOptions detect;
  media::DecodeOptions decode;
  std::uint64_t max_image_bytes = std::uint64_t{256} << 20;
  std::uint64_t max_video_bytes = std::uint64_t{64} << 30;
  // Videos are queried sparsely (one frame per second, as platforms query
  // uploads): a clip of a registered video is found by its query share.
  media::VideoOptions video;
};

// Hashes files; safe to call from several threads at once (face analyzers
// are pooled, one per concurrent call).
class MediaHasher {
 public:
  // Loads the face models when options.faces (errors as FaceAnalyzer::Open).
  static Result<std::unique_ptr<MediaHasher>> Create(const HashOptions& options);
  ~MediaHasher();
  MediaHasher(const MediaHasher&) = delete;
  MediaHasher& operator=(const MediaHasher&) = delete;

  // Errors: kNotFound/kIoError (unreadable), kTooLarge (limits), kCorrupt /
  // kUnsupported (not an image or video the decoders accept).
  Result<MediaHashes> Hash(const std::string& path) const;

  const HashOptions& options() const { return options_; }

 private:
  MediaHasher() = default;
  Result<MediaHashes> HashUnguarded(const std::string& path) const;

  HashOptions options_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<face::FaceAnalyzer>> idle_;  // guarded by mu_
};

// ---------------------------------------------------------------- matching

struct MatchOptions {
  int pdq_radius = 31;
  int pdq_min_quality = 50;
  hash::VpdqMatchOptions vpdq;
  float face_threshold = face::kDefaultFaceMatchThreshold;  // calibrated in src/face (docs/formats/face.md)
};

struct CaseSignals {
  std::string file;  // where the set came from: a signal-set file, or the server / store read
  signals::SignalSet set;
  // Read from a case store or a server (`takeback scan --server`/`--db`):
  // kind "case" or "bank", the case number or bank name, and each signal's id
  // in the store (parallel to set.signals). Empty for a signal-set file.
  std::string kind;
  std::string name;
  std::vector<std::int64_t> signal_ids;
  // The match rule of these signals when it is not the scan's (a bank's own
  // rule: DESIGN.md "configurable per bank"); nullopt: MatchOptions.
  std::optional<MatchOptions> rule;
};

struct MatchHit {
  std::size_t case_index = 0;
  std::size_t signal_index = 0;
  signals::SignalType type = signals::SignalType::kPdq;
  double distance = 0;   // bits (pdq), Euclidean (face), 0 (digests), 100 - best share (vpdq)
  double threshold = 0;  // the rule's limit
  std::string variant;   // pdq: which dihedral variant of the item matched ("orig", "rot90", ...)
  bool review_required = false;
  double query_percent = 0;  // vpdq
  double target_percent = 0;
};

// The signals of all cases, indexed. Immutable after Build; Match is
// thread-safe. Each case's signals match by its own `rule` when it has one.
class Matcher {
 public:
  static Result<std::unique_ptr<Matcher>> Build(std::vector<CaseSignals> cases, const MatchOptions& options);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Every signal the item matches. An MD5 match is left out when the SHA-256
  // of the same case matched too.
  std::vector<MatchHit> Match(const MediaHashes& item) const;

  const std::vector<CaseSignals>& cases() const { return cases_; }
  const MatchOptions& options() const { return options_; }
  bool needs_faces() const { return !faces_.empty(); }

 private:
  Matcher() = default;
  struct Ref {
    std::size_t case_index;
    std::size_t signal_index;
  };
  const MatchOptions& RuleOf(std::size_t case_index) const {
    const std::optional<MatchOptions>& rule = cases_[case_index].rule;
    return rule ? *rule : options_;
  }
  std::vector<CaseSignals> cases_;
  MatchOptions options_;
  int widest_pdq_radius_ = 0;   // the largest pdq radius of any rule
  int lowest_pdq_quality_ = 0;  // the lowest pdq quality floor of any rule
  std::unique_ptr<index::BinaryIndex> pdq_index_;
  std::vector<Ref> pdq_refs_;  // by index id
  std::vector<std::pair<std::array<std::uint8_t, 32>, Ref>> sha256_;
  std::vector<std::pair<std::array<std::uint8_t, 16>, Ref>> md5_;
  std::vector<Ref> vpdq_;
  std::vector<Ref> faces_;
};

// ---------------------------------------------------------------- scanning

struct ScanOptions {
  unsigned jobs = 1;                  // files hashed at a time
  std::size_t batch_size = 128;       // files held between parsing and hashing
  std::size_t max_text_bytes = 2000;  // message text kept per record in the report
};

// Progress as the scan goes: files done so far, and the share of the
// current source read (0..1; for an export, the bytes of result.json).
struct ScanProgress {
  std::size_t files_done = 0;
  std::size_t matches = 0;
  double fraction = 0;
};

// Runs sources through hashing and matching into one report. Not
// thread-safe (it runs its own workers).
class Scanner {
 public:
  Scanner(const Matcher& matcher, const MediaHasher& hasher, const ScanOptions& options, ScanReport& report);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  void set_progress(std::function<void(const ScanProgress&)> callback) { progress_ = std::move(callback); }

  // A Telegram export: a folder with result.json, or the result.json file
  // itself. Damaged JSON is recorded in the report (source.error,
  // report.truncated) after scanning what was read; the returned Status is
  // an error only when the export cannot be opened at all.
  Status ScanTelegramExport(const std::string& path);
  // A folder (recursive; symlinks leaving it are refused) or a single file.
  Status ScanPath(const std::string& path);

 private:
  struct Pending;
  class Visitor;
  void Enqueue(Pending item);
  void Flush();
  void Record(const Pending& item, Result<MediaHashes>&& hashes);
  void ReportProgress(double fraction);

  const Matcher& matcher_;
  const MediaHasher& hasher_;
  ScanOptions options_;
  ScanReport& report_;
  std::vector<std::string> all_terms_;
  std::vector<std::size_t> term_case_;
  std::unique_ptr<text::WatchList> watch_;  // every case's terms; term_case_ maps back
  std::vector<Pending> batch_;
  std::function<void(const ScanProgress&)> progress_;
  double fraction_ = 0;
};

}  // namespace takeback::scan
