#include "cli/serve_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <ostream>
#include <thread>

#include "cases/service.h"
#include "cli/args.h"
#include "server/api.h"
#include "server/http.h"
#include "store/store.h"

namespace takeback::cli {
namespace {

constexpr std::string_view kHelp = R"(Usage: takeback serve --db FILE [OPTION]...

Run the Takeback service: the case store (one SQLite file) and the HTTP API
for victims, platforms, flaggers, caseworkers and admins (JSON over HTTP/1.1
under /v1; described in docs/api/openapi.yaml). Victims open cases with a
case number and PIN and never send images, only hashes; platforms match
uploads and mirror the banks; every signal acts only after review.

First start: create an admin key (printed once; keep it secret), then serve:
  takeback serve --db takeback.db --init-admin
  takeback serve --db takeback.db --listen 127.0.0.1:8080
The admin key then creates the other keys (POST /v1/keys with a role:
caseworker, platform, investigator or flagger).

Options:
      --db FILE            the database (created on first use; WAL mode, so
                           FILE-wal and FILE-shm appear beside it)
      --listen HOST:PORT   address to serve on (default 127.0.0.1:8080; port 0
                           picks a free one). Serve on loopback and put a TLS
                           proxy in front for anything else.
      --init-admin         create an admin API key, print it and exit
      --label TEXT         with --init-admin: a label for the key
      --index FILE         where the PDQ index snapshot is kept, so a restart
                           with millions of signals takes seconds (default
                           FILE.pdq-index beside the database; "none": rebuild
                           from the database at every start)
      --threads N          HTTP worker threads; each open keep-alive connection
                           holds one (default 64)
      --max-body SIZE      largest request body, e.g. 16M (default 16M; larger
                           requests get 413)
      --victim-rate N      requests per minute per address on the victim
                           endpoints (case creation and PIN checks; default 30)
  -h, --help               show this help

Security: API keys are stored as SHA-256, PINs with Argon2id; five wrong PINs
lock a case for 15 minutes. Every read and write of signals and cases is in
the audit log (GET /v1/audit).

Stops cleanly on SIGTERM or SIGINT (Ctrl-C), saving the index snapshot.
Exit status: 0 clean shutdown, 1 the database or address could not be used,
2 bad command line.
)";

constexpr OptionSpec kSpecs[] = {
    {"db", '\0', true},       {"listen", '\0', true},      {"init-admin", '\0', false},
    {"label", '\0', true},    {"index", '\0', true},       {"threads", '\0', true},
    {"max-body", '\0', true}, {"victim-rate", '\0', true}, {"help", 'h', false},
};

int g_stop_pipe[2] = {-1, -1};

extern "C" void OnStopSignal(int) {
  const char stop = 's';
  (void)!::write(g_stop_pipe[1], &stop, 1);  // async-signal-safe
}

int Usage(const CommandIo& io, const std::string& message) {
  io.err << "takeback serve: " << message << "\nTry 'takeback serve --help' for more information.\n";
  return kExitUsage;
}

}  // namespace

std::string_view ServeCommandHelp() { return kHelp; }

