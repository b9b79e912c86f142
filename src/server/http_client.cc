// The CLI's side of HTTP, on cpp-httplib (fenced here and in http_server.cc).
#include <optional>

#include <httplib.h>

#include "server/http.h"

namespace takeback::server {

Result<HttpClientResponse> HttpCall(const std::string& base_url, const std::string& method, const std::string& path,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body, int timeout_seconds) {
  const bool tls = base_url.rfind("https://", 0) == 0;
  if (!tls && base_url.rfind("http://", 0) != 0) {
    return InvalidArgument("server URL must start with http:// or https:// (got '" + base_url + "')");
  }
  std::string host_port = base_url.substr(tls ? 8 : 7);
  while (!host_port.empty() && host_port.back() == '/') host_port.pop_back();
  if (host_port.empty() || host_port.find('/') != std::string::npos) {
    return InvalidArgument("server URL must be http(s)://HOST[:PORT] (got '" + base_url + "')");
  }
  httplib::Client client((tls ? "https://" : "http://") + host_port);
  client.set_connection_timeout(timeout_seconds, 0);
  client.set_read_timeout(timeout_seconds, 0);
  client.set_write_timeout(timeout_seconds, 0);
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  auto call = [&]() -> std::optional<httplib::Result> {
    if (method == "GET") return client.Get(path, h);
    if (method == "POST") return client.Post(path, h, body, "application/json");
    if (method == "DELETE") return client.Delete(path, h, body, "application/json");
    return std::nullopt;
  };
  std::optional<httplib::Result> result = call();
  if (!result) return InvalidArgument("unsupported method " + method);
  httplib::Result& r = *result;
  if (!r) return IoError("cannot reach " + base_url + ": " + httplib::to_string(r.error()));
  return HttpClientResponse{r->status, r->body};
}

}  // namespace takeback::server
