#include "evidence/bundle.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "evidence/io.h"
#include "evidence/timestamp.h"
#include "evidence/zip_archive.h"

namespace takeback::evidence {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uint64_t kMaxManifestBytes = std::uint64_t{256} << 20;
constexpr std::uint64_t kMaxOriginalBytes = std::uint64_t{4} << 30;
constexpr std::string_view kCaseType = "takeback.case_index";

std::span<const std::uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string_view Text(std::span<const std::uint8_t> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string Extension(const std::string& media_type) {
  static const std::map<std::string, std::string> kExt = {
      {"image/jpeg", ".jpg"},      {"image/png", ".png"},      {"image/gif", ".gif"},   {"image/webp", ".webp"},
      {"image/bmp", ".bmp"},       {"image/heic", ".heic"},    {"image/avif", ".avif"}, {"video/mp4", ".mp4"},
      {"video/quicktime", ".mov"}, {"application/pdf", ".pdf"}};
  const auto it = kExt.find(media_type);
  return it == kExt.end() ? ".bin" : it->second;
}

std::string EncodeCaseIndex(const std::string& case_ref, const std::vector<std::uint64_t>& indices,
                            const TreeHead& head) {
  JsonValue::Array list;
  for (const std::uint64_t i : indices) list.emplace_back(static_cast<std::int64_t>(i));
  JsonValue::Object o;
  o.emplace_back("type", std::string(kCaseType));
  o.emplace_back("v", 1);
  o.emplace_back("case", case_ref);
  o.emplace_back("entries", std::move(list));
  o.emplace_back("size", static_cast<std::int64_t>(head.size));
  o.emplace_back("root", HashHex(head.root));
  o.emplace_back("key_id", head.key_id);
  Result<std::string> bytes = EncodeCanonical(o);
  return bytes.ok() ? *bytes : std::string();
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string SourceText(const Source& s) {
  std::string out = s.kind;
  auto add = [&](std::string_view label, const std::string& v) {
    if (!v.empty()) out += "; " + std::string(label) + " " + v;
  };
  add("chat", s.chat);
  add("message", s.message_id);
  add("sender", s.sender_id);
  add("url", s.url);
  add("path", s.path);
  return out;
}

struct ExportedEntry {
  std::uint64_t index = 0;
  Entry entry;
  std::string file;
};

std::string Report(const std::string& case_ref, const SignedTreeHead& sth, const std::vector<ExportedEntry>& entries,
                   const std::string& timestamp) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Evidence report: case " +
      HtmlEscape(case_ref) +
      "</title>\n<style>body{font-family:sans-serif;max-width:75em;margin:2em auto}table{border-collapse:collapse}"
      "td,th{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}code{word-break:break-all}"
      "</style></head><body>\n<h1>Evidence report: case " +
      HtmlEscape(case_ref) + "</h1>\n<p>This bundle holds " + std::to_string(entries.size()) +
      " captured item(s), byte-for-byte as they were captured, with cryptographic proof that each was recorded in "
      "an append-only evidence log and has not been altered since. README.txt explains how to check this "
      "independently.</p>\n<h2>Log state signed for this bundle</h2>\n<ul><li>Entries in the log: " +
      std::to_string(sth.head.size) + "</li><li>Signed at (UTC): " + HtmlEscape(sth.head.time) +
      "</li><li>Log root hash: <code>" + HashHex(sth.head.root) + "</code></li><li>Signing key id: <code>" +
      HtmlEscape(sth.head.key_id) + "</code></li>";
  if (!timestamp.empty()) h += "<li>Independent RFC 3161 timestamp: " + HtmlEscape(timestamp) + "</li>";
  h += "</ul>\n<h2>Items</h2>\n<table><tr><th>#</th><th>Seen at source (UTC)</th><th>Captured (UTC)</th><th>Where</th>"
       "<th>Captured by</th><th>Type, size</th><th>File and SHA-256</th></tr>\n";
  for (const ExportedEntry& e : entries) {
    h += "<tr><td>" + std::to_string(e.index) + "</td><td>" +
         HtmlEscape(e.entry.observed_time.empty() ? "not recorded" : e.entry.observed_time) + "</td><td>" +
         HtmlEscape(e.entry.captured_time) + "</td><td>" + HtmlEscape(SourceText(e.entry.source)) + "</td><td>" +
         HtmlEscape(e.entry.captured_by) + "<br><small>" + HtmlEscape(e.entry.tool) + "</small></td><td>" +
         HtmlEscape(e.entry.media_type) + ", " + std::to_string(e.entry.size) + " bytes</td><td><a href=\"" +
         HtmlEscape(e.file) + "\">" + HtmlEscape(e.file) + "</a><br><code>" + e.entry.sha256 + "</code>" +
         (e.entry.note.empty() ? "" : "<br>" + HtmlEscape(e.entry.note)) + "</td></tr>\n";
  }
  h += "</table>\n</body></html>\n";
  return h;
}

std::string Readme(const std::string& case_ref, const SignedTreeHead& sth, bool timestamped) {
  std::string r = "Takeback evidence bundle, case " + case_ref +
                  "\n\n"
                  "What is here\n"
                  "  originals/        the captured files, byte-for-byte, named by their SHA-256\n"
                  "  SHA256SUMS        the SHA-256 of every original\n"
                  "  manifest.json     every log entry of this case (what, where, when, who), its\n"
                  "                    Merkle inclusion proof, the signed tree head and public key\n"
                  "  tree_head.json    the signed statement of the whole log: size and root hash\n"
                  "  tree_head.sig     its Ed25519 signature (64 raw bytes, RFC 8032)\n"
                  "  case.json         the signed list of this case's entries (so none can be dropped)\n"
                  "  case.sig          its Ed25519 signature\n"
                  "  public_key.pem    the log's Ed25519 public key\n"
                  "  report.html       a readable report of what was found, where and when\n";
  if (timestamped) {
    r += "  tree_head.tsr     an RFC 3161 timestamp on tree_head.json from an independent\n"
         "                    time-stamping authority\n"
         "  tsa_ca.pem        that authority's CA certificate (as configured at export)\n";
  }
  r += "\nCheck everything at once (offline), with Takeback:\n"
       "  takeback evidence verify BUNDLE_DIR\n"
       "  takeback evidence verify --key-id " +
       sth.head.key_id +
       " BUNDLE_DIR\n"
       "(--key-id pins the log key: compare it with the key id published or handed over\n"
       "separately by the organisation that runs the log.)\n"
       "(BUNDLE may also be the .zip file as received.)\n"
       "\nCheck with standard tools, from inside this directory (for a .zip bundle, first\n"
       "  unzip BUNDLE.zip -d bundle && cd bundle):\n"
       "1. The originals are unaltered:\n"
       "     sha256sum -c SHA256SUMS\n"
       "2. The tree head and the case list were signed by the log key (OpenSSL 3):\n"
       "     openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in tree_head.json -sigfile tree_head.sig\n"
       "     openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in case.json -sigfile case.sig\n"
       "   Each prints \"Signature Verified Successfully\".\n"
       "3. The public key is the log's: its key id is the SHA-256 of the 32 key bytes,\n"
       "     openssl pkey -pubin -in public_key.pem -outform DER | tail -c 32 | sha256sum\n"
       "   must print " +
       sth.head.key_id + "\n   (the key_id field of tree_head.json).\n";
  if (timestamped) {
    r += "4. The tree head existed at the timestamp's time:\n"
         "     openssl ts -verify -data tree_head.json -in tree_head.tsr -CAfile tsa_ca.pem\n"
         "   (use the TSA's CA certificate from a source you trust instead of tsa_ca.pem).\n";
  }
  r += "\nHow the proofs work: the log is an RFC 9162 Merkle tree. Each entry's leaf hash is\n"
       "SHA-256(0x00 || the entry's canonical JSON), nodes are SHA-256(0x01 || left || right).\n"
       "manifest.json gives, for each entry, its index, leaf hash and inclusion proof, which\n"
       "recompute the signed root in tree_head.json; any RFC 9162 implementation can check\n"
       "them. The canonical JSON encoding is specified in docs/formats/evidence-log.md of the\n"
       "Takeback sources: keys sorted, no whitespace, integers only, minimal escaping.\n";
  return r;
}

Status WriteBundleFile(const fs::path& dir, const std::string& name, std::string_view bytes) {
  return internal::WriteFileDurable((dir / name).string(), bytes, 0644, /*exclusive=*/true);
}

bool WantsZip(const std::string& path) {
  if (path.size() < 4) return false;
  std::string ext = path.substr(path.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".zip";
}

Result<ExportSummary> ExportBundleDirectory(EvidenceStore& store, const ExportOptions& options) {
  if (options.case_ref.empty()) return InvalidArgument("no case given");
  if (!options.tsa_command.empty() && options.tsa_ca_file.empty()) {
    return InvalidArgument("a TSA command needs the TSA's CA certificate too");
  }
  std::error_code ec;
  const fs::path out(options.out_dir);
  if (fs::exists(out, ec) && !fs::is_empty(out, ec))
    return InvalidArgument(options.out_dir + " exists and is not empty");
  Result<SignedTreeHead> sth = store.Commit();
  if (!sth.ok()) return sth.status();
  if (sth->head.size == 0) return NotFound("the evidence log is empty");
  Result<std::vector<std::uint64_t>> indices = store.CaseEntries(options.case_ref);
  if (!indices.ok()) return indices.status();
  if (indices->empty()) return NotFound("no entries for case '" + options.case_ref + "'");
  TAKEBACK_RETURN_IF_ERROR(internal::MakeDirs((out / "originals").string()));

  const std::string head_bytes = EncodeTreeHead(sth->head);
  const std::string case_bytes = EncodeCaseIndex(options.case_ref, *indices, sth->head);
  const Signature case_sig = store.signer().Sign(Bytes(case_bytes));
  const PublicKey& key = store.signer().public_key();

  std::vector<ExportedEntry> exported;
  json entries = json::array();
  std::string sums;
  for (const std::uint64_t index : *indices) {
    Result<Entry> entry = store.log().ReadEntry(index);
    if (!entry.ok()) return entry.status();
    Result<Hash> digest = ParseHashHex(entry->sha256);
    if (!digest.ok()) return digest.status();
    const std::string file = "originals/" + entry->sha256 + Extension(entry->media_type);
    if (!fs::exists(out / file, ec)) {
      Result<std::vector<std::uint8_t>> original = store.sealed().Get(*digest);
      if (!original.ok()) return original.status();
      TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, file, Text(*original)));
      sums += entry->sha256 + "  " + file + "\n";
    }
    Result<std::vector<Hash>> proof = store.log().tree().InclusionProof(index, sth->head.size);
    if (!proof.ok()) return proof.status();
    json proof_json = json::array();
    for (const Hash& h : *proof) proof_json.push_back(HashHex(h));
    Result<std::string> entry_bytes = store.log().EntryBytes(index);
    if (!entry_bytes.ok()) return entry_bytes.status();
    entries.push_back({{"index", index},
                       {"entry", json::parse(*entry_bytes)},
                       {"leaf_hash", HashHex(store.log().tree().leaf(index))},
                       {"inclusion_proof", proof_json},
                       {"file", file}});
    exported.push_back({index, *entry, file});
  }

  ExportSummary summary;
  summary.entries = indices->size();
  summary.tree_size = sth->head.size;
  summary.root = HashHex(sth->head.root);
  summary.key_id = sth->head.key_id;
  json manifest = {
      {"format", "takeback.evidence_bundle"},
      {"version", 1},
      {"case", options.case_ref},
      {"tree_head",
       {{"file", "tree_head.json"},
        {"signature_file", "tree_head.sig"},
        {"size", sth->head.size},
        {"root", HashHex(sth->head.root)},
        {"time", sth->head.time},
        {"key_id", sth->head.key_id},
        {"signature", Base64Encode(sth->signature)}}},
      {"case_index", {{"file", "case.json"}, {"signature_file", "case.sig"}, {"signature", Base64Encode(case_sig)}}},
      {"public_key", {{"ed25519", HexEncode(key)}, {"pem_file", "public_key.pem"}, {"key_id", KeyId(key)}}},
      {"entries", entries},
  };
  if (!options.tsa_command.empty()) {
    const Hash imprint = Sha256(Bytes(head_bytes));
    Result<std::vector<std::uint8_t>> token = RequestTimestamp(options.tsa_command, imprint);
    if (!token.ok()) return token.status();
    Result<TimestampInfo> info = VerifyTimestamp(*token, imprint, options.tsa_ca_file);
    if (!info.ok()) return info.status();
    Result<std::string> ca = internal::ReadWholeFile(options.tsa_ca_file, 1 << 20);
    if (!ca.ok()) return ca.status();
    TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, "tree_head.tsr", Text(*token)));
    TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, "tsa_ca.pem", *ca));
    manifest["timestamp"] = {{"token_file", "tree_head.tsr"},
                             {"tsa_ca_file", "tsa_ca.pem"},
                             {"time", info->time},
                             {"tsa", info->tsa},
                             {"imprint_sha256", HashHex(imprint)}};
    summary.timestamp = info->time;
  }
  TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, "tree_head.json", head_bytes));
  TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, "tree_head.sig", Text(sth->signature)));
  TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, "case.json", case_bytes));
  TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, "case.sig", Text(case_sig)));
  TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, "public_key.pem", PublicKeyPem(key)));
  TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, "SHA256SUMS", sums));
  TAKEBACK_RETURN_IF_ERROR(
      WriteBundleFile(out, "report.html", Report(options.case_ref, *sth, exported, summary.timestamp)));
  TAKEBACK_RETURN_IF_ERROR(
      WriteBundleFile(out, "README.txt", Readme(options.case_ref, *sth, !options.tsa_command.empty())));
  TAKEBACK_RETURN_IF_ERROR(WriteBundleFile(out, "manifest.json", manifest.dump(2) + "\n"));
  return summary;
}

}  // namespace

