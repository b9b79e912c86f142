// scan_bench (issue 6): runs the real `takeback scan` on a generated
// Telegram export (bench/scan_bench_gen.sh) and on a generated result.json of
// about 1 GB, and prints photos/s (hashes only, and with faces), wall and CPU
// time, and the peak resident memory of the scanning process, with the
// machine facts and load average (the cores are shared, so CPU time is the
// steadier figure).
//
//   scan_bench --takeback BIN --export DIR --signals CASE.json
//              [--faces-signals CASE_WITH_FACE.json] [--faces-limit N]
//              [--json-mb MB] [--work DIR] [--jobs N]
//
// --faces-limit N measures the face run on the first N photos of the export
// (a sub-export written to --work), so that a slow face pass stays bounded.
// --json-mb 0 skips the big-JSON run.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.h"

namespace {

using takeback::bench::CpuModel;
using takeback::bench::LoadAverage;

namespace fs = std::filesystem;

struct RunStats {
  int exit_code = -1;
  double wall = 0;
  double cpu = 0;         // user + system of the child
  double max_rss_mb = 0;  // peak resident set of the child
};

// Runs argv as a child with stdout/stderr to `log`, and measures it.
RunStats Run(const std::vector<std::string>& argv, const std::string& log) {
  RunStats stats;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execv's signature
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  stats.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stats.cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
              static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  stats.max_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;
  stats.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return stats;
}

// A sub-export with `limit` photo messages of `src`, evenly spaced (every
// stride-th), so that it has the same mix of sources and sizes.
std::string SubExport(const std::string& src, const std::string& dst, std::size_t limit, std::size_t stride) {
  // The photos are hard-linked (or copied): a symbolic link to the original
  // folder would lead outside the sub-export, and the scan refuses that.
  std::error_code ec;
  fs::remove_all(dst, ec);
  fs::create_directories(fs::path(dst) / "photos");
  std::ifstream in(fs::path(src) / "result.json");
  std::ofstream out(fs::path(dst) / "result.json");
  std::size_t messages = 0;
  std::size_t seen = 0;
  bool closed = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"photo\"") != std::string::npos) {
      if (seen++ % stride != 0) continue;
      if (messages == limit) {
        if (!closed) out << "\n ]\n}\n";
        closed = true;
        continue;
      }
      if (!line.empty() && line.back() == ',') line.pop_back();
      const std::size_t at = line.find("\"photos/");
      if (at != std::string::npos) {
        const std::string name = line.substr(at + 1, line.find('"', at + 1) - at - 1);
        fs::create_hard_link(fs::path(src) / name, fs::path(dst) / name, ec);
        if (ec) fs::copy_file(fs::path(src) / name, fs::path(dst) / name, ec);
      }
      out << (messages == 0 ? "" : ",\n") << line;
      ++messages;
    } else if (!closed && messages == 0) {
      out << line << "\n";
    }
  }
  if (!closed) out << "\n ]\n}\n";
  return dst;
}

// A result.json of about `mb` megabytes of text messages (Korean and Latin
// text, mentions, replies), with no media, streamed to disk.
void WriteBigJson(const std::string& path, std::uint64_t mb) {
  std::ofstream out(path, std::ios::binary);
  out << "{\n \"name\": \"big room\",\n \"type\": \"public_supergroup\",\n \"id\": 1888888888,\n \"messages\": [\n";
  const std::uint64_t target = mb << 20;
  std::uint64_t written = 0;
  std::uint64_t id = 1;
  std::string msg;
  while (written < target) {
    msg = "  {\"id\": " + std::to_string(id) +
          ", \"type\": \"message\", \"date\": \"2024-01-01T00:00:00\", \"date_unixtime\": \"" +
          std::to_string(1704067200 + id) + "\", \"from\": \"사용자 " + std::to_string(id % 500) +
          "\", \"from_id\": \"user" + std::to_string(7000 + id % 500) +
          "\", \"reply_to_message_id\": " + std::to_string(id > 1 ? id - 1 : 1) +
          ", \"text\": [\"오늘 모임 어디서 해? meeting at 7, call 010-5555-" + std::to_string(1000 + id % 9000) +
          " \", {\"type\": \"mention\", \"text\": \"@friend" + std::to_string(id % 50) +
          "\"}], \"text_entities\": [{\"type\": \"plain\", \"text\": \"오늘 모임 어디서 해?\"}]}";
    if (id > 1) out << ",\n";
    out << msg;
    written += msg.size() + 2;
    ++id;
  }
  out << "\n ]\n}\n";
}

