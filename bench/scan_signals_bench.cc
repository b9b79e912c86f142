// scan_signals_bench (issue 6): how fast `takeback scan` reads a server's
// signals. Starts the real `takeback serve` on loopback with a fresh SQLite
// file, fills a bank with N random pdq signals (and F random face
// descriptors), then runs the real `takeback scan --server URL --bank B` and
// `takeback scan --db FILE --bank B` on a small folder, and prints signals
// read per second (wall and per CPU-second of the scan and of the server),
// the scan's peak memory, and the machine facts and load average (the cores
// are shared, so CPU time is the steadier figure).
//
//   scan_signals_bench --takeback BIN [--signals N] [--faces F] [--scan DIR] [--work DIR]
//
// Defaults: N = 100000, F = 1000, DIR = ../shared/testdata/telegram's export
// (4 media files: the run is dominated by reading and indexing the signals).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_support.h"
#include "server/http.h"

#ifndef TAKEBACK_TESTDATA_DIR
#define TAKEBACK_TESTDATA_DIR "../shared/testdata"
#endif

namespace {

using takeback::bench::CpuModel;
using takeback::bench::LoadAverage;

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct RunStats {
  int exit_code = -1;
  double wall = 0;
  double cpu = 0;
  double max_rss_mb = 0;
};

// Runs argv (with `env` added to the environment) as a child, output to `log`.
RunStats Run(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& log) {
  RunStats stats;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));  // NOLINT: the child's own copy
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

