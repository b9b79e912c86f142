#include "cli/progress.h"

#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>

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
  return std::to_string(total / kSecondsPerHour) + "h" + std::to_string(total % kSecondsPerHour / kSecondsPerMinute) +
         "m";
}

}  // namespace

std::string FormatProgress(std::size_t done, std::size_t total, double elapsed_seconds) {
  const auto width = static_cast<int>(std::to_string(total).size());
  const double percent = total == 0 ? 100.0 : 100.0 * static_cast<double>(done) / static_cast<double>(total);
  std::ostringstream line;
  line << std::fixed << '[' << std::setw(width) << done << '/' << total << "] " << std::setw(5) << std::setprecision(1)
       << percent << '%';
  if (elapsed_seconds <= 0.0 || done == 0) return line.str();
  const double rate = static_cast<double>(done) / elapsed_seconds;
  line << "  " << std::setprecision(0) << rate << " files/s";
  if (done < total) line << "  ETA " << FormatDuration(static_cast<double>(total - done) / rate);
  return line.str();
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