std::size_t CountPhotos(const std::string& export_dir) {
  std::ifstream in(fs::path(export_dir) / "result.json");
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find("\"photo\"") != std::string::npos ? 1 : 0;
  return n;
}

// The scan's own summary line ("Scanned N messages and M files: ...").
std::string ScannedLine(const std::string& log) {
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Scanned ", 0) == 0) return line;
  }
  return "(no summary line: see " + log + ")";
}

void Print(const char* name, const RunStats& s, std::size_t photos) {
  std::printf(
      "%-28s exit %d  %6zu photos  wall %7.1f s  cpu %7.1f s  %7.1f photos/s wall  %7.1f photos/cpu-s  "
      "peak RSS %6.1f MB\n",
      name, s.exit_code, photos, s.wall, s.cpu, s.wall > 0 ? static_cast<double>(photos) / s.wall : 0,
      s.cpu > 0 ? static_cast<double>(photos) / s.cpu : 0, s.max_rss_mb);
}

}  // namespace

int main(int argc, char** argv) {
  std::string takeback, export_dir, signals, face_signals, work = "/tmp/scan_bench_work";
  std::uint64_t json_mb = 1024;
  std::size_t faces_limit = 0;
  std::string jobs = "2";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--takeback")
      takeback = value;
    else if (key == "--export")
      export_dir = value;
    else if (key == "--signals")
      signals = value;
    else if (key == "--faces-signals")
      face_signals = value;
    else if (key == "--faces-limit")
      faces_limit = std::stoul(value);
    else if (key == "--json-mb")
      json_mb = std::stoull(value);
    else if (key == "--work")
      work = value;
    else if (key == "--jobs")
      jobs = value;
    else {
      std::cerr << "scan_bench: unknown option " << key << "\n";
      return 2;
    }
  }
  if (takeback.empty() || signals.empty()) {
    std::cerr << "usage: scan_bench --takeback BIN --export DIR --signals CASE.json [--faces-signals F.json] "
                 "[--faces-limit N] [--json-mb MB] [--work DIR] [--jobs N]\n";
    return 2;
  }
  fs::create_directories(work);
  std::printf("scan_bench: %s, %ld online CPUs, jobs %s; load average before: %s\n", CpuModel().c_str(),
              ::sysconf(_SC_NPROCESSORS_ONLN), jobs.c_str(), LoadAverage().c_str());
  if (!export_dir.empty()) {
    const std::size_t photos = CountPhotos(export_dir);
    const RunStats hashes = Run({takeback, "scan", "--signals", signals, "--no-faces", "-q", "--no-images", "-j", jobs,
                                 "-o", work + "/out-hashes", export_dir},
                                work + "/hashes.log");
    Print("hashes only", hashes, photos);
    std::printf("  %s\n", ScannedLine(work + "/hashes.log").c_str());
    std::printf("  load average after: %s\n", LoadAverage().c_str());
    if (!face_signals.empty()) {
      std::string dir = export_dir;
      std::size_t n = photos;
      if (faces_limit > 0 && faces_limit < photos) {
        dir = SubExport(export_dir, work + "/sub-export", faces_limit, photos / faces_limit);
        n = CountPhotos(dir);
      }
      const RunStats faces = Run({takeback, "scan", "--signals", face_signals, "--faces", "-q", "--no-images", "-j",
                                  jobs, "-o", work + "/out-faces", dir},
                                 work + "/faces.log");
      Print("with faces", faces, n);
      std::printf("  %s\n", ScannedLine(work + "/faces.log").c_str());
      std::printf("  load average after: %s\n", LoadAverage().c_str());
    }
  }
  if (json_mb > 0) {
    const std::string big = work + "/big-export";
    fs::create_directories(big);
    const std::string path = big + "/result.json";
    WriteBigJson(path, json_mb);
    const auto size = fs::file_size(path);
    const RunStats parse = Run(
        {takeback, "scan", "--signals", signals, "--no-faces", "-q", "-o", work + "/out-big", big}, work + "/big.log");
    std::printf("%-28s exit %d  %.0f MB result.json  wall %7.1f s  cpu %7.1f s  %6.1f MB/s wall  peak RSS %6.1f MB\n",
                "1 GB result.json (parse)", parse.exit_code, static_cast<double>(size) / (1 << 20), parse.wall,
                parse.cpu, static_cast<double>(size) / (1 << 20) / parse.wall, parse.max_rss_mb);
    std::printf("  load average after: %s\n", LoadAverage().c_str());
    fs::remove(path);
  }
  return 0;
}
