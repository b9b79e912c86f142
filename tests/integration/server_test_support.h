// Support for the service integration tests (issue 4): a real `takeback
// serve` process on loopback with a temporary SQLite file, a raw-socket HTTP
// client (independent of the server's HTTP library, so malformed requests can
// be sent too), and an OpenAPI response checker over docs/api/openapi.yaml.
#ifndef TAKEBACK_TESTS_INTEGRATION_SERVER_TEST_SUPPORT_H_
#define TAKEBACK_TESTS_INTEGRATION_SERVER_TEST_SUPPORT_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace takeback::testing {

using Json = nlohmann::json;

struct HttpResult {
  int status = 0;                              // 0: no response (connection failed or closed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  Json json() const { return Json::parse(body, nullptr, false); }
};

// Sends `raw` bytes to 127.0.0.1:port and reads one response (the request
// should say Connection: close). Gives up after `timeout_ms`.
inline HttpResult RawHttp(int port, const std::string& raw, int timeout_ms = 10000) {
  HttpResult out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return out;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  std::size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) before reading everything
    sent += static_cast<std::size_t>(n);
  }
  std::string data;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    // Stop at a complete response (Content-Length known).
    const std::size_t end = data.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string head = data.substr(0, end);
      for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::size_t cl = head.find("content-length:");
      if (cl != std::string::npos && data.size() >= end + 4 + std::stoul(head.substr(cl + 15))) break;
    }
  }
  ::close(fd);
  const std::size_t end = data.find("\r\n\r\n");
  if (data.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return out;
  out.status = std::stoi(data.substr(9, 3));
  std::size_t pos = data.find("\r\n") + 2;
  while (pos < end) {
    const std::size_t eol = data.find("\r\n", pos);
    const std::string line = data.substr(pos, eol - pos);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      out.headers[name] = value;
    }
    pos = eol + 2;
  }
  out.body = data.substr(end + 4);
  return out;
}

inline HttpResult Http(int port, const std::string& method, const std::string& path, const std::string& body = "",
                       const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  std::string raw = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) raw += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  raw += "\r\n" + body;
  return RawHttp(port, raw);
}

// A `takeback serve` child process.
class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess() { Kill(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the server and waits for its "listening on" line. False (with
  // the reason in error()) when it did not come up within 60 s.
  bool Start(const std::string& bin, const std::vector<std::string>& args, const std::filesystem::path& log) {
    int out_pipe[2];
    if (::pipe(out_pipe) != 0) return false;
    log_ = log;
    pid_ = ::fork();
    if (pid_ == 0) {
      // A test that crashes must not leave servers behind.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(out_pipe[1], 1);
      const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (err >= 0) ::dup2(err, 2);
      ::close(out_pipe[0]);
      std::vector<std::string> argv_s = {bin, "serve"};
      argv_s.insert(argv_s.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    out_fd_ = out_pipe[0];
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char c;
      if (::read(out_fd_, &c, 1) != 1) break;
      if (c != '\n') {
        line += c;
        continue;
      }
      const std::string marker = "listening on http://127.0.0.1:";
      const std::size_t at = line.find(marker);
      if (at != std::string::npos) {
        port_ = std::stoi(line.substr(at + marker.size()));
        return true;
      }
      line.clear();
    }
    error_ = "server did not start; its log:\n" + ReadLog();
    Kill();
    return false;
  }

  // SIGTERM and wait; returns the exit status (-1 when killed by a signal).
  int Stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    return Wait();
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    Wait();
  }
  bool Alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  int port() const { return port_; }
  const std::string& error() const { return error_; }
  std::string ReadLog() const {
    std::FILE* f = std::fopen(log_.c_str(), "rb");
    if (f == nullptr) return "";
    std::string s;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
    std::fclose(f);
    return s;
  }

 private:
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  std::filesystem::path log_;
  std::string error_;
};

// ---- OpenAPI response checking (the subset of JSON Schema the spec uses:
// type, nullable, properties, required, items, enum, $ref, minimum,
// additionalProperties: false, oneOf) ----

inline Json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Json j = Json::object();
      for (const auto& kv : node) j[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      Json j = Json::array();
      for (const auto& v : node) j.push_back(YamlToJson(v));
      return j;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      char* end = nullptr;
      const long long i = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && *end == '\0') return i;
      const double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && *end == '\0') return d;
      return s;
    }
    default:
      return nullptr;
  }
}

class OpenApi {
 public:
  explicit OpenApi(const std::string& path) : spec_(YamlToJson(YAML::LoadFile(path))) {}
  const Json& spec() const { return spec_; }

  // The path template of the spec that `path` matches ("" when none).
  std::string Template(const std::string& path) const {
    for (auto it = spec_["paths"].begin(); it != spec_["paths"].end(); ++it) {
      if (SegmentsMatch(it.key(), path)) return it.key();
    }
    return "";
  }

