// Service benchmark helpers (issue 4), driven by bench/server_wrk.sh:
//
//   server_bench --make-db FILE --signals N [--seed S]
//       creates a database with N active random pdq signals in one
//       auto-approve bank, plus a platform key (printed on stdout)
//   server_bench --startup FILE --bin TAKEBACK
//       starts `takeback serve` on FILE twice: first with no index snapshot
//       (rebuilt from the database; the clean stop then saves one), then
//       from the snapshot; prints the time to "listening", the server's CPU
//       time and resident memory for each, with machine facts and load.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "store/secrets.h"
#include "store/store.h"

namespace {

using takeback::bench::CpuModel;
using takeback::bench::LoadAverage;

using takeback::store::NewSignal;

std::string Arg(int argc, char** argv, const std::string& name, const std::string& def = "") {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return def;
}

// utime + stime of a process in seconds, and its VmRSS in MiB.
std::pair<double, double> ProcessUsage(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(stat, s);
  const std::size_t close = s.rfind(')');
  std::istringstream rest(s.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; rest >> x;) f.push_back(x);
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double cpu = f.size() > 12 ? (std::stod(f[11]) + std::stod(f[12])) / ticks : 0;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  double rss = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) / 1024;
  }
  return {cpu, rss};
}

int MakeDb(const std::string& path, long long n, unsigned seed) {
  auto store = takeback::store::OpenSqliteStore(path);
  if (!store.ok()) {
    std::cerr << "server_bench: " << store.status().ToString() << "\n";
    return 1;
  }
  takeback::store::Bank bank;
  bank.name = "bench";
  bank.auto_approve = true;
  auto b = (*store)->CreateBank(bank, "bench");
  if (!b.ok()) {
    std::cerr << "server_bench: " << b.status().ToString() << "\n";
    return 1;
  }
  std::mt19937_64 rng(seed);
  takeback::store::SignalOwner owner;
  owner.bank_id = b->id;
  const auto t0 = std::chrono::steady_clock::now();
  const long long batch = 100000;
  for (long long done = 0; done < n; done += batch) {
    std::vector<NewSignal> signals;
    for (long long i = done; i < std::min(n, done + batch); ++i) {
      NewSignal s;
      s.type = "pdq";
      s.quality = 100;
      s.value.resize(32);
      for (int w = 0; w < 4; ++w) {
        const std::uint64_t v = rng();
        std::memcpy(s.value.data() + w * 8, &v, 8);
      }
      signals.push_back(std::move(s));
    }
    auto added = (*store)->AddSignals(owner, signals, takeback::store::SignalState::kActive, "bench");
    if (!added.ok()) {
      std::cerr << "server_bench: " << added.status().ToString() << "\n";
      return 1;
    }
  }
  const std::string key = takeback::store::GenerateApiKey();
  auto k = (*store)->CreateApiKey(takeback::store::Role::kPlatform, std::nullopt, "bench",
                                  takeback::store::HashApiKey(key), takeback::store::ApiKeyPrefix(key), "bench");
  if (!k.ok()) return 1;
  std::cerr << "server_bench: " << n << " pdq signals written in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  std::cout << key << "\n";
  return 0;
}

// Starts the server, returns seconds to its "listening" line (or -1).
double StartOnce(const std::string& bin, const std::string& db, const std::string& log) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    FILE* err = std::fopen(log.c_str(), "a");
    if (err != nullptr) dup2(fileno(err), 2);
    close(fds[0]);
    execl(bin.c_str(), bin.c_str(), "serve", "--db", db.c_str(), "--listen", "127.0.0.1:0", nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string line;
  char c;
  double seconds = -1;
  while (read(fds[0], &c, 1) == 1) {
    if (c == '\n') {
      if (line.find("listening on") != std::string::npos) {
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        break;
      }
      line.clear();
    } else {
      line += c;
    }
  }
  const auto [cpu, rss] = ProcessUsage(pid);
  std::printf("  listening after %7.2f s   server CPU %7.2f s   RSS %7.0f MiB   load %s\n", seconds, cpu, rss,
              LoadAverage().c_str());
  const auto s0 = std::chrono::steady_clock::now();
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  std::printf("  clean stop (saves the snapshot) %7.2f s, exit %d\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count(),
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return seconds;
}

int Startup(const std::string& db, const std::string& bin) {
  std::printf("server_bench startup: %s, %ld hardware threads, load average %s\n", CpuModel().c_str(),
              sysconf(_SC_NPROCESSORS_ONLN), LoadAverage().c_str());
  std::error_code ec;
  std::filesystem::remove(db + ".pdq-index", ec);
  std::filesystem::remove(db + ".pdq-index.seq", ec);
  std::printf("first start, no snapshot (index rebuilt from the database):\n");
  StartOnce(bin, db, db + ".bench.log");
  std::printf("second start, from the snapshot:\n");
  StartOnce(bin, db, db + ".bench.log");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress survives a timeout
  const std::string make = Arg(argc, argv, "--make-db");
  if (!make.empty()) {
    return MakeDb(make, std::atoll(Arg(argc, argv, "--signals", "1000000").c_str()),
                  static_cast<unsigned>(std::atoi(Arg(argc, argv, "--seed", "1").c_str())));
  }
  const std::string startup = Arg(argc, argv, "--startup");
  if (!startup.empty()) return Startup(startup, Arg(argc, argv, "--bin"));
  std::cerr << "usage: server_bench --make-db FILE --signals N | --startup FILE --bin TAKEBACK\n";
  return 2;
}
