// RFC 3161 timestamps on tree heads (OpenSSL's TS API). A time-stamping
// authority proves the tree head existed at a time, independently of the
// log's own clock and key.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "evidence/merkle.h"

namespace takeback::evidence {

// A DER TimeStampReq for the SHA-256 `digest`, asking for the TSA's
// certificate and carrying a random nonce.
Result<std::vector<std::uint8_t>> MakeTimestampRequest(const Hash& digest);

// Obtains a DER TimeStampResp for `digest` by running `command` with
// /bin/sh: the request is in the file named by $TAKEBACK_TSA_REQUEST, the
// command writes the response to $TAKEBACK_TSA_RESPONSE (e.g. `openssl ts
// -reply ...` or `curl --data-binary @"$TAKEBACK_TSA_REQUEST" -H
// 'Content-Type: application/timestamp-query' -o "$TAKEBACK_TSA_RESPONSE"
// URL`). kIoError naming the exit status when the command fails; the
// response is checked for the right digest but not against a CA (see
// VerifyTimestamp). Blocks until the command ends.
Result<std::vector<std::uint8_t>> RequestTimestamp(const std::string& command, const Hash& digest);

struct TimestampInfo {
  std::string time;  // genTime, "YYYY-MM-DDTHH:MM:SSZ"
  std::string tsa;   // the TSA's name from the token, or its certificate subject
};

// Verifies a DER TimeStampResp: status granted, message imprint equal to
// `digest`, signature by a TSA certificate that chains to a CA in the PEM
// file `ca_file` (with the timeStamping extended key usage). kCorrupt with
// OpenSSL's reason on any failure.
Result<TimestampInfo> VerifyTimestamp(std::span<const std::uint8_t> response, const Hash& digest,
                                      const std::string& ca_file);

}  // namespace takeback::evidence