  // "" when the response conforms; otherwise what does not.
  std::string Check(const std::string& method, const std::string& path, const HttpResult& r) const {
    const std::string tmpl = Template(path);
    // Unknown paths and methods: a JSON error (checked by the caller) is all.
    if (tmpl.empty()) return r.status == 404 ? "" : "path " + path + " is not in the spec";
    std::string m = method;
    for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const Json& op = spec_["paths"][tmpl];
    if (!op.contains(m)) return r.status == 405 ? "" : method + " " + tmpl + " is not in the spec";
    const Json& responses = op[m]["responses"];
    const std::string code = std::to_string(r.status);
    const Json* resp = nullptr;
    if (responses.contains(code)) {
      resp = &responses[code];
    } else if (r.status >= 400 && responses.contains("default")) {
      resp = &responses["default"];
    } else {
      return method + " " + tmpl + ": status " + code + " is not documented";
    }
    const Json& resolved = Resolve(*resp);
    if (!resolved.contains("content")) return r.body.empty() ? "" : "undocumented body";
    const Json& content = resolved["content"];
    if (content.contains("application/json")) {
      const Json body = r.json();
      if (body.is_discarded()) return "body is not JSON: " + r.body.substr(0, 200);
      return Validate(content["application/json"]["schema"], body, "$");
    }
    return "";
  }

 private:
  static bool SegmentsMatch(const std::string& tmpl, const std::string& path) {
    auto split = [](const std::string& s) {
      std::vector<std::string> out;
      std::string cur;
      for (char c : s) {
        if (c == '/') {
          if (!cur.empty()) out.push_back(cur);
          cur.clear();
        } else {
          cur += c;
        }
      }
      if (!cur.empty()) out.push_back(cur);
      return out;
    };
    const auto a = split(tmpl);
    const auto b = split(path.substr(0, path.find('?')));
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i].front() == '{') {
        // A literal segment elsewhere in the spec wins ("/v1/signals/delta").
        continue;
      }
      if (a[i] != b[i]) return false;
    }
    return true;
  }

  const Json& Resolve(const Json& node) const {
    if (!node.is_object() || !node.contains("$ref")) return node;
    const std::string ref = node["$ref"].get<std::string>();  // "#/components/schemas/X"
    const Json* cur = &spec_;
    std::size_t pos = 2;
    while (pos < ref.size()) {
      const std::size_t next = ref.find('/', pos);
      const std::string key = ref.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
      cur = &(*cur)[key];
      if (next == std::string::npos) break;
      pos = next + 1;
    }
    return Resolve(*cur);
  }

  std::string Validate(const Json& schema_in, const Json& v, const std::string& at) const {
    const Json& s = Resolve(schema_in);
    if (s.contains("oneOf")) {
      for (const Json& alt : s["oneOf"]) {
        if (Validate(alt, v, at).empty()) return "";
      }
      return at + ": matches none of oneOf";
    }
    if (v.is_null() && s.value("nullable", false)) return "";
    if (s.contains("type")) {
      const std::string t = s["type"].get<std::string>();
      const bool ok = (t == "object" && v.is_object()) || (t == "array" && v.is_array()) ||
                      (t == "string" && v.is_string()) || (t == "integer" && v.is_number_integer()) ||
                      (t == "number" && v.is_number()) || (t == "boolean" && v.is_boolean());
      if (!ok) return at + ": expected " + t + ", got " + v.dump().substr(0, 80);
    }
    if (s.contains("enum")) {
      bool found = false;
      for (const Json& e : s["enum"]) found |= e == v;
      if (!found) return at + ": " + v.dump() + " not in enum";
    }
    if (s.contains("minimum") && v.is_number() && v.get<double>() < s["minimum"].get<double>()) {
      return at + ": below minimum";
    }
    if (v.is_object()) {
      if (s.contains("required")) {
        for (const Json& r : s["required"]) {
          if (!v.contains(r.get<std::string>())) return at + ": missing required \"" + r.get<std::string>() + "\"";
        }
      }
      const bool closed = s.contains("additionalProperties") && s["additionalProperties"] == false;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (s.contains("properties") && s["properties"].contains(it.key())) {
          std::string e = Validate(s["properties"][it.key()], it.value(), at + "." + it.key());
          if (!e.empty()) return e;
        } else if (closed) {
          return at + ": undocumented property \"" + it.key() + "\"";
        }
      }
    }
    if (v.is_array() && s.contains("items")) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        std::string e = Validate(s["items"], v[i], at + "[" + std::to_string(i) + "]");
        if (!e.empty()) return e;
      }
    }
    return "";
  }

  Json spec_;
};

}  // namespace takeback::testing

#endif  // TAKEBACK_TESTS_INTEGRATION_SERVER_TEST_SUPPORT_H_