Result<ExportSummary> ExportBundle(EvidenceStore& store, const ExportOptions& options) {
  if (!WantsZip(options.out_dir)) return ExportBundleDirectory(store, options);
  std::error_code ec;
  if (fs::exists(options.out_dir, ec)) return InvalidArgument(options.out_dir + " already exists");
  // The directory form first, in a private directory beside the zip (same
  // file system), then the archive; the directory goes in every case.
  const fs::path zip_path(options.out_dir);
  const fs::path parent = zip_path.parent_path().empty() ? fs::path(".") : zip_path.parent_path();
  std::string staging = (parent / ("." + zip_path.filename().string() + ".partial-XXXXXX")).string();
  if (::mkdtemp(staging.data()) == nullptr) {
    return internal::ErrnoError("cannot make a staging directory", staging, errno);
  }
  ExportOptions dir_options = options;
  dir_options.out_dir = staging;
  Result<ExportSummary> summary = ExportBundleDirectory(store, dir_options);
  Status zipped = summary.ok() ? internal::ZipDirectory(staging, options.out_dir) : summary.status();
  fs::remove_all(staging, ec);
  if (!zipped.ok()) return zipped;
  return summary;
}

bool BundleVerification::ok() const {
  return !checks.empty() && std::all_of(checks.begin(), checks.end(), [](const BundleCheck& c) { return c.ok; });
}

