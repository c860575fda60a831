// Helpers shared by the probe files: finishing a forked-child try, reading sysctls, naming errnos.
// Nothing here decides what a feature means; the concern files do.
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sandboxd/probe_internal.h"

namespace moat::probe::detail {

std::optional<std::string> read_sysctl(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return std::nullopt;
  std::string s = buf.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

std::string errno_text(int err) {
  const char* name = strerrorname_np(err);
  std::string out = name != nullptr ? name : ("errno " + std::to_string(err));
  out += " (";
  out += std::strerror(err);
  out += ")";
  return out;
}

Result<TryResults> finish_child_try(ChildTry& attempt) {
  if (attempt.pid < 0) {
    return syscall_error("start a probe child", "fork", "", attempt.start_errno);
  }
  TryResults results{};
  results.fill(kNotTried);
  std::size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(results.data());
  while (got < sizeof results) {
    ssize_t n = ::read(attempt.read_end.get(), bytes + got, sizeof results - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  attempt.read_end.reset();
  int status = 0;
  pid_t waited;
  do {
    waited = ::waitpid(attempt.pid, &status, 0);
  } while (waited < 0 && errno == EINTR);
  int wait_errno = errno;
  attempt.pid = -1;
  if (waited < 0) {
    return syscall_error("wait for a probe child", "waitpid", "", wait_errno);
  }
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    return make_error(ErrorCode::kInternal, "probe child killed by signal " +
                                                std::to_string(WTERMSIG(status)) + " (SIG" +
                                                (abbrev != nullptr ? abbrev : "?") + ")");
  }
  if (got != sizeof results) {
    return make_error(ErrorCode::kInternal, "probe child exited without reporting (status " +
                                                std::to_string(WEXITSTATUS(status)) + ")");
  }
  return results;
}

}  // namespace moat::probe::detail
