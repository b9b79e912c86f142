#include "scan/scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <new>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/hex.h"
#include "index/binary_index.h"
#include "scan/telegram.h"
#include "text/text.h"

namespace takeback::scan {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kSniffBytes = std::size_t{64} * 1024;

Status ErrnoStatus(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOENT || err == ENOTDIR) return NotFound(msg);
  return IoError(msg);
}

std::optional<std::string> RealPath(const std::string& path, int& err) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) {
    err = errno;
    return std::nullopt;
  }
  std::string out(resolved);
  std::free(resolved);  // NOLINT(cppcoreguidelines-no-malloc): realpath's contract
  return out;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads up to `max` bytes from `fd` from its current offset.
Result<std::vector<std::uint8_t>> ReadUpTo(int fd, std::size_t max) {
  std::vector<std::uint8_t> data(max);
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read failed", errno);
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return data;
}

std::string Shorten(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) --cut;
  return text.substr(0, cut) + "…";
}

// Duplicate message ids per chat, in O(messages) memory of 8 bytes each:
// Telegram writes ids in increasing order, so they usually append to a
// sorted vector; the rare out-of-order id goes to a hash set.
class IdTracker {
 public:
  // True when `id` was seen before.
  bool Seen(std::int64_t id) {
    if (sorted_.empty() || id > sorted_.back()) {
      sorted_.push_back(id);
      return false;
    }
    if (std::binary_search(sorted_.begin(), sorted_.end(), id)) return true;
    return !others_.insert(id).second;
  }

 private:
  std::vector<std::int64_t> sorted_;
  std::unordered_set<std::int64_t> others_;
};

}  // namespace

// ---------------------------------------------------------------- ExportRoot

Result<ExportRoot> ExportRoot::Open(const std::string& dir) {
  int err = 0;
  const std::optional<std::string> real = RealPath(dir, err);
  if (!real) return ErrnoStatus("cannot open " + dir, err);
  std::error_code ec;
  if (!fs::is_directory(*real, ec)) return InvalidArgument(dir + " is not a directory");
  ExportRoot root;
  root.root_ = *real;
  while (root.root_.size() > 1 && root.root_.back() == '/') root.root_.pop_back();
  return root;
}

Result<std::string> ExportRoot::Resolve(const std::string& relative) const {
  if (relative.empty()) return InvalidArgument("refused: empty path");
  if (relative.find('\0') != std::string::npos) return InvalidArgument("refused: NUL in path");
  if (relative.front() == '/' || relative.front() == '\\') {
    return InvalidArgument("refused: absolute path outside the export folder");
  }
  std::size_t start = 0;
  while (start <= relative.size()) {
    std::size_t end = relative.find_first_of("/\\", start);
    if (end == std::string::npos) end = relative.size();
    if (relative.compare(start, end - start, "..") == 0 && end - start == 2) {
      return InvalidArgument("refused: \"..\" leads outside the export folder");
    }
    start = end + 1;
  }
  int err = 0;
  const std::optional<std::string> real = RealPath(root_ + "/" + relative, err);
  if (!real) return ErrnoStatus("cannot open", err);
  const std::string prefix = root_ == "/" ? root_ : root_ + "/";
  if (!real->starts_with(prefix)) return InvalidArgument("refused: a symbolic link leads outside the export folder");
  struct stat st {};
  if (::stat(real->c_str(), &st) != 0) return ErrnoStatus("cannot stat", errno);
  if (!S_ISREG(st.st_mode)) return IoError("not a regular file");
  return *real;
}

// ---------------------------------------------------------------- MediaHasher

MediaHasher::~MediaHasher() = default;

Result<std::unique_ptr<MediaHasher>> MediaHasher::Create(const HashOptions& options) {
  std::unique_ptr<MediaHasher> hasher(new MediaHasher());
  hasher->options_ = options;
  if (options.faces) {
    // Open one now, so that missing models fail before the scan starts.
    Result<std::unique_ptr<face::FaceAnalyzer>> analyzer = face::FaceAnalyzer::Open(options.models);
    if (!analyzer.ok()) return analyzer.status();
    hasher->idle_.push_back(std::move(*analyzer));
  }
  return hasher;
}

Result<MediaHashes> MediaHasher::Hash(const std::string& path) const {
  try {
    return HashUnguarded(path);
  } catch (const std::bad_alloc&) {
    return TooLarge("out of memory while decoding");
  } catch (const std::exception& e) {
    return Internal(std::string("unexpected error: ") + e.what());
  }
}

