// Machine facts every benchmark prints beside its figures: the CPU model,
// the load average (the 2 cores are often shared, so figures carry it) and
// the process's CPU time (work per CPU-second, which sharing does not skew
// as much as wall time).
#pragma once

#include <time.h>

#include <fstream>
#include <string>

namespace takeback::bench {

// "1.23 0.98 0.75" from /proc/loadavg, or "unknown".
inline std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a;
  std::string b;
  std::string c;
  in >> a >> b >> c;
  return a.empty() ? "unknown" : a + " " + b + " " + c;
}

// The first "model name" of /proc/cpuinfo, or "unknown".
inline std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const std::size_t colon = line.find(':');
      return colon == std::string::npos || colon + 2 > line.size() ? "unknown" : line.substr(colon + 2);
    }
  }
  return "unknown";
}

// CPU seconds used by this process so far, all threads.
inline double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace takeback::bench
