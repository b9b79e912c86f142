#include "cli/register_client.h"

#include <cstdlib>
#include <istream>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http.h"

namespace takeback::cli {
namespace {

using Json = nlohmann::json;

// The server's {"error":{"message":...}}, or the raw status.
std::string ServerError(const server::HttpClientResponse& r) {
  const Json j = Json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
      j["error"]["message"].is_string()) {
    return j["error"]["message"].get<std::string>() + " (HTTP " + std::to_string(r.status) + ")";
  }
  return "HTTP " + std::to_string(r.status);
}

}  // namespace

int SendSignalSetToServer(const signals::SignalSet& set, const RegisterServerOptions& options, const CommandIo& io) {
  Json signals_json = Json::array();
  for (const signals::Signal& s : set.signals) {
    Json j = Json::parse(signals::FormatSignalJson(s), nullptr, false);
    if (j.is_discarded()) {
      io.err << "takeback register: internal error: a signal did not format as JSON\n";
      return kExitSomeFailed;
    }
    signals_json.push_back(std::move(j));
  }
  const bool extend = !options.case_number.empty();
  std::string pin = options.pin;
  if (extend && pin.empty()) {
    if (const char* env = std::getenv("TAKEBACK_CASE_PIN"); env != nullptr) pin = env;
  }
  if (extend && pin.empty()) {
    io.err << "PIN for case " << options.case_number << ": ";
    std::getline(io.in, pin);
  }
  if (extend && pin.empty()) {
    io.err << "takeback register: adding to a case needs its PIN ($TAKEBACK_CASE_PIN or stdin)\n";
    return kExitUsage;
  }
  Json body = {{"signals", signals_json}};
  if (!extend) body["watch_terms"] = set.watch_terms;
  std::vector<std::pair<std::string, std::string>> headers;
  if (extend) headers.emplace_back("X-Case-Pin", pin);
  const std::string path = extend ? "/v1/cases/" + options.case_number + "/signals" : "/v1/cases";
  Result<server::HttpClientResponse> r = server::HttpCall(options.server, "POST", path, headers, body.dump());
  if (!r.ok()) {
    io.err << "takeback register: " << r.status().message() << "\n";
    return kExitSomeFailed;
  }
  if (r->status != 201) {
    io.err << "takeback register: the server refused the signals: " << ServerError(*r) << "\n";
    return kExitSomeFailed;
  }
  const Json reply = Json::parse(r->body, nullptr, false);
  if (!reply.is_object()) {
    io.err << "takeback register: the server's reply is not JSON\n";
    return kExitSomeFailed;
  }
  const std::size_t sent =
      reply.contains("signal_ids") && reply["signal_ids"].is_array() ? reply["signal_ids"].size() : 0;
  if (extend) {
    io.out << "case number: " << options.case_number << "\n";
    io.err << "takeback register: added " << sent << " signals to case " << options.case_number
           << "; they act once a caseworker has reviewed them\n";
    return kExitOk;
  }
  const std::string number = reply.value("case_number", "");
  const std::string new_pin = reply.value("pin", "");
  io.out << "case number: " << number << "\n"
         << "PIN:         " << new_pin << "\n";
  io.out.flush();
  io.err << "takeback register: opened case " << number << " with " << sent << " signals and " << set.watch_terms.size()
         << " watch terms on " << options.server << ".\n"
         << "takeback register: write the case number and PIN down now: the PIN is shown only this once and cannot "
            "be recovered. You need both to see your case, add images or withdraw.\n";
  return kExitOk;
}

}  // namespace takeback::cli
