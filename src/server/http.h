// A small HTTP/1.1 server and client facade (issue 4). The implementation is
// Debian's cpp-httplib, fenced into http_server.cc and http_client.cc: no
// httplib type appears in any header, so it can be replaced (e.g. by an
// epoll server of our own) without touching the API code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace takeback::server {

struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // without the query string
  std::vector<std::pair<std::string, std::string>> query;    // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  std::string remote_addr;

  // Case-insensitive header lookup; nullopt when absent.
  std::optional<std::string> Header(std::string_view name) const;
  std::optional<std::string> Query(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// Produces the body of an error the server itself raises before the handler
// runs (413 body too large, 400 malformed request, 404 no route): (status) -> body.
using HttpErrorBody = std::function<std::string(int status)>;

struct HttpServerOptions {
  std::size_t max_body_bytes = 16 << 20;  // larger bodies get 413 before they are read
  int threads = 64;                       // one per open connection (keep-alive holds one)
  int read_timeout_seconds = 5;           // per read: slow or stalled clients are dropped
  int write_timeout_seconds = 5;
  int keep_alive_seconds = 5;
  std::size_t keep_alive_max_requests = 10000;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler, HttpErrorBody error_body);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0 picks a free one). Returns the bound port.
  Result<int> Bind(const std::string& host, int port);
  // Serves until Stop() is called (from any thread). kIoError on failure.
  Status Run();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A blocking client for the CLI: one request to `base_url`
// (http://host:port or https://host[:port], certificates verified).
struct HttpClientResponse {
  int status = 0;
  std::string body;
};
Result<HttpClientResponse> HttpCall(const std::string& base_url, const std::string& method, const std::string& path,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body, int timeout_seconds = 60);

}  // namespace takeback::server
