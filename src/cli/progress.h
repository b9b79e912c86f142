// A one-line progress meter on a terminal's stderr.
#pragma once

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <string>

namespace takeback::cli {

// "[ 120/4000]   3.0%  85 files/s  ETA 45s" (no carriage return).
std::string FormatProgress(std::size_t done, std::size_t total, double elapsed_seconds);

// Draws FormatProgress on `err` with '\r', at most ten times a second.
// A disabled meter writes nothing. Not thread-safe: one thread reports.
class ProgressMeter {
 public:
  ProgressMeter(std::ostream& err, std::size_t total, bool enabled);

  // Records that `done` items are finished and redraws when due.
  void Update(std::size_t done);
  // Erases the line, so that a message can be printed; the next Update
  // redraws it. Call it at the end too.
  void Clear();

 private:
  using Clock = std::chrono::steady_clock;

  std::ostream& err_;
  std::size_t total_;
  bool enabled_;
  bool visible_ = false;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

}  // namespace takeback::cli
