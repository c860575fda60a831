// Leftover processes; see leftovers.h. Membership is the pid namespace (the link /proc/N/ns/pid
// names it), which the sandbox cannot leave: it has no capability to create another.
#include "sandboxd/launcher/leftovers.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <iterator>
#include <string>

#include "sandboxd/report/origin.h"

namespace moat::launcher {
namespace {

constexpr size_t kMaxRead = 64 * 1024;

std::string read_link(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string read_bounded(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out(kMaxRead, '\0');
  size_t have = 0;
  while (have < out.size()) {
    ssize_t n = ::read(fd, out.data() + have, out.size() - have);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(have);
  return out;
}

pid_t parent_of(const std::string& stat) {
  // "pid (comm) state ppid ...": comm may hold anything, so parse after the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 4 >= stat.size()) return 0;
  return static_cast<pid_t>(std::strtol(stat.c_str() + close + 4, nullptr, 10));
}

}  // namespace

std::string pid_namespace_of(pid_t pid) {
  return read_link("/proc/" + std::to_string(pid) + "/ns/pid");
}

std::vector<report::Event> describe_leftovers(const std::string& sandbox_ns, pid_t sandbox_pid1) {
  std::vector<report::Event> out;
  if (sandbox_ns.empty()) return out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == sandbox_pid1) continue;
    const std::string dir = "/proc/" + std::string(entry->d_name);
    if (read_link(dir + "/ns/pid") != sandbox_ns) continue;
    report::Event e;
    e.kind = "kill-at-exit";
    e.layer = "supervisor";
    e.pid = static_cast<pid_t>(pid);
    e.ppid = parent_of(read_bounded(dir + "/stat"));
    e.exe = read_link(dir + "/exe");
    std::string command = read_bounded(dir + "/cmdline");
    while (!command.empty() && command.back() == '\0') command.pop_back();
    for (char& c : command) {
      if (c == '\0') c = ' ';
    }
    e.origin = report::resolve_origin(read_bounded(dir + "/environ"), read_link(dir + "/cwd"), {});
    e.detail = {{"command", command}};
    out.push_back(std::move(e));
  }
  ::closedir(proc);
  return out;
}

}  // namespace moat::launcher
