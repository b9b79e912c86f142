#include "cli/progress.h"

#include <cmath>
#include <cstdio>
#include <ostream>

namespace takeback::cli {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr int kSecondsPerMinute = 60;
constexpr int kSecondsPerHour = 3600;

std::string FormatDuration(double seconds) {
  const long total = std::lround(seconds);
  if (total < kSecondsPerMinute) return std::to_string(total) + "s";
  if (total < kSecondsPerHour) {
    return std::to_string(total / kSecondsPerMinute) + "m" + std::to_string(total % kSecondsPerMinute) + "s";
  }
  return std::to_string(total / kSecondsPerHour) + "h" +
         std::to_string(total % kSecondsPerHour / kSecondsPerMinute) + "m";
}

}  // namespace

std::string FormatProgress(std::size_t done, std::size_t total, double elapsed_seconds) {
  const int width = static_cast<int>(std::to_string(total).size());
  const double percent = total == 0 ? 100.0 : 100.0 * static_cast<double>(done) / static_cast<double>(total);
  char head[96];
  std::snprintf(head, sizeof(head), "[%*zu/%zu] %5.1f%%", width, done, total, percent);
  std::string line = head;
  if (elapsed_seconds <= 0.0 || done == 0) return line;
  const double rate = static_cast<double>(done) / elapsed_seconds;
  char tail[64];
  std::snprintf(tail, sizeof(tail), "  %.0f files/s", rate);
  line += tail;
  if (done < total) line += "  ETA " + FormatDuration(static_cast<double>(total - done) / rate);
  return line;
}

ProgressMeter::ProgressMeter(std::ostream& err, std::size_t total, bool enabled)
    : err_(err), total_(total), enabled_(enabled), start_(Clock::now()), last_draw_(start_ - kRedrawInterval) {}

void ProgressMeter::Update(std::size_t done) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (visible_ && now - last_draw_ < kRedrawInterval && done < total_) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  err_ << '\r' << FormatProgress(done, total_, elapsed) << "\x1b[K" << std::flush;
  visible_ = true;
}

void ProgressMeter::Clear() {
  if (!visible_) return;
  err_ << "\r\x1b[K" << std::flush;
  visible_ = false;
}

}  // namespace takeback::cli