Result<MediaHashes> MediaHasher::HashUnguarded(const std::string& path) const {
  // O_NOFOLLOW: the path was resolved inside the export; a symlink swapped
  // in since is refused rather than followed.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0) return ErrnoStatus("cannot open", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat", errno);
  if (!S_ISREG(st.st_mode)) return IoError("not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size == 0) return Corrupt("empty file (0 bytes)");
  Result<std::vector<std::uint8_t>> prefix = ReadUpTo(fd.get(), kSniffBytes);
  if (!prefix.ok()) return prefix.status();
  MediaHashes out;
  const media::VideoFormat video_format = media::SniffVideoFormat(*prefix);
  if (video_format != media::VideoFormat::kUnknown && video_format != media::VideoFormat::kGif) {
    if (size > options_.max_video_bytes) {
      return TooLarge("video is " + std::to_string(size) + " bytes, over the limit of " +
                      std::to_string(options_.max_video_bytes));
    }
    Result<signals::VideoHashResult> video = signals::HashVideoFile(path, options_.video, -1);
    if (!video.ok()) return video.status();
    out.video = true;
    out.format = std::string(media::VideoFormatName(video->info.format));
    out.width = video->info.width;
    out.height = video->info.height;
    out.frames = std::move(video->frames);
    out.digests = video->digests;
    out.video_truncated = video->stats.truncated;
    return out;
  }
  if (size > options_.max_image_bytes) {
    return TooLarge("file is " + std::to_string(size) + " bytes, over the limit of " +
                    std::to_string(options_.max_image_bytes));
  }
  Result<std::vector<std::uint8_t>> rest = ReadUpTo(fd.get(), static_cast<std::size_t>(size));
  if (!rest.ok()) return rest.status();
  std::vector<std::uint8_t> bytes = std::move(*prefix);
  bytes.insert(bytes.end(), rest->begin(), rest->end());
  out.digests = hash::ComputeDigests(bytes);
  out.format = std::string(media::ImageFormatName(media::SniffImageFormat(bytes)));
  Result<media::Image> image = media::DecodeImage(bytes, options_.decode);
  if (!image.ok()) return image.status();
  std::vector<std::uint8_t>().swap(bytes);
  out.width = image->width;
  out.height = image->height;
  const hash::PdqDihedralResult pdq =
      hash::PdqDihedralHashPixels({image->pixels.data(), image->width, image->height, image->channels,
                                   static_cast<std::size_t>(image->width) * static_cast<std::size_t>(image->channels)});
  out.dihedral = pdq.hashes;
  out.quality = pdq.quality;
  if (options_.faces) {
    std::unique_ptr<face::FaceAnalyzer> analyzer;
    {
      const std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        analyzer = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!analyzer) {
      Result<std::unique_ptr<face::FaceAnalyzer>> opened = face::FaceAnalyzer::Open(options_.models);
      if (!opened.ok()) return opened.status();
      analyzer = std::move(*opened);
    }
    face::DetectOptions detect = options_.detect;
    detect.parallel_passes = false;  // the scan already keeps every core busy
    Result<face::FaceResult> faces = analyzer->Analyze(*image, detect);
    {
      const std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(std::move(analyzer));
    }
    if (!faces.ok()) return faces.status();
    for (const face::Face& f : faces->faces) out.faces.push_back(f.descriptor);
  }
  return out;
}

// ---------------------------------------------------------------- Matcher

Matcher::~Matcher() = default;

namespace {
// From this many pdq signals on, the matcher uses MIH instead of a flat scan
// (docs/BENCHMARKS.md "Hash index": at 1M hashes and radius 31, MIH answers
// about 26 times as many queries per CPU-second as Flat; each photo is 8).
constexpr std::size_t kMihMinSignals = 20'000;
}  // namespace

Result<std::unique_ptr<Matcher>> Matcher::Build(std::vector<CaseSignals> cases, const MatchOptions& options) {
  std::unique_ptr<Matcher> m(new Matcher());
  m->options_ = options;
  m->widest_pdq_radius_ = options.pdq_radius;
  m->lowest_pdq_quality_ = options.pdq_min_quality;
  for (const CaseSignals& c : cases) {
    if (!c.rule) continue;
    m->widest_pdq_radius_ = std::max(m->widest_pdq_radius_, c.rule->pdq_radius);
    m->lowest_pdq_quality_ = std::min(m->lowest_pdq_quality_, c.rule->pdq_min_quality);
  }
  // A case has a few dozen pdq signals, a server's banks may have millions
  // (`takeback scan --server` with no --case): a flat scan is fastest for the
  // first, multi-index hashing (exact, sub-linear) for the second.
  std::size_t pdq_count = 0;
  for (const CaseSignals& c : cases) {
    for (const signals::Signal& s : c.set.signals) pdq_count += s.type == signals::SignalType::kPdq ? 1 : 0;
  }
  Result<std::unique_ptr<index::BinaryIndex>> pdq_index =
      index::MakeBinaryIndex(pdq_count >= kMihMinSignals ? "MIH" : "Flat");
  if (!pdq_index.ok()) return pdq_index.status();
  m->pdq_index_ = std::move(*pdq_index);
  std::vector<std::uint64_t> ids;
  std::vector<hash::PdqHash> hashes;
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const std::vector<signals::Signal>& list = cases[c].set.signals;
    const MatchOptions& rule = cases[c].rule ? *cases[c].rule : options;
    for (std::size_t s = 0; s < list.size(); ++s) {
      const signals::Signal& signal = list[s];
      const Ref ref{c, s};
      switch (signal.type) {
        case signals::SignalType::kPdq:
          if (signal.quality < rule.pdq_min_quality) break;
          ids.push_back(m->pdq_refs_.size());
          hashes.push_back(signal.pdq);
          m->pdq_refs_.push_back(ref);
          break;
        case signals::SignalType::kSha256:
          m->sha256_.emplace_back(signal.sha256, ref);
          break;
        case signals::SignalType::kMd5:
          m->md5_.emplace_back(signal.md5, ref);
          break;
        case signals::SignalType::kVpdq:
          m->vpdq_.push_back(ref);
          break;
        case signals::SignalType::kFace:
          m->faces_.push_back(ref);
          break;
      }
    }
  }
  TAKEBACK_RETURN_IF_ERROR(m->pdq_index_->Add(ids, hashes));
  auto by_digest = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::sort(m->sha256_.begin(), m->sha256_.end(), by_digest);
  std::sort(m->md5_.begin(), m->md5_.end(), by_digest);
  m->cases_ = std::move(cases);
  return m;
}

