#include "text/text.h"

#include <algorithm>
#include <cstdint>

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

namespace takeback::text {
namespace {

constexpr std::size_t kMinPhoneDigits = 7;
constexpr std::size_t kMaxPhoneDigits = 15;
constexpr std::size_t kExcerptBytes = 60;

const icu::Normalizer2* Nfkc() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFKCCasefoldInstance(status);
  return U_SUCCESS(status) ? n : nullptr;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsPhoneSeparator(char c) { return c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')'; }

// Digits (with whether the number was written with a leading '+') to the
// national form described in text.h.
std::string NationalForm(std::string digits, bool plus) {
  bool international = plus;
  if (digits.starts_with("00")) {
    digits.erase(0, 2);
    international = true;
  }
  if (!international) {
    if ((digits.starts_with("82") && digits.size() >= 11) || (digits.starts_with("86") && digits.size() >= 12)) {
      international = true;
    }
  }
  if (!international) return digits;
  if (digits.starts_with("82")) {
    std::string rest = digits.substr(2);
    return rest.starts_with('0') ? rest : "0" + rest;
  }
  if (digits.starts_with("86")) {
    std::string rest = digits.substr(2);
    if ((rest.starts_with('1') && rest.size() == 11) || rest.starts_with('0')) return rest;
    return "0" + rest;
  }
  return digits;
}

bool IsCjk(UChar32 c) {
  UErrorCode status = U_ZERO_ERROR;
  const UScriptCode script = uscript_getScript(c, &status);
  return U_SUCCESS(status) && (script == USCRIPT_HANGUL || script == USCRIPT_HAN || script == USCRIPT_HIRAGANA ||
                               script == USCRIPT_KATAKANA);
}

bool AnyCjk(std::string_view utf8) {
  std::int32_t i = 0;
  const auto length = static_cast<std::int32_t>(utf8.size());
  while (i < length) {
    UChar32 c = 0;
    U8_NEXT(utf8.data(), i, length, c);
    if (c >= 0 && IsCjk(c)) return true;
  }
  return false;
}

// True when the code point before `pos` / at `pos` is a letter or digit.
bool WordCharBefore(std::string_view s, std::size_t pos) {
  if (pos == 0) return false;
  auto i = static_cast<std::int32_t>(pos);
  UChar32 c = 0;
  U8_PREV(s.data(), 0, i, c);
  return c >= 0 && u_isalnum(c) != 0;
}
bool WordCharAt(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return false;
  auto i = static_cast<std::int32_t>(pos);
  UChar32 c = 0;
  U8_NEXT(s.data(), i, static_cast<std::int32_t>(s.size()), c);
  return c >= 0 && u_isalnum(c) != 0;
}

std::string Excerpt(std::string_view s, std::size_t begin, std::size_t end) {
  std::size_t from = begin > kExcerptBytes ? begin - kExcerptBytes : 0;
  std::size_t to = std::min(s.size(), end + kExcerptBytes);
  // Land on UTF-8 character boundaries.
  while (from > 0 && (static_cast<unsigned char>(s[from]) & 0xC0U) == 0x80U) --from;
  while (to < s.size() && (static_cast<unsigned char>(s[to]) & 0xC0U) == 0x80U) ++to;
  std::string out;
  if (from > 0) out += "…";
  out += s.substr(from, to - from);
  if (to < s.size()) out += "…";
  return out;
}

// A run of digit groups in normalised text: "+82 10-1234-5678".
struct PhoneRun {
  std::size_t begin = 0;
  std::size_t end = 0;
  bool plus = false;
  std::vector<std::string> groups;
  std::vector<std::size_t> group_begin;
  std::vector<std::size_t> group_end;
};

std::vector<PhoneRun> FindPhoneRuns(std::string_view s) {
  std::vector<PhoneRun> runs;
  std::size_t i = 0;
  while (i < s.size()) {
    if (!IsDigit(s[i]) && !((s[i] == '+' || s[i] == '(') && i + 1 < s.size())) {
      ++i;
      continue;
    }
    if (i > 0 && IsDigit(s[i - 1])) {
      ++i;
      continue;
    }
    PhoneRun run;
    run.begin = i;
    if (s[i] == '+') {
      run.plus = true;
      ++i;
    }
    std::size_t last_digit_end = i;
    while (i < s.size()) {
      if (IsDigit(s[i])) {
        const std::size_t g = i;
        while (i < s.size() && IsDigit(s[i])) ++i;
        run.groups.emplace_back(s.substr(g, i - g));
        run.group_begin.push_back(g);
        run.group_end.push_back(i);
        last_digit_end = i;
        continue;
      }
      // Up to three separators between groups.
      std::size_t j = i;
      while (j < s.size() && j - i < 3 && IsPhoneSeparator(s[j])) ++j;
      if (j == i || j >= s.size() || !(IsDigit(s[j]) || s[j] == '(')) break;
      i = j;
    }
    run.end = last_digit_end;
    const std::size_t begin = run.begin;
    if (!run.groups.empty()) runs.push_back(std::move(run));
    if (i == begin) ++i;
  }
  return runs;
}

}  // namespace

std::string NormalizeText(std::string_view utf8) {
  const icu::Normalizer2* nfkc = Nfkc();
  const icu::UnicodeString input =
      icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<std::int32_t>(utf8.size())));
  if (nfkc == nullptr) {
    icu::UnicodeString folded = input;
    folded.foldCase();
    std::string out;
    folded.toUTF8String(out);
    return out;
  }
  UErrorCode status = U_ZERO_ERROR;
  const icu::UnicodeString normalized = nfkc->normalize(input, status);
  std::string out;
  (U_SUCCESS(status) ? normalized : input).toUTF8String(out);
  return out;
}

