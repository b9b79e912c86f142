// The HTTP API of `takeback serve` (issue 4; docs/api/openapi.yaml): routing,
// authentication (API keys by role; case number + PIN for victims), rate
// limits, JSON bodies and errors, and Prometheus metrics.
//
// Every error is a JSON body {"error":{"code":"...","message":"..."}} with a
// 4xx/5xx status; no input makes Handle() crash, throw or hang.
// Thread-safe: Handle() is called from many server threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cases/service.h"
#include "server/http.h"
#include "store/store.h"

namespace takeback::server {

struct ApiOptions {
  std::size_t max_batch = 1000;            // items per POST /v1/match
  std::size_t max_signals = 10000;         // signals per registration or report
  double victim_requests_per_minute = 30;  // per client address, for the PIN-protected endpoints
  int victim_burst = 30;
};

// Parses the items of a POST /v1/match body (one signal object, or
// {"signals":[...]} of up to max_items). kInvalidArgument / kTooLarge with a
// message naming the offending item and field.
// The common form (pdq signals with hash and quality only) takes a fast path
// that gives the same result as ParseMatchBodyGeneral, which takes the rest.
Result<std::vector<cases::Query>> ParseMatchBody(std::string_view body, std::size_t max_items);
// ParseMatchBody through the general JSON parser only (the reference the
// fast path is tested against).
Result<std::vector<cases::Query>> ParseMatchBodyGeneral(std::string_view body, std::size_t max_items);
// Parses {"signals":[...]} into signals to store (signal-format.md).
Result<std::vector<store::NewSignal>> ParseSignalsBody(std::string_view body, std::size_t max_items);
// The JSON error body.
std::string ErrorBody(std::string_view code, std::string_view message);
// The error body for a status the HTTP server raises itself.
std::string ErrorBodyForStatus(int status);

class Api {
 public:
  Api(cases::Service* service, ApiOptions options);
  ~Api();
  HttpResponse Handle(const HttpRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace takeback::server