int RunServeCommand(std::span<const std::string> args, const CommandIo& io) {
  Result<ParsedArgs> parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) return Usage(io, parsed.status().message());
  if (parsed->Has("help")) {
    io.out << kHelp;
    return kExitOk;
  }
  if (!parsed->positionals.empty()) return Usage(io, "unexpected argument '" + parsed->positionals[0] + "'");
  const std::optional<std::string> db = parsed->Value("db");
  if (!db || db->empty()) return Usage(io, "--db FILE is required");

  std::string host = "127.0.0.1";
  int port = 8080;
  if (auto listen = parsed->Value("listen")) {
    const std::size_t colon = listen->rfind(':');
    std::optional<std::uint64_t> p = colon == std::string::npos ? std::nullopt : ParseUint(listen->substr(colon + 1));
    if (!p || *p > 65535 || colon == 0) return Usage(io, "--listen wants HOST:PORT, e.g. 127.0.0.1:8080");
    host = listen->substr(0, colon);
    port = static_cast<int>(*p);
  }
  server::HttpServerOptions http;
  if (auto t = parsed->Value("threads")) {
    std::optional<std::uint64_t> n = ParseUint(*t);
    if (!n || *n < 2 || *n > 4096) return Usage(io, "--threads wants a number 2..4096");
    http.threads = static_cast<int>(*n);
  }
  if (auto m = parsed->Value("max-body")) {
    std::optional<std::uint64_t> n = ParseByteSize(*m);
    if (!n || *n < 1024 || *n > (std::uint64_t{1} << 30)) return Usage(io, "--max-body wants a size 1K..1G");
    http.max_body_bytes = *n;
  }
  server::ApiOptions api_options;
  if (auto r = parsed->Value("victim-rate")) {
    std::optional<std::uint64_t> n = ParseUint(*r);
    if (!n || *n < 1 || *n > 100000) return Usage(io, "--victim-rate wants a number 1..100000");
    api_options.victim_requests_per_minute = static_cast<double>(*n);
    api_options.victim_burst = static_cast<int>(std::min<std::uint64_t>(*n, 1000));
  }
  cases::ServiceOptions service_options;
  service_options.index_path = parsed->Value("index").value_or(*db + ".pdq-index");
  if (service_options.index_path == "none") service_options.index_path.clear();

  // Stop signals: a handler writes to a pipe and a waiter thread stops the
  // server. (sigwait would need the signals blocked in every thread, but
  // libraries start threads of their own before main(), e.g. OpenBLAS.)
  if (::pipe(g_stop_pipe) != 0) {
    io.err << "takeback serve: cannot create a pipe\n";
    return kExitSomeFailed;
  }
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Result<std::unique_ptr<store::Store>> store = store::OpenSqliteStore(*db);
  if (!store.ok()) {
    io.err << "takeback serve: " << store.status().message() << "\n";
    return kExitSomeFailed;
  }
  cases::Service service(std::move(*store), service_options);

  if (parsed->Has("init-admin")) {
    auto key = service.CreateKey(store::Role::kAdmin, std::nullopt, parsed->Value("label").value_or("initial admin"),
                                 "cli:init-admin");
    if (!key.ok()) {
      io.err << "takeback serve: " << key.status().message() << "\n";
      return kExitSomeFailed;
    }
    io.out << key->second << "\n";
    io.out.flush();
    io.err << "takeback serve: created admin key " << key->first.id << " (" << key->first.prefix
           << "...). It is shown only this once: store it in a secret manager.\n";
    return kExitOk;
  }

  Result<cases::StartReport> started = service.Start();
  if (!started.ok()) {
    io.err << "takeback serve: cannot load the signals: " << started.status().message() << "\n";
    return kExitSomeFailed;
  }

  server::Api api(&service, api_options);
  server::HttpServer http_server(
      http, [&api](const server::HttpRequest& r) { return api.Handle(r); }, server::ErrorBodyForStatus);
  Result<int> bound = http_server.Bind(host, port);
  if (!bound.ok()) {
    io.err << "takeback serve: " << bound.status().message() << "\n";
    return kExitSomeFailed;
  }

  // A stop that lands before Run() has started serving would be lost (the
  // library ignores stop() then), so the waiter repeats it until Run returns.
  std::atomic<bool> run_returned{false};
  std::thread waiter([&] {
    char c = 0;
    while (::read(g_stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    while (c == 's' && !run_returned.load()) {
      http_server.Stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  // After a rebuild or replay, save a snapshot in the background so that the
  // next start is fast; requests are served meanwhile (it runs at idle priority).
  std::thread snapshotter;
  Status first_snapshot = Status::Ok();  // reported after the join (streams are not shared across threads)
  if (!started->from_snapshot || started->changes_replayed > 0) {
    snapshotter = std::thread([&service, &first_snapshot] {
      first_snapshot = service.SaveSnapshot(cases::Service::SnapshotPriority::kIdle);
    });
  }

  const cases::MatchIndex::Sizes sizes = service.index().sizes();
  io.out << "takeback serve: listening on http://" << host << ":" << *bound << "\n";
  io.out.flush();
  io.err << "takeback serve: " << sizes.pdq << " pdq, " << sizes.md5 + sizes.sha256 << " digest, " << sizes.vpdq_signals
         << " vpdq and " << sizes.face << " face signals active; loaded in " << started->seconds << " s ("
         << (started->from_snapshot ? "snapshot + " + std::to_string(started->changes_replayed) + " changes"
                                    : std::string("rebuilt from the database"))
         << ")\n";

  Status run = http_server.Run();
  run_returned = true;
  const char quit = 'q';  // wakes the waiter when the server stopped by itself
  (void)!::write(g_stop_pipe[1], &quit, 1);
  waiter.join();
  if (snapshotter.joinable()) snapshotter.join();
  if (!first_snapshot.ok()) {
    io.err << "takeback serve: warning: index snapshot not saved at start: " << first_snapshot.message() << "\n";
  }
  if (!run.ok()) {
    io.err << "takeback serve: " << run.message() << "\n";
    return kExitSomeFailed;
  }
  io.err << "takeback serve: stopping; saving the index snapshot\n";
  Status saved = service.SaveSnapshot();
  if (!saved.ok()) io.err << "takeback serve: warning: index snapshot not saved: " << saved.message() << "\n";
  io.err << "takeback serve: stopped\n";
  return kExitOk;
}

}  // namespace takeback::cli