std::optional<std::string> NormalizePhoneNumber(std::string_view text) {
  const std::string s = NormalizeText(text);
  std::string digits;
  bool plus = false;
  bool seen_digit = false;
  for (const char c : s) {
    if (IsDigit(c)) {
      digits += c;
      seen_digit = true;
    } else if (c == '+' && !seen_digit && !plus) {
      plus = true;
    } else if (!IsPhoneSeparator(c)) {
      return std::nullopt;
    }
  }
  if (digits.size() < kMinPhoneDigits || digits.size() > kMaxPhoneDigits) return std::nullopt;
  return NationalForm(digits, plus);
}

WatchList::WatchList(std::span<const std::string> terms) {
  for (const std::string& original : terms) {
    Term term;
    term.original = original;
    term.normalized = NormalizeText(original);
    if (std::optional<std::string> phone = NormalizePhoneNumber(original)) term.phone = *phone;
    term.anywhere = AnyCjk(term.normalized);
    terms_.push_back(std::move(term));
  }
}

std::vector<TermHit> WatchList::Find(std::string_view text) const {
  std::vector<TermHit> hits;
  if (terms_.empty() || text.empty()) return hits;
  const std::string s = NormalizeText(text);
  std::vector<PhoneRun> runs;
  bool runs_found = false;
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const Term& term = terms_[t];
    if (!term.phone.empty()) {
      if (!runs_found) {
        runs = FindPhoneRuns(s);
        runs_found = true;
      }
      bool hit = false;
      for (const PhoneRun& run : runs) {
        for (std::size_t a = 0; a < run.groups.size() && !hit; ++a) {
          std::string digits;
          for (std::size_t b = a; b < run.groups.size() && !hit; ++b) {
            digits += run.groups[b];
            if (digits.size() > kMaxPhoneDigits) break;
            if (digits.size() < kMinPhoneDigits) continue;
            const bool plus = a == 0 && run.plus;
            if (NationalForm(digits, plus) == term.phone) {
              const std::size_t begin = plus ? run.begin : run.group_begin[a];
              const std::size_t end = run.group_end[b];
              hits.push_back({t, term.original, "phone", s.substr(begin, end - begin), Excerpt(s, begin, end)});
              hit = true;
            }
          }
        }
        if (hit) break;
      }
      if (hit) continue;
    }
    if (term.normalized.empty()) continue;
    for (std::size_t pos = s.find(term.normalized); pos != std::string::npos; pos = s.find(term.normalized, pos + 1)) {
      const std::size_t end = pos + term.normalized.size();
      if (!term.anywhere && (WordCharBefore(s, pos) || WordCharAt(s, end))) continue;
      hits.push_back({t, term.original, "text", term.normalized, Excerpt(s, pos, end)});
      break;
    }
  }
  return hits;
}

}  // namespace takeback::text