namespace {

class Verifier {
 public:
  Verifier(const fs::path& dir, const VerifyOptions& options, BundleVerification& result)
      : dir_(dir), options_(options), r_(result) {}

  void Run() {
    if (!LoadManifest()) return;
    if (!CheckKey()) return;
    const bool head_ok = CheckTreeHead();
    const bool case_ok = CheckCaseIndex();
    if (!head_ok) return;
    CheckEntries(case_ok);
    CheckTimestamp();
  }

 private:
  void Pass(std::string what) { r_.checks.push_back({true, std::move(what)}); }
  bool Fail(std::string what) {
    r_.checks.push_back({false, std::move(what)});
    return false;
  }

  Result<std::string> File(const std::string& name, std::uint64_t max = kMaxManifestBytes) {
    if (name.empty() || name.find("..") != std::string::npos || name[0] == '/') {
      return Corrupt("manifest names a file outside the bundle: '" + name + "'");
    }
    return internal::ReadWholeFile((dir_ / name).string(), max);
  }

  // A string member of an object in the manifest, or "" (the check that
  // uses it then fails with a clear message).
  static std::string Str(const json& j, const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  }
  static std::optional<std::uint64_t> U64(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_number_unsigned()) return std::nullopt;
    return j[key].get<std::uint64_t>();
  }

