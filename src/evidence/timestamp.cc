#include "evidence/timestamp.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "evidence/entry.h"
#include "evidence/io.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX leaves it undeclared

namespace takeback::evidence {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using TsReq = std::unique_ptr<TS_REQ, Deleter<TS_REQ, TS_REQ_free>>;
using TsResp = std::unique_ptr<TS_RESP, Deleter<TS_RESP, TS_RESP_free>>;
using TsImprint = std::unique_ptr<TS_MSG_IMPRINT, Deleter<TS_MSG_IMPRINT, TS_MSG_IMPRINT_free>>;
using Algor = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR, X509_ALGOR_free>>;
using Asn1Int = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using VerifyCtx = std::unique_ptr<TS_VERIFY_CTX, Deleter<TS_VERIFY_CTX, TS_VERIFY_CTX_free>>;

std::string OpenSslError() {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {  // NOLINT(google-runtime-int)
    char buf[256] = {};
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

}  // namespace

Result<std::vector<std::uint8_t>> MakeTimestampRequest(const Hash& digest) {
  TsReq req(TS_REQ_new());
  TsImprint imprint(TS_MSG_IMPRINT_new());
  Algor algo(X509_ALGOR_new());
  if (!req || !imprint || !algo) return Internal("out of memory");
  X509_ALGOR_set0(algo.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr);
  std::array<std::uint8_t, 8> nonce_bytes{};
  if (RAND_bytes(nonce_bytes.data(), static_cast<int>(nonce_bytes.size())) != 1) return Internal(OpenSslError());
  nonce_bytes[0] &= 0x7F;  // positive
  Asn1Int nonce(ASN1_INTEGER_new());
  std::uint64_t n = 0;
  for (const std::uint8_t b : nonce_bytes) n = (n << 8) | b;
  const bool ok = TS_REQ_set_version(req.get(), 1) == 1 && TS_MSG_IMPRINT_set_algo(imprint.get(), algo.get()) == 1 &&
                  TS_MSG_IMPRINT_set_msg(imprint.get(), const_cast<std::uint8_t*>(digest.data()),
                                         static_cast<int>(digest.size())) == 1 &&
                  TS_REQ_set_msg_imprint(req.get(), imprint.get()) == 1 && nonce &&
                  ASN1_INTEGER_set_uint64(nonce.get(), n) == 1 && TS_REQ_set_nonce(req.get(), nonce.get()) == 1 &&
                  TS_REQ_set_cert_req(req.get(), 1) == 1;
  if (!ok) return Internal("cannot build a timestamp request: " + OpenSslError());
  unsigned char* der = nullptr;
  const int len = i2d_TS_REQ(req.get(), &der);
  if (len <= 0) return Internal("cannot encode a timestamp request: " + OpenSslError());
  std::vector<std::uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<std::vector<std::uint8_t>> RequestTimestamp(const std::string& command, const Hash& digest) {
  Result<std::vector<std::uint8_t>> request = MakeTimestampRequest(digest);
  if (!request.ok()) return request;
  std::string dir_template = (std::filesystem::temp_directory_path() / "takeback-tsa-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) return internal::ErrnoError("cannot create", dir_template, errno);
  const std::string req_path = dir_template + "/request.tsq";
  const std::string resp_path = dir_template + "/response.tsr";
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir_template};
  TAKEBACK_RETURN_IF_ERROR(internal::WriteFileDurable(
      req_path, std::string_view(reinterpret_cast<const char*>(request->data()), request->size()), 0600, false));
  std::vector<std::string> env_strings = {"TAKEBACK_TSA_REQUEST=" + req_path, "TAKEBACK_TSA_RESPONSE=" + resp_path};
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "TAKEBACK_TSA_", 13) != 0) envp.push_back(*e);
  }
  envp.push_back(nullptr);
  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::string cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = 0;
  if (const int rc = ::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, envp.data()); rc != 0) {
    return internal::ErrnoError("cannot run", "the TSA command", rc);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return internal::ErrnoError("cannot wait for", "the TSA command", errno);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return IoError("the TSA command failed (" +
                   (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : std::string("killed")) +
                   ")");
  }
  Result<std::string> response = internal::ReadWholeFile(resp_path, 1 << 20);
  if (!response.ok()) return IoError("the TSA command wrote no response: " + response.status().message());
  return std::vector<std::uint8_t>(response->begin(), response->end());
}

Result<TimestampInfo> VerifyTimestamp(std::span<const std::uint8_t> response, const Hash& digest,
                                      const std::string& ca_file) {
  const unsigned char* p = response.data();
  TsResp resp(d2i_TS_RESP(nullptr, &p, static_cast<long>(response.size())));  // NOLINT(google-runtime-int)
  if (!resp) return Corrupt("timestamp token is not a DER TimeStampResp: " + OpenSslError());
  VerifyCtx ctx(TS_VERIFY_CTX_new());
  X509_STORE* store = X509_STORE_new();
  if (!ctx || store == nullptr) {
    X509_STORE_free(store);
    return Internal("out of memory");
  }
  if (X509_STORE_load_file(store, ca_file.c_str()) != 1) {
    X509_STORE_free(store);
    return Corrupt("cannot load TSA CA certificate " + ca_file + ": " + OpenSslError());
  }
  auto* imprint = static_cast<unsigned char*>(OPENSSL_malloc(digest.size()));
  if (imprint == nullptr) {
    X509_STORE_free(store);
    return Internal("out of memory");
  }
  std::memcpy(imprint, digest.data(), digest.size());
  TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_SIGNER | TS_VFY_SIGNATURE | TS_VFY_IMPRINT);
  TS_VERIFY_CTX_set_imprint(ctx.get(), imprint, static_cast<long>(digest.size()));  // NOLINT(google-runtime-int)
  TS_VERIFY_CTX_set_store(ctx.get(), store);                                        // ctx owns both now
  if (TS_RESP_verify_response(ctx.get(), resp.get()) != 1) {
    return Corrupt("timestamp does not verify: " + OpenSslError());
  }
  TS_TST_INFO* info = TS_RESP_get_tst_info(resp.get());
  TimestampInfo out;
  std::tm tm{};
  if (ASN1_TIME_to_tm(TS_TST_INFO_get_time(info), &tm) == 1) out.time = FormatUtcTime(::timegm(&tm));
  if (const GENERAL_NAME* tsa = TS_TST_INFO_get_tsa(info); tsa != nullptr && tsa->type == GEN_DIRNAME) {
    char buf[512] = {};
    X509_NAME_oneline(tsa->d.directoryName, buf, sizeof(buf));
    out.tsa = buf;
  }
  return out;
}

}  // namespace takeback::evidence
