// Court bundles: everything about one case, exported from the evidence
// store into a directory or a zip archive that can be checked offline by `takeback evidence
// verify` or with standard tools (sha256sum, openssl). Layout and checks:
// docs/formats/evidence-log.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "evidence/store.h"

namespace takeback::evidence {

struct ExportOptions {
  std::string case_ref;     // entries whose case equals this
  std::string out_dir;      // created; must not exist or be empty. A name ending in ".zip" gives a zip archive
                            // (which must not exist) holding the same files.
  std::string tsa_command;  // optional: RFC 3161 timestamp on the tree head (see RequestTimestamp)
  std::string tsa_ca_file;  // with tsa_command: the TSA's CA (PEM), checked now and copied into the bundle
};

struct ExportSummary {
  std::uint64_t entries = 0;
  std::uint64_t tree_size = 0;
  std::string root;       // hex
  std::string key_id;     // hex
  std::string timestamp;  // TSA time, empty without one
};

// Commits pending entries, decrypts each original of the case, writes the
// bundle. kNotFound when the case has no entries; kInvalidArgument when
// out_dir exists and is not empty. A failed export may leave a partial
// directory (it never verifies: manifest.json is written last).
Result<ExportSummary> ExportBundle(EvidenceStore& store, const ExportOptions& options);

struct VerifyOptions {
  std::string expected_key_id;  // optional: the log key's id as known from elsewhere (pinning)
  std::string tsa_ca_file;      // optional: trusted TSA CA; default: the bundle's tsa_ca.pem
};

struct BundleCheck {
  bool ok = false;
  std::string what;  // "original originals/ab12...jpg matches its SHA-256", or what failed
};

struct BundleVerification {
  std::vector<BundleCheck> checks;
  std::string case_ref;
  std::uint64_t entries = 0;
  bool ok() const;
};

// Checks a bundle offline: a directory, or a zip archive, whose entries are
// checked (safe names, plain files, sizes, CRCs, zip-bomb ratios) and
// extracted into a private temporary directory first. Never fails as a
// call: every problem is a failed check naming what failed.
BundleVerification VerifyBundle(const std::string& bundle_path, const VerifyOptions& options);

}  // namespace takeback::evidence