  bool LoadManifest() {
    Result<std::string> text = File("manifest.json");
    if (!text.ok()) return Fail("manifest.json: " + text.status().message());
    manifest_ = json::parse(*text, nullptr, false);
    if (manifest_.is_discarded() || !manifest_.is_object()) return Fail("manifest.json is not valid JSON");
    if (Str(manifest_, "format") != "takeback.evidence_bundle" || U64(manifest_, "version") != 1U) {
      return Fail("manifest.json is not a version 1 takeback.evidence_bundle");
    }
    r_.case_ref = Str(manifest_, "case");
    Pass("manifest.json is a version 1 evidence bundle for case '" + r_.case_ref + "'");
    return true;
  }

  bool CheckKey() {
    Result<std::string> pem = File("public_key.pem");
    if (!pem.ok()) return Fail("public key: " + pem.status().message());
    Result<PublicKey> key = ParsePublicKeyPem(*pem);
    if (!key.ok()) return Fail("public key: public_key.pem: " + key.status().message());
    key_ = *key;
    const json& pk = manifest_.value("public_key", json::object());
    if (Str(pk, "ed25519") != HexEncode(key_)) {
      return Fail("public key: public_key.pem differs from the key in manifest.json");
    }
    const std::string id = KeyId(key_);
    if (!options_.expected_key_id.empty()) {
      if (options_.expected_key_id != id) {
        return Fail("public key: key id " + id + " is not the expected " + options_.expected_key_id +
                    " (the bundle was signed by another key)");
      }
      Pass("public key " + id + " is the expected log key");
    } else {
      Pass("public key " + id + " (not pinned: pass --key-id to require the log's known key)");
    }
    return true;
  }