std::vector<MatchHit> Matcher::Match(const MediaHashes& item) const {
  std::vector<MatchHit> hits;
  auto hit = [&](const Ref& ref, signals::SignalType type) -> MatchHit& {
    MatchHit& h = hits.emplace_back();
    h.case_index = ref.case_index;
    h.signal_index = ref.signal_index;
    h.type = type;
    return h;
  };
  std::vector<std::size_t> sha_cases;
  for (auto it = std::lower_bound(sha256_.begin(), sha256_.end(), item.digests.sha256,
                                  [](const auto&e, const auto&v) { return e.first < v; });
       it != sha256_.end() && it->first == item.digests.sha256; ++it) {
    hit(it->second, signals::SignalType::kSha256);
    sha_cases.push_back(it->second.case_index);
  }
  for (auto it = std::lower_bound(md5_.begin(), md5_.end(), item.digests.md5,
                                  [](const auto&e, const auto&v) { return e.first < v; });
       it != md5_.end() && it->first == item.digests.md5; ++it) {
    if (std::find(sha_cases.begin(), sha_cases.end(), it->second.case_index) != sha_cases.end()) continue;
    hit(it->second, signals::SignalType::kMd5);
  }
  if (!item.video && item.quality >= lowest_pdq_quality_ && !pdq_refs_.empty()) {
    std::vector<index::DihedralNeighbor> neighbors;
    if (pdq_index_->RangeSearchDihedral(item.dihedral, widest_pdq_radius_, &neighbors).ok()) {
      for (const index::DihedralNeighbor& n : neighbors) {
        const Ref& ref = pdq_refs_[n.id];
        const MatchOptions& rule = RuleOf(ref.case_index);
        if (n.distance > rule.pdq_radius || item.quality < rule.pdq_min_quality) continue;
        MatchHit& h = hit(ref, signals::SignalType::kPdq);
        h.distance = n.distance;
        h.threshold = rule.pdq_radius;
        h.variant = std::string(hash::DihedralName(static_cast<hash::Dihedral>(n.variant)));
      }
    }
  }
  if (item.video && !item.frames.empty()) {
    for (const Ref& ref : vpdq_) {
      const signals::Signal& signal = cases_[ref.case_index].set.signals[ref.signal_index];
      const hash::VpdqMatchOptions& rule = RuleOf(ref.case_index).vpdq;
      const hash::VpdqMatchResult r = hash::MatchVpdq(item.frames, signal.frames, rule);
      if (!r.match) continue;
      MatchHit& h = hit(ref, signals::SignalType::kVpdq);
      h.query_percent = r.query_percent;
      h.target_percent = r.target_percent;
      h.distance = 100.0 - std::max(r.query_percent, r.target_percent);
      h.threshold = 100.0 - std::min(rule.query_threshold, rule.target_threshold);
    }
  }
  for (const Ref& ref : faces_) {
    const signals::Signal& signal = cases_[ref.case_index].set.signals[ref.signal_index];
    float best = -1;
    for (const face::Descriptor& d : item.faces) {
      const float dist = face::DescriptorDistance(d, signal.descriptor);
      if (best < 0 || dist < best) best = dist;
    }
    const float limit = RuleOf(ref.case_index).face_threshold;
    if (best < 0 || best > limit) continue;
    MatchHit& h = hit(ref, signals::SignalType::kFace);
    h.distance = static_cast<double>(best);
    h.threshold = static_cast<double>(limit);
    h.review_required = true;
  }
  return hits;
}

