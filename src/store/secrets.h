// Secrets the service hands out once and keeps only in hashed form: API keys
// (random, stored as SHA-256), case numbers and PINs (PINs stored with
// Argon2id). All functions are thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace takeback::store {

// "tbk_" followed by 52 base32 characters (256 random bits).
std::string GenerateApiKey();
// Lower-case hex SHA-256 of the key: high-entropy keys need no slow hash.
std::string HashApiKey(std::string_view key);
// The first characters of a key, safe to show in lists ("tbk_ABCD").
std::string ApiKeyPrefix(std::string_view key);

// "TB-" and 8 Crockford base32 characters in two groups ("TB-7QX2-M9KD").
std::string GenerateCaseNumber();
// 10 random decimal digits (PINs are typed by people in crisis; the lockout
// after a few failures is what protects them, not the length).
std::string GeneratePin();
// Argon2id (libsodium crypto_pwhash_str, interactive limits). kInternal when
// memory for the hash cannot be had.
Result<std::string> HashPin(std::string_view pin);
// True when `pin` matches the stored Argon2id string (constant time).
bool VerifyPin(std::string_view pin, const std::string& pin_hash);

// Current time as RFC 3339 UTC with seconds ("2026-11-26T01:02:03Z").
std::string NowRfc3339();

}  // namespace takeback::store