  bool CheckTreeHead() {
    const json& th = manifest_.value("tree_head", json::object());
    Result<std::string> bytes = File("tree_head.json");
    if (!bytes.ok()) return Fail("tree head: " + bytes.status().message());
    Result<std::string> sig = File("tree_head.sig");
    if (!sig.ok()) return Fail("tree head: " + sig.status().message());
    Result<TreeHead> head = DecodeTreeHead(*bytes);
    if (!head.ok()) return Fail("tree head: tree_head.json: " + head.status().message());
    head_ = *head;
    head_bytes_ = *bytes;
    if (sig->size() != 64) return Fail("tree head: tree_head.sig is not 64 bytes");
    SignedTreeHead sth;
    sth.head = head_;
    std::copy(sig->begin(), sig->end(), sth.signature.begin());
    if (!VerifyTreeHead(key_, sth)) {
      return Fail(
          "tree head: the signature in tree_head.sig does not verify with the bundle's public key "
          "(tree_head.json or the key was changed)");
    }
    if (head_.key_id != KeyId(key_)) return Fail("tree head: key_id does not match the public key");
    const bool same = U64(th, "size") == head_.size && Str(th, "root") == HashHex(head_.root) &&
                      Str(th, "time") == head_.time && Str(th, "key_id") == head_.key_id &&
                      Str(th, "signature") == Base64Encode(sth.signature);
    if (!same) return Fail("tree head: manifest.json's tree_head differs from the signed tree_head.json");
    Pass("tree head signature verifies: log of " + std::to_string(head_.size) + " entries, root " +
         HashHex(head_.root) + ", signed " + head_.time);
    return true;
  }

  bool CheckCaseIndex() {
    Result<std::string> bytes = File("case.json");
    if (!bytes.ok()) return Fail("case index: " + bytes.status().message());
    Result<std::string> sig = File("case.sig");
    if (!sig.ok()) return Fail("case index: " + sig.status().message());
    Signature signature{};
    if (sig->size() != 64) return Fail("case index: case.sig is not 64 bytes");
    std::copy(sig->begin(), sig->end(), signature.begin());
    if (!VerifySignature(key_, Bytes(*bytes), signature)) {
      return Fail("case index: the signature in case.sig does not verify with the bundle's public key");
    }
    Result<JsonValue> v = ParseJson(*bytes, true);
    if (!v.ok()) return Fail("case index: " + v.status().message());
    const JsonValue* type = v->Find("type");
    const JsonValue* case_ref = v->Find("case");
    const JsonValue* list = v->Find("entries");
    const JsonValue* size = v->Find("size");
    const JsonValue* root = v->Find("root");
    if (type == nullptr || !type->is_string() || type->as_string() != kCaseType || case_ref == nullptr ||
        !case_ref->is_string() || list == nullptr || !list->is_array() || size == nullptr || !size->is_int() ||
        root == nullptr || !root->is_string()) {
      return Fail("case index: case.json is not a takeback.case_index");
    }
    if (case_ref->as_string() != r_.case_ref) {
      return Fail("case index: signed case '" + case_ref->as_string() + "' differs from manifest case '" + r_.case_ref +
                  "'");
    }
    if (static_cast<std::uint64_t>(size->as_int()) != head_.size || root->as_string() != HashHex(head_.root)) {
      return Fail("case index: signed for another tree head than tree_head.json");
    }
    for (const JsonValue& i : list->as_array()) {
      if (!i.is_int() || i.as_int() < 0) return Fail("case index: bad entry index");
      case_indices_.push_back(static_cast<std::uint64_t>(i.as_int()));
    }
    Pass("case index signature verifies: case '" + r_.case_ref + "' has " + std::to_string(case_indices_.size()) +
         " entries");
    return true;
  }

