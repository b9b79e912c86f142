// Text matching for doxxing detection: a case's watch terms (names, phone
// numbers, handles) found in chat messages.
//
// Unicode: both sides are normalised with NFKC and full case folding
// (ICU's NFKC_Casefold, which also drops default-ignorable characters such
// as zero-width spaces), so full-width letters and digits, compatibility
// Han ideographs, decomposed Hangul jamo and case differences all compare
// equal. Terms in Hangul, Han, Hiragana or Katakana match anywhere (those
// scripts have no spaces between a name and its particles: "김지은이");
// other terms only as whole words.
//
// Phone numbers: a term that looks like a phone number is compared in its
// national form: Korean (+82 / 0082 / 82 dropped, trunk 0 restored: "+82
// 10-1234-5678" == "010 1234 5678" == "01012345678") and Chinese (+86 / 0086
// dropped; mobile numbers are 11 digits starting with 1, landlines get their
// trunk 0 back), with any spaces, dashes, dots, slashes or parentheses
// between digit groups. A number inside a longer digit group never matches.
//
// ICU is used in src/text only; no ICU type appears here. Thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace takeback::text {

// NFKC + case folding + default ignorables removed. Invalid UTF-8 becomes
// U+FFFD; never fails.
std::string NormalizeText(std::string_view utf8);

// The national-form digits of a Korean or Chinese phone number written in
// any of the forms above ("+82 10-1234-5678" -> "01012345678"), or nullopt
// when `text` is not a phone number (other characters, fewer than 7 or
// more than 15 digits). Full-width digits are accepted.
std::optional<std::string> NormalizePhoneNumber(std::string_view text);

struct TermHit {
  std::size_t term_index = 0;  // into the terms given to WatchList
  std::string term;            // as given
  std::string kind;            // "phone" or "text"
  std::string matched;         // the text that matched, as normalised
  std::string excerpt;         // up to ~40 characters around it, normalised
};

class WatchList {
 public:
  explicit WatchList(std::span<const std::string> terms);

  // Every term found in `text`, at most one hit per term, in term order.
  std::vector<TermHit> Find(std::string_view text) const;

  bool empty() const { return terms_.empty(); }

 private:
  struct Term {
    std::string original;
    std::string normalized;  // NormalizeText(original)
    std::string phone;       // national digits when the term is a phone number
    bool anywhere = false;   // CJK: no word boundaries needed
  };
  std::vector<Term> terms_;
};

}  // namespace takeback::text
