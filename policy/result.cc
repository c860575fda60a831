// Rendering of errors for people: the call, its arguments, errno by name, and the hint.
#include "policy/result.h"

#include "policy/display_text.h"

namespace moat {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid-argument";
    case ErrorCode::kProfileNotFound: return "profile-not-found";
    case ErrorCode::kProfileInvalid: return "profile-invalid";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kSyscall: return "syscall";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kNotFound: return "not-found";
    case ErrorCode::kNotExecutable: return "not-executable";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Error::to_string() const {
  // The message and the arguments may carry names from the project or the sandbox (a path, a
  // host): shown escaped, never sent to the terminal as they are (display_text.h).
  std::string out = policy::terminal_text(message, 2000);
  if (!call.empty()) {
    out += ": " + call + "(" + policy::terminal_text(args, 2000) + ")";
  }
  if (err != 0) {
    const char* name = strerrorname_np(err);
    out += ": ";
    out += std::strerror(err);
    if (name != nullptr) {
      out += " (";
      out += name;
      out += ")";
    }
  }
  if (!hint.empty()) out += "\n  hint: " + hint;
  return out;
}

}  // namespace moat