  void CheckEntries(bool case_ok) {
    const json& entries = manifest_.value("entries", json::array());
    if (!entries.is_array()) {
      Fail("entries: manifest.json has no entry list");
      return;
    }
    std::vector<std::uint64_t> listed;
    for (const json& item : entries) {
      const std::optional<std::uint64_t> index = U64(item, "index");
      if (!index) {
        Fail("entries: an entry in manifest.json has no index");
        return;
      }
      listed.push_back(*index);
    }
    if (case_ok) CompareWithCaseIndex(listed);
    r_.entries = listed.size();
    std::map<std::string, std::string> sums;
    for (const json& item : entries) CheckEntry(item, sums);
    CheckSums(sums);
  }

  void CompareWithCaseIndex(const std::vector<std::uint64_t>& listed) {
    for (const std::uint64_t i : case_indices_) {
      if (std::find(listed.begin(), listed.end(), i) == listed.end()) {
        Fail("entries: entry " + std::to_string(i) + " of the signed case index is missing from manifest.json");
        return;
      }
    }
    for (const std::uint64_t i : listed) {
      if (std::find(case_indices_.begin(), case_indices_.end(), i) == case_indices_.end()) {
        Fail("entries: manifest.json lists entry " + std::to_string(i) + ", which the signed case index does not");
        return;
      }
    }
    if (listed != case_indices_) {
      Fail("entries: manifest.json lists the entries in another order than the signed case index (reordered)");
      return;
    }
    Pass("entries: manifest.json lists exactly the " + std::to_string(listed.size()) +
         " entries of the signed case index, in order");
  }

  void CheckEntry(const json& item, std::map<std::string, std::string>& sums) {
    const std::uint64_t index = item["index"].get<std::uint64_t>();
    const std::string name = "entry " + std::to_string(index) + ": ";
    if (!item.contains("entry")) {
      Fail(name + "no entry fields");
      return;
    }
    Result<JsonValue> value = ParseJson(item["entry"].dump(), false);
    Result<Entry> entry = value.ok() ? EntryFromJson(*value) : Result<Entry>(value.status());
    if (!entry.ok()) {
      Fail(name + entry.status().message());
      return;
    }
    Result<std::string> canonical = EncodeEntry(*entry);
    if (!canonical.ok()) {
      Fail(name + canonical.status().message());
      return;
    }
    const Hash leaf = LeafHash(Bytes(*canonical));
    if (Str(item, "leaf_hash") != HashHex(leaf)) {
      Fail(name + "the entry's fields in manifest.json are not what the log recorded (leaf hash mismatch)");
      return;
    }
    std::vector<Hash> proof;
    if (item.contains("inclusion_proof") && item["inclusion_proof"].is_array()) {
      for (const json& h : item["inclusion_proof"]) {
        Result<Hash> hash = ParseHashHex(h.is_string() ? h.get<std::string>() : std::string());
        if (!hash.ok()) {
          Fail(name + "inclusion proof: " + hash.status().message());
          return;
        }
        proof.push_back(*hash);
      }
    }
    if (!VerifyInclusion(leaf, index, head_.size, proof, head_.root)) {
      Fail(name + "inclusion proof does not lead to the signed root (entry altered or not in the log)");
      return;
    }
    const std::string file = Str(item, "file");
    Result<std::string> original = File(file, kMaxOriginalBytes);
    if (!original.ok()) {
      Fail(name + "original " + file + ": " + original.status().message());
      return;
    }
    const std::string digest = HashHex(Sha256(Bytes(*original)));
    if (digest != entry->sha256 || original->size() != entry->size) {
      Fail(name + "original " + file + " has SHA-256 " + digest + " and " + std::to_string(original->size()) +
           " bytes, the log recorded " + entry->sha256 + " and " + std::to_string(entry->size) + " bytes (altered)");
      return;
    }
    sums[file] = digest;
    Pass(name + "in the log (inclusion proof verifies); original " + file + " matches its SHA-256");
  }