// ---------------------------------------------------------------- Scanner

struct Scanner::Pending {
  SourceRef source;
  FileRef file;
};

Scanner::Scanner(const Matcher& matcher, const MediaHasher& hasher, const ScanOptions& options, ScanReport& report)
    : matcher_(matcher), hasher_(hasher), options_(options), report_(report) {
  for (std::size_t c = 0; c < matcher.cases().size(); ++c) {
    for (const std::string& term : matcher.cases()[c].set.watch_terms) {
      all_terms_.push_back(term);
      term_case_.push_back(c);
    }
  }
  watch_ = std::make_unique<text::WatchList>(all_terms_);
}

Scanner::~Scanner() = default;

void Scanner::ReportProgress(double fraction) {
  fraction_ = fraction;
  if (progress_) progress_({report_.files_hashed, report_.matches.size(), fraction_});
}

void Scanner::Enqueue(Pending item) {
  batch_.push_back(std::move(item));
  if (batch_.size() >= options_.batch_size) Flush();
}

void Scanner::Flush() {
  if (batch_.empty()) return;
  // Hash the batch on `jobs` threads, then record in input order (the report
  // is deterministic whatever the thread timing).
  std::vector<std::optional<Result<MediaHashes>>> results(batch_.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < batch_.size(); i = next++)
      results[i].emplace(hasher_.Hash(batch_[i].file.resolved));
  };
  const std::size_t threads = std::min<std::size_t>(std::max(1U, options_.jobs), batch_.size());
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::jthread> pool;
    pool.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  }
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    Record(batch_[i], std::move(*results[i]));
    if (progress_) progress_({report_.files_hashed, report_.matches.size(), fraction_});
  }
  batch_.clear();
}

void Scanner::Record(const Pending& item, Result<MediaHashes>&& hashes) {
  ++report_.files_hashed;
  if (!hashes.ok()) {
    ++report_.failure_count;
    if (report_.failures.size() < kMaxRecords) {
      report_.failures.push_back(
          {item.source, item.file.path, std::string(ErrorCodeName(hashes.status().code())), hashes.status().message()});
    }
    return;
  }
  FileRef file = item.file;
  file.kind = hashes->video ? "video" : "image";
  file.format = hashes->format;
  file.width = hashes->width;
  file.height = hashes->height;
  file.md5 = HexEncode(hashes->digests.md5);
  file.sha256 = HexEncode(hashes->digests.sha256);
  if (!hashes->video) {
    file.pdq = hashes->dihedral[0].ToHex();
    file.quality = hashes->quality;
  }
  file.faces = hashes->faces.size();
  if (hashes->video_truncated) {
    report_.AddWarning(item.file.path + ": video decoding stopped at a budget; only its start was compared");
  }
  for (const MatchHit& h : matcher_.Match(*hashes)) {
    if (report_.matches.size() >= kMaxRecords) {
      report_.AddWarning("more than " + std::to_string(kMaxRecords) + " matches; the rest are not listed");
      break;
    }
    const CaseSignals& c = matcher_.cases()[h.case_index];
    const signals::Signal& signal = c.set.signals[h.signal_index];
    MatchRecord r;
    r.source = item.source;
    r.file = file;
    r.case_index = h.case_index;
    r.case_ref = c.set.case_ref;
    r.case_kind = c.kind;
    r.case_name = c.name;
    r.signal_index = h.signal_index;
    if (h.signal_index < c.signal_ids.size()) r.signal_id = c.signal_ids[h.signal_index];
    r.signal_type = std::string(signals::SignalTypeName(h.type));
    r.signal_label = signal.label;
    r.distance = h.distance;
    r.threshold = h.threshold;
    r.variant = h.variant;
    r.review_required = h.review_required;
    r.query_percent = h.query_percent;
    r.target_percent = h.target_percent;
    report_.matches.push_back(std::move(r));
  }
}

