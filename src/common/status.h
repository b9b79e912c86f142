// Errors as values. Every fallible function at a component boundary returns a
// Status or a Result<T>; neither throws on bad input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace takeback {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something malformed
  kNotFound,         // a file, record or id does not exist
  kIoError,          // the operating system refused a read or write
  kCorrupt,          // data is damaged, truncated or not what it claims to be
  kUnsupported,      // a valid input in a format or mode this build cannot handle
  kTooLarge,         // an input exceeds a configured limit
  kInternal,         // a bug: an invariant did not hold
};

// Short stable name of a code ("corrupt", "too_large"), used in JSON output.
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corrupt: JPEG data ends early" or "ok".
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Status IoError(std::string m) { return {ErrorCode::kIoError, std::move(m)}; }
inline Status Corrupt(std::string m) { return {ErrorCode::kCorrupt, std::move(m)}; }
inline Status Unsupported(std::string m) { return {ErrorCode::kUnsupported, std::move(m)}; }
inline Status TooLarge(std::string m) { return {ErrorCode::kTooLarge, std::move(m)}; }
inline Status Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

// A value or the Status explaining why there is none. Accessing value() of an
// error Result is a programming error (checked by assert in debug builds).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Status(ErrorCode::kInternal, "Result built from an ok Status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return *std::move(value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace takeback

// Returns early from the enclosing function when `expr` is an error Status.
#define TAKEBACK_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::takeback::Status takeback_status_ = (expr);        \
    if (!takeback_status_.ok()) return takeback_status_; \
  } while (false)