  void CheckSums(const std::map<std::string, std::string>& sums) {
    Result<std::string> text = File("SHA256SUMS");
    if (!text.ok()) {
      Fail("SHA256SUMS: " + text.status().message());
      return;
    }
    std::size_t lines = 0;
    for (std::size_t pos = 0; pos < text->size();) {
      std::size_t nl = text->find('\n', pos);
      if (nl == std::string::npos) nl = text->size();
      const std::string line = text->substr(pos, nl - pos);
      pos = nl + 1;
      if (line.size() < 67 || line.compare(64, 2, "  ") != 0) {
        Fail("SHA256SUMS: malformed line '" + line + "'");
        return;
      }
      const auto it = sums.find(line.substr(66));
      if (it == sums.end() || it->second != line.substr(0, 64)) {
        Fail("SHA256SUMS: line for " + line.substr(66) + " disagrees with the log");
        return;
      }
      ++lines;
    }
    Pass("SHA256SUMS agrees with the log (" + std::to_string(lines) + " files)");
  }

  void CheckTimestamp() {
    if (!manifest_.contains("timestamp")) {
      Pass("no RFC 3161 timestamp in this bundle (optional)");
      return;
    }
    const json& ts = manifest_["timestamp"];
    Result<std::string> token = File(Str(ts, "token_file"));
    if (!token.ok()) {
      Fail("timestamp: " + token.status().message());
      return;
    }
    const bool own_ca = options_.tsa_ca_file.empty();
    const std::string ca = own_ca ? (dir_ / Str(ts, "tsa_ca_file")).string() : options_.tsa_ca_file;
    Result<TimestampInfo> info = VerifyTimestamp(Bytes(*token), Sha256(Bytes(head_bytes_)), ca);
    if (!info.ok()) {
      Fail("timestamp: " + info.status().message());
      return;
    }
    Pass("RFC 3161 timestamp on the tree head verifies: " + info->time + (info->tsa.empty() ? "" : " by " + info->tsa) +
         (own_ca ? " (CA from the bundle; pass --tsa-ca to use one you trust)" : ""));
  }

  fs::path dir_;
  const VerifyOptions& options_;
  BundleVerification& r_;
  json manifest_;
  PublicKey key_{};
  TreeHead head_;
  std::string head_bytes_;
  std::vector<std::uint64_t> case_indices_;
};

}  // namespace

BundleVerification VerifyBundle(const std::string& bundle_path, const VerifyOptions& options) {
  BundleVerification result;
  std::error_code ec;
  if (!fs::is_regular_file(bundle_path, ec)) {
    Verifier(bundle_path, options, result).Run();
    return result;
  }
  if (!internal::LooksLikeZip(bundle_path)) {
    result.checks.push_back({false, bundle_path + " is neither a bundle directory nor a zip archive"});
    return result;
  }
  // A zip: every entry is checked (names, kinds, sizes, CRCs) and extracted
  // into a private temporary directory, which is verified and removed.
  std::string tmp = (fs::temp_directory_path(ec) / "takeback-verify-XXXXXX").string();
  if (::mkdtemp(tmp.data()) == nullptr) {
    result.checks.push_back(
        {false, "cannot make a temporary directory to extract the zip: " + std::string(std::strerror(errno))});
    return result;
  }
  const std::string extracted = (fs::path(tmp) / "bundle").string();
  Result<std::uint64_t> files = internal::ExtractZipSafely(bundle_path, extracted);
  if (!files.ok()) {
    result.checks.push_back({false, "zip archive: " + files.status().message()});
  } else {
    result.checks.push_back(
        {true, "zip archive: " + std::to_string(*files) + " files extracted, every name, size and CRC checked"});
    Verifier(extracted, options, result).Run();
  }
  fs::remove_all(tmp, ec);
  return result;
}

}  // namespace takeback::evidence