class Scanner::Visitor final : public TelegramVisitor {
 public:
  Visitor(Scanner& scanner, const ExportRoot& root, std::size_t source_index, std::istream& in, std::uint64_t total)
      : scanner_(scanner), root_(root), source_index_(source_index), in_(in), total_(total) {}

  void OnChat(const TelegramChat& chat) override {
    SourceSummary& source = scanner_.report_.sources[source_index_];
    source.chats.push_back({chat.name, chat.type, chat.id, 0});
    ids_ = IdTracker();
  }

  void OnMessage(const TelegramChat& chat, TelegramMessage&& msg) override {
    ScanReport& report = scanner_.report_;
    SourceSummary& source = report.sources[source_index_];
    ++source.messages;
    if (!source.chats.empty()) ++source.chats.back().messages;
    if (msg.has_id && ids_.Seen(msg.id)) {
      report.AddWarning("chat \"" + chat.name + "\": message id " + std::to_string(msg.id) +
                        " appears more than once (each copy is scanned)");
    }
    SourceRef ref;
    ref.kind = "telegram";
    ref.source_path = source.path;
    ref.chat_name = chat.name;
    ref.chat_type = chat.type;
    ref.chat_id = chat.id;
    if (msg.has_id) {
      ref.message_id = msg.id;
      ref.link = TelegramMessageLink(chat, msg.id);
    }
    ref.date_unixtime = msg.date_unixtime;
    ref.date_local = msg.date;
    ref.sender_name = msg.from;
    ref.sender_id = msg.from_id;
    ref.forwarded_from = msg.forwarded_from;
    ref.reply_to_message_id = msg.reply_to_message_id;
    ref.edited = msg.edited;
    ref.self_destruct_period_seconds = msg.self_destruct_period_seconds;
    ref.text = Shorten(msg.text, scanner_.options_.max_text_bytes);
    if (!scanner_.watch_->empty() && !msg.text.empty()) {
      for (text::TermHit& hit : scanner_.watch_->Find(msg.text)) {
        if (report.doxxing.size() >= kMaxRecords) break;
        const std::size_t c = scanner_.term_case_[hit.term_index];
        report.doxxing.push_back({ref, c, scanner_.matcher_.cases()[c].set.case_ref, std::move(hit.term),
                                  std::move(hit.kind), std::move(hit.matched), std::move(hit.excerpt)});
      }
    }
    for (const TelegramMedia& media : msg.media) {
      if (!media.placeholder.empty()) {
        AddMissing(ref, msg, media, "not downloaded (placeholder in the export)");
        continue;
      }
      Result<std::string> resolved = root_.Resolve(media.path);
      if (!resolved.ok()) {
        const bool refused = resolved.status().code() == ErrorCode::kInvalidArgument;
        report.AddWarning("message " + (msg.has_id ? std::to_string(msg.id) : std::string("?")) + ": " + media.path +
                          ": " + resolved.status().message() + (refused ? " (not read)" : ""));
        AddMissing(ref, msg, media,
                   refused ? resolved.status().message() : "file not found: " + resolved.status().message());
        continue;
      }
      ++source.files;
      FileRef file;
      file.path = media.path;
      file.resolved = *resolved;
      file.field = media.field;
      scanner_.Enqueue({ref, std::move(file)});
    }
    if (++since_progress_ >= 1024) {
      since_progress_ = 0;
      UpdateFraction();
    }
  }

  void OnWarning(const std::string& warning) override { scanner_.report_.AddWarning(warning); }

  void UpdateFraction() {
    const std::streampos pos = in_.tellg();
    if (pos >= 0 && total_ > 0) {
      scanner_.ReportProgress(std::min(1.0, static_cast<double>(pos) / static_cast<double>(total_)));
    }
  }