// User + system CPU seconds of a running process (/proc/PID/stat).
double ProcessCpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) {
      stime = std::strtod(field.c_str(), nullptr);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string Capture(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

pid_t g_server = -1;  // stopped by Die(), so that a failed run leaves no server behind

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "scan_signals_bench: " << message << "\n";
  if (g_server > 0) {
    ::kill(g_server, SIGTERM);
    ::waitpid(g_server, nullptr, 0);
  }
  std::exit(1);
}

Json Call(const std::string& url, const std::string& method, const std::string& path, const std::string& key,
          const Json& body, int want) {
  takeback::Result<takeback::server::HttpClientResponse> r = takeback::server::HttpCall(
      url, method, path, {{"Authorization", "Bearer " + key}}, body.is_null() ? "" : body.dump(), 600);
  if (!r.ok()) Die(method + " " + path + ": " + r.status().message());
  if (r->status != want)
    Die(method + " " + path + ": HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 300));
  return Json::parse(r->body, nullptr, false);
}

}  // namespace

int main(int argc, char** argv) {
  std::string bin;
  std::size_t n_pdq = 100'000;
  std::size_t n_faces = 1'000;
  std::string scan_dir = std::string(TAKEBACK_TESTDATA_DIR) + "/telegram/ChatExport_2024-08-21";
  std::string work;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const std::string v = argv[i + 1];
    if (a == "--takeback")
      bin = v;
    else if (a == "--signals")
      n_pdq = std::stoull(v);
    else if (a == "--faces")
      n_faces = std::stoull(v);
    else if (a == "--scan")
      scan_dir = v;
    else if (a == "--work")
      work = v;
    else
      Die("unknown option " + a);
  }
  if (bin.empty()) Die("usage: scan_signals_bench --takeback BIN [--signals N] [--faces F] [--scan DIR] [--work DIR]");
  bin = fs::absolute(bin).string();
  if (work.empty()) {
    std::string templ = (fs::temp_directory_path() / "scan_signals_bench_XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) Die("cannot make a work directory");
    work = templ;
  }
  fs::create_directories(work);
  const std::string db = work + "/bench.db";
  fs::remove(db);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::cout << std::unitbuf << "scan_signals_bench: " << CpuModel() << ", " << ::sysconf(_SC_NPROCESSORS_ONLN)
            << " hardware threads, load average " << LoadAverage() << "\n";

  std::string admin = Capture(bin + " serve --db " + db + " --init-admin 2>/dev/null");
  while (!admin.empty() && (admin.back() == '\n' || admin.back() == '\r')) admin.pop_back();
  if (admin.empty()) Die("takeback serve --init-admin printed no key");

  int out_pipe[2];
  if (::pipe(out_pipe) != 0) Die("pipe");
  const pid_t server = ::fork();
  if (server == 0) {
    ::dup2(out_pipe[1], 1);
    const int err = ::open((work + "/server.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err >= 0) ::dup2(err, 2);
    ::close(out_pipe[0]);
    std::vector<std::string> a = {bin, "serve", "--db", db, "--listen", "127.0.0.1:0"};
    std::vector<char*> args;
    for (std::string& s : a) args.push_back(s.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  g_server = server;
  std::string line;
  int port = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (port == 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char c;
    if (::read(out_pipe[0], &c, 1) != 1) break;
    if (c != '\n') {
      line += c;
      continue;
    }
    const std::string marker = "listening on http://127.0.0.1:";
    if (const std::size_t at = line.find(marker); at != std::string::npos)
      port = std::stoi(line.substr(at + marker.size()));
    line.clear();
  }
  if (port == 0) {
    Die("the server did not start (see " + work + "/server.log)");
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string investigator = Call(url, "POST", "/v1/keys", admin, {{"role", "investigator"}}, 201)["key"];
  const std::string caseworker = Call(url, "POST", "/v1/keys", admin, {{"role", "caseworker"}}, 201)["key"];
  const Json bank = Call(url, "POST", "/v1/banks", admin, {{"name", "bench"}, {"review_policy", "auto_approve"}}, 201);
  // The baseline: a bank of one signal, so that hashing the folder and
  // starting up can be told apart from reading the signals.
  const Json one = Call(url, "POST", "/v1/banks", admin, {{"name", "one"}, {"review_policy", "auto_approve"}}, 201);
  Call(url, "POST", "/v1/banks/" + std::to_string(one["id"].get<std::int64_t>()) + "/signals", caseworker,
       {{"signals", {{{"type", "pdq"}, {"hash", std::string(64, 'a')}, {"quality", 100}}}}}, 201);
  const std::string bank_path = "/v1/banks/" + std::to_string(bank["id"].get<std::int64_t>()) + "/signals";

  // Random signals, uploaded 10,000 per request (the server's limit).
  std::mt19937_64 rng(42);
  const auto fill_start = std::chrono::steady_clock::now();
  const std::size_t total = n_pdq + n_faces;
  for (std::size_t done = 0; done < total;) {
    Json list = Json::array();
    // Face descriptors are ~1.5 KB of JSON each: 2,000 per request stays under the 16 MiB body limit.
    const std::size_t end = done < n_pdq ? std::min(n_pdq, done + 10'000) : std::min(total, done + 2'000);
    for (; done < end; ++done) {
      if (done < n_pdq) {
        char hex[65];
        for (int w = 0; w < 4; ++w) std::snprintf(hex + 16 * w, 17, "%016llx", static_cast<unsigned long long>(rng()));
        list.push_back({{"type", "pdq"}, {"hash", std::string(hex, 64)}, {"quality", 100}});
      } else {
        std::normal_distribution<float> normal(0.0F, 0.09F);
        std::vector<float> d(128);
        for (float& x : d) x = normal(rng);
        list.push_back({{"type", "face"}, {"descriptor", d}});
      }
    }
    Call(url, "POST", bank_path, caseworker, {{"signals", list}}, 201);
  }
  const double fill = std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();
  std::printf(
      "bank filled: %zu pdq + %zu face signals in %.1f s (%.0f signals/s uploaded, 10,000 pdq or 2,000 faces per "
      "request)\n",
      n_pdq, n_faces, fill, static_cast<double>(total) / fill);

  RunStats base;
  for (const int mode : {0, 1, 2}) {  // baseline (one signal, --server), --server, --db
    const bool from_server = mode < 2;
    const double server_cpu0 = ProcessCpu(server);
    const std::string out = work + "/report-" + std::to_string(mode);
    std::vector<std::string> args = {bin, "scan", "--bank", mode == 0 ? "one" : "bench", "--no-faces", "-q", "-j",
                                     "2", "-o",   out};
    if (from_server) {
      args.insert(args.begin() + 2, {"--server", url});
    } else {
      args.insert(args.begin() + 2, {"--db", db});
    }
    args.push_back(scan_dir);
    const std::string load = LoadAverage();
    const RunStats s = Run(args, {"TAKEBACK_API_KEY=" + investigator}, out + ".log");
    const double server_cpu = ProcessCpu(server) - server_cpu0;
    if (s.exit_code != 0) Die("takeback scan exited with " + std::to_string(s.exit_code) + " (see " + out + ".log)");
    if (mode == 0) {
      base = s;
      std::printf(
          "baseline (a bank of one signal, --server): %.2f s wall, %.2f CPU-s, peak RSS %.0f MB: hashing the "
          "folder and start-up, subtracted below   load %s\n",
          s.wall, s.cpu, s.max_rss_mb, load.c_str());
      continue;
    }
    const double wall = std::max(1e-3, s.wall - base.wall);
    const double cpu = std::max(1e-3, s.cpu - base.cpu);
    std::printf(
        "%-8s %zu signals read and indexed in %6.2f s wall (%.0f signals/s), %6.2f CPU-s (%.0f signals per "
        "CPU-s), peak RSS %.0f MB",
        from_server ? "--server" : "--db", total, wall, static_cast<double>(total) / wall, cpu,
        static_cast<double>(total) / cpu, s.max_rss_mb);
    if (from_server) std::printf(", server %.2f CPU-s", server_cpu);
    std::printf("   load %s\n", load.c_str());
  }
  ::kill(server, SIGTERM);
  int status = 0;
  ::waitpid(server, &status, 0);
  std::error_code ec;
  fs::remove_all(work, ec);
  return 0;
}
