// Small kernel-made files (/proc, cgroupfs) read with plain system calls. std::ifstream's first
// use in a process costs tens of microseconds (locale and buffer set-up, per stream): parsing
// the 21 lines of /proc/self/mountinfo with it took ~65 µs of every sandbox's start.
#pragma once

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <string>

#include "sandboxd/sys/unique_fd.h"

namespace moat::sys {

// At most LIMIT bytes from FD, from where it stands to its end (or the first error).
inline std::string read_up_to(int fd, std::size_t limit) {
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (out.size() > limit) out.resize(limit);
  return out;
}

// At most LIMIT bytes of PATH; "" when it cannot be opened or read.
inline std::string read_small_file(const std::string& path, std::size_t limit = 64 * 1024) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return fd.valid() ? read_up_to(fd.get(), limit) : std::string();
}

// The parent of PID, from /proc/PID/stat: the field after the state, which follows the command's
// closing parenthesis (the command itself may hold spaces and parentheses). 0 when unknown.
inline pid_t proc_parent_pid(pid_t pid) {
  const std::string stat = read_small_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 4 >= stat.size()) return 0;
  return static_cast<pid_t>(std::strtol(stat.c_str() + close + 4, nullptr, 10));
}

}  // namespace moat::sys