 private:
  void AddMissing(const SourceRef& ref, const TelegramMessage& msg, const TelegramMedia& media, std::string reason) {
    ScanReport& report = scanner_.report_;
    ++report.missing_count;
    if (report.missing.size() >= kMaxRecords) return;
    MissingRecord m;
    m.source = ref;
    m.field = media.field;
    m.path = media.path;
    m.placeholder = media.placeholder;
    m.reason = std::move(reason);
    m.file_name = msg.file_name;
    m.media_type = msg.media_type;
    m.mime_type = msg.mime_type;
    m.file_size = msg.file_size;
    m.duration_seconds = msg.duration_seconds;
    report.missing.push_back(std::move(m));
  }

  Scanner& scanner_;
  const ExportRoot& root_;
  std::size_t source_index_;
  std::istream& in_;
  std::uint64_t total_;
  IdTracker ids_;
  std::size_t since_progress_ = 0;
};

Status Scanner::ScanTelegramExport(const std::string& path) {
  std::error_code ec;
  const bool is_dir = fs::is_directory(path, ec);
  const std::string json_path = is_dir ? (fs::path(path) / "result.json").string() : path;
  const std::string dir = is_dir ? path : fs::path(path).parent_path().string();
  Result<ExportRoot> root = ExportRoot::Open(dir.empty() ? "." : dir);
  if (!root.ok()) return root.status();
  std::ifstream in(json_path, std::ios::binary);
  if (!in) return NotFound("cannot open " + json_path + " (a Telegram export folder holds result.json)");
  const std::uint64_t total = fs::file_size(json_path, ec);
  SourceSummary summary;
  summary.kind = "telegram";
  summary.path = root->path();
  report_.sources.push_back(std::move(summary));
  const std::size_t source_index = report_.sources.size() - 1;
  Visitor visitor(*this, *root, source_index, in, ec ? 0 : total);
  fraction_ = 0;
  Result<TelegramReadResult> read = ReadTelegramExport(in, visitor);
  Flush();
  ReportProgress(1.0);
  if (!read.ok()) {
    SourceSummary& source = report_.sources[source_index];
    source.truncated = true;
    source.error = read.status().message();
    report_.truncated = true;
    report_.AddWarning(json_path + ": the export is damaged or truncated: " + read.status().message() +
                       "; the report covers what was read before that point");
  }
  return Status::Ok();
}

Status Scanner::ScanPath(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return NotFound("cannot open " + path);
  std::vector<std::pair<std::string, std::string>> files;  // shown path, resolved
  SourceSummary summary;
  summary.kind = "folder";
  summary.path = path;
  if (fs::is_directory(st)) {
    Result<ExportRoot> root = ExportRoot::Open(path);
    if (!root.ok()) return root.status();
    summary.path = root->path();
    for (auto it = fs::recursive_directory_iterator(root->path(), fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code e2;
      if (it->is_directory(e2) && !it->is_symlink(e2)) continue;
      if (!it->is_regular_file(e2) && !it->is_symlink(e2)) continue;
      const std::string relative = fs::relative(it->path(), root->path(), e2).string();
      Result<std::string> resolved = root->Resolve(relative);
      if (!resolved.ok()) {
        if (resolved.status().code() == ErrorCode::kInvalidArgument) {
          report_.AddWarning(it->path().string() + ": " + resolved.status().message() + " (not read)");
        }
        continue;
      }
      files.emplace_back(it->path().string(), *resolved);
    }
    if (ec) report_.AddWarning(path + ": listing stopped early: " + ec.message());
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(st)) {
    int err = 0;
    const std::optional<std::string> real = RealPath(path, err);
    if (!real) return ErrnoStatus("cannot open " + path, err);
    files.emplace_back(path, *real);
  } else {
    return IoError(path + " is not a regular file or folder");
  }
  summary.files = files.size();
  report_.sources.push_back(std::move(summary));
  const std::string source_path = report_.sources.back().path;
  std::size_t done = 0;
  for (auto& [shown, resolved] : files) {
    Pending item;
    item.source.kind = "folder";
    item.source.source_path = source_path;
    item.file.path = shown;
    item.file.resolved = resolved;
    item.file.field = "file";
    ++done;
    fraction_ = static_cast<double>(done) / static_cast<double>(files.size());
    Enqueue(std::move(item));
  }
  Flush();
  ReportProgress(1.0);
  return Status::Ok();
}

void ScanReport::AddWarning(std::string warning) {
  ++warning_count;
  if (warnings.size() < kMaxWarnings) warnings.push_back(std::move(warning));
}

}  // namespace takeback::scan
