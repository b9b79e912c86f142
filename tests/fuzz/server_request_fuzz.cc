// libFuzzer target: untrusted HTTP requests -> the service API (issue 4).
//
// Input: one byte picking the caller's role (admin, caseworker, platform,
// investigator, flagger, or no key), then "METHOD PATH\n", then the body.
// The request goes through server::Api::Handle, the same routing, auth,
// JSON parsing and store code `takeback serve` runs, against a real SQLite
// file in a temporary directory. Whatever the bytes, the API must answer
// with a status and a JSON error body for 4xx/5xx, never crash or hang.
// The body is also fed to the match and signal parsers directly.
//
// Built as a libFuzzer binary (-DTAKEBACK_FUZZ=ON) and, in every other
// build, as a replay program over tests/fuzz/server_seeds (replay_main.cc).
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "cases/service.h"
#include "server/api.h"
#include "store/store.h"

namespace {

struct World {
  std::filesystem::path dir;
  std::unique_ptr<takeback::cases::Service> service;
  std::unique_ptr<takeback::server::Api> api;
  std::array<std::string, 5> keys;
};

World* MakeWorld() {
  auto* w = new World();
  w->dir = std::filesystem::temp_directory_path() / ("takeback_fuzz_" + std::to_string(::getpid()));
  std::filesystem::create_directories(w->dir);
  auto store = takeback::store::OpenSqliteStore((w->dir / "fuzz.db").string());
  if (!store.ok()) {
    std::fprintf(stderr, "server_request_fuzz: %s\n", store.status().ToString().c_str());
    std::abort();
  }
  w->service = std::make_unique<takeback::cases::Service>(std::move(*store), takeback::cases::ServiceOptions{});
  if (!w->service->Start().ok()) std::abort();
  takeback::server::ApiOptions options;
  options.victim_requests_per_minute = 1e9;
  options.victim_burst = 1000000;
  w->api = std::make_unique<takeback::server::Api>(w->service.get(), options);
  const takeback::store::Role roles[] = {takeback::store::Role::kAdmin, takeback::store::Role::kCaseworker,
                                         takeback::store::Role::kPlatform, takeback::store::Role::kInvestigator,
                                         takeback::store::Role::kFlagger};
  for (int i = 0; i < 5; ++i) {
    auto key = w->service->CreateKey(roles[i], std::nullopt, "fuzz", "fuzz");
    if (!key.ok()) std::abort();
    w->keys[static_cast<std::size_t>(i)] = key->second;
  }
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(
        std::filesystem::temp_directory_path() / ("takeback_fuzz_" + std::to_string(::getpid())), ec);
  });
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = MakeWorld();
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t eol = input.find('\n');
  const std::string_view line = input.substr(0, eol);
  const std::string_view body = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);
  const std::size_t space = line.find(' ');

  takeback::server::HttpRequest req;
  req.method = std::string(line.substr(0, space));
  req.path = space == std::string_view::npos ? "/" : std::string(line.substr(space + 1));
  req.body = std::string(body);
  req.remote_addr = "127.0.0.1";
  const int role = data[0] % 7;
  if (role < 5) req.headers.emplace_back("Authorization", "Bearer " + world->keys[static_cast<std::size_t>(role)]);
  if (role == 6) req.headers.emplace_back("X-Case-Pin", "0123456789");
  const auto q = req.path.find('?');
  if (q != std::string::npos) {
    // The HTTP layer splits the query; do the same, crudely.
    const std::string query = req.path.substr(q + 1);
    req.path.resize(q);
    std::size_t start = 0;
    while (start <= query.size()) {
      const std::size_t amp = query.find('&', start);
      const std::string kv = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      const std::size_t eq = kv.find('=');
      req.query.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }

  const takeback::server::HttpResponse r = world->api->Handle(req);
  if (r.status < 100 || r.status > 599) std::abort();
  if (r.status >= 400 && r.body.find("{\"error\":{\"code\":") != 0) {
    std::fprintf(stderr, "server_request_fuzz: %d without a JSON error body: %s\n", r.status, r.body.c_str());
    std::abort();
  }
  {
    // The match body's fast path must agree with the general parser.
    const auto fast = takeback::server::ParseMatchBody(body, 1000);
    const auto general = takeback::server::ParseMatchBodyGeneral(body, 1000);
    bool same = fast.ok() == general.ok();
    if (same && fast.ok()) {
      same = fast->size() == general->size();
      for (std::size_t i = 0; same && i < fast->size(); ++i) {
        const auto& a = (*fast)[i];
        const auto& b = (*general)[i];
        same = a.type == b.type && a.pdq == b.pdq && a.quality == b.quality && a.dihedral == b.dihedral &&
               a.digest == b.digest;
      }
    } else if (same) {
      same = fast.status().code() == general.status().code() && fast.status().message() == general.status().message();
    }
    if (!same) {
      std::fprintf(stderr, "server_request_fuzz: ParseMatchBody's fast path disagrees with the general parser\n");
      std::abort();
    }
  }
  (void)takeback::server::ParseSignalsBody(body, 1000);
  return 0;
}
