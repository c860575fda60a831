// Errors as values: a stable code, the failing call with its arguments and errno, and a hint.
// Every layer returns Result<T>; only the yaml-cpp and CLI11 boundaries use exceptions.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace moat {

// Stable codes: tests and callers branch on these, never on message text.
enum class ErrorCode {
  kInvalidArgument,   // bad input from the user (CLI flag, path)
  kProfileNotFound,   // no profile by that name on the search path
  kProfileInvalid,    // the profile has diagnostics (printed separately)
  kIo,                // reading a file failed
  kSyscall,           // a system call failed during setup
  kUnsupported,       // the kernel lacks a protection the profile requires
  kNotFound,          // the command to run does not exist (exit 127)
  kNotExecutable,     // the command exists but cannot be executed (exit 126)
  kInternal,
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // what was being done, in words
  std::string call;     // the system call or function, e.g. "pivot_root"
  std::string args;     // its arguments, rendered
  int err = 0;          // errno, 0 when not a syscall failure
  std::string hint;     // how to fix it, may be empty

  // "message: call(args): strerror (ENAME)\n  hint: ..."
  std::string to_string() const;
};

inline Error make_error(ErrorCode code, std::string message, std::string hint = {}) {
  return Error{code, std::move(message), {}, {}, 0, std::move(hint)};
}

// A failed system call: captures errno at the point of construction.
inline Error syscall_error(std::string message, std::string call, std::string args, int err,
                           std::string hint = {}) {
  return Error{ErrorCode::kSyscall, std::move(message), std::move(call), std::move(args), err,
               std::move(hint)};
}

// std::expected-shaped: holds either a T or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}       // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace moat
