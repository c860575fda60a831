// Finds the cgroup hierarchies from /proc/self/mountinfo, creates moat-<name> in each one we
// need, writes limits, and tears them down after the run.
#include "sandboxd/launcher/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include "sandboxd/sys/small_file.h"

namespace moat::launcher {
namespace {

struct Hierarchies {
  std::string v2;
  std::string v1_memory;
  std::string v1_pids;
};

// The next space-separated field of LINE from POS ("" at the end).
std::string_view next_field(std::string_view line, std::size_t& pos) {
  while (pos < line.size() && line[pos] == ' ') ++pos;
  const std::size_t start = pos;
  while (pos < line.size() && line[pos] != ' ') ++pos;
  return line.substr(start, pos - start);
}

bool has_word(std::string_view list, std::string_view word, char separator) {
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t end = list.find(separator, pos);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(pos, end - pos);
    if (!item.empty() && item.back() == '\n') item.remove_suffix(1);
    if (item == word) return true;
    pos = end + 1;
  }
  return false;
}

Hierarchies find_hierarchies() {
  Hierarchies h;
  const std::string text = sys::read_small_file("/proc/self/mountinfo", 1 << 20);
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    // "id parent maj:min root mountpoint opts [optional fields] - fstype source superopts"
    std::size_t pos = 0;
    for (int skip = 0; skip < 3; ++skip) next_field(line, pos);
    const std::string_view root = next_field(line, pos);
    const std::string_view mountpoint = next_field(line, pos);
    next_field(line, pos);  // opts
    for (std::string_view token = next_field(line, pos); !token.empty() && token != "-";
         token = next_field(line, pos)) {
    }
    const std::string_view fstype = next_field(line, pos);
    next_field(line, pos);  // source
    const std::string_view superopts = next_field(line, pos);
    if (root != "/") continue;
    if (fstype == "cgroup2" && h.v2.empty()) h.v2 = mountpoint;
    if (fstype == "cgroup") {
      if (h.v1_memory.empty() && has_word(superopts, "memory", ',')) h.v1_memory = mountpoint;
      if (h.v1_pids.empty() && has_word(superopts, "pids", ',')) h.v1_pids = mountpoint;
    }
  }
  return h;
}

bool v2_has_controller(const std::string& v2, const std::string& controller) {
  return has_word(sys::read_small_file(v2 + "/cgroup.controllers"), controller, ' ');
}

Status write_file(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return syscall_error("configuring the sandbox cgroup", "open", path, errno);
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return syscall_error("configuring the sandbox cgroup", "write", path + ", \"" + value + "\"",
                         err);
  }
  return {};
}

Status make_cgroup(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return syscall_error("creating the sandbox cgroup", "mkdir", path, errno,
                         "cgroups need root (or sandboxd); run as root or drop the limits");
  }
  return {};
}

void remove_cgroup(const std::string& path) {
  if (path.empty()) return;
  // The last processes may take a moment to leave after SIGKILL.
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// A moat killed with SIGKILL leaves its (empty) cgroups behind: remove those whose owner is gone.
void remove_stale(const std::string& hierarchy) {
  if (hierarchy.empty()) return;
  DIR* dir = ::opendir(hierarchy.c_str());
  if (dir == nullptr) return;
  while (dirent* d = ::readdir(dir)) {
    if (std::strncmp(d->d_name, "moat-", 5) != 0) continue;
    pid_t owner = static_cast<pid_t>(std::atoi(d->d_name + 5));
    if (owner <= 0 || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
    ::rmdir((hierarchy + "/" + d->d_name).c_str());  // fails, harmlessly, if not empty
  }
  ::closedir(dir);
}

}  // namespace

Result<SandboxCgroups> setup_cgroups(const std::string& name, const CgroupLimits& limits) {
  Hierarchies h = find_hierarchies();
  SandboxCgroups cg;
  cg.hierarchies = {h.v2, h.v1_memory, h.v1_pids};
  const std::string leaf = "/moat-" + name;
  if (!h.v2.empty()) {
    cg.v2 = h.v2 + leaf;
    if (auto st = make_cgroup(cg.v2); !st) return st.error();
  }
  if (limits.memory_bytes) {
    if (!h.v2.empty() && v2_has_controller(h.v2, "memory")) {
      (void)write_file(h.v2 + "/cgroup.subtree_control", "+memory");
      cg.memory = cg.v2;
      cg.memory_v2 = true;
      if (auto st = write_file(cg.v2 + "/memory.max", std::to_string(*limits.memory_bytes));
          !st) {
        return st.error();
      }
      (void)write_file(cg.v2 + "/memory.swap.max", "0");
    } else if (!h.v1_memory.empty()) {
      cg.memory = h.v1_memory + leaf;
      if (auto st = make_cgroup(cg.memory); !st) return st.error();
      if (auto st = write_file(cg.memory + "/memory.limit_in_bytes",
                               std::to_string(*limits.memory_bytes));
          !st) {
        return st.error();
      }
    } else {
      return make_error(ErrorCode::kUnsupported,
                        "limits.memory: no cgroup memory controller on this host (v1 or v2)",
                        "enable the memory controller, or remove limits.memory from the profile");
    }
  }
  if (limits.processes) {
    if (!h.v2.empty() && v2_has_controller(h.v2, "pids")) {
      (void)write_file(h.v2 + "/cgroup.subtree_control", "+pids");
      cg.pids = cg.v2;
      cg.pids_v2 = true;
      if (auto st = write_file(cg.v2 + "/pids.max", std::to_string(*limits.processes)); !st) {
        return st.error();
      }
    } else if (!h.v1_pids.empty()) {
      cg.pids = h.v1_pids + leaf;
      if (auto st = make_cgroup(cg.pids); !st) return st.error();
      if (auto st = write_file(cg.pids + "/pids.max", std::to_string(*limits.processes)); !st) {
        return st.error();
      }
    } else {
      return make_error(ErrorCode::kUnsupported,
                        "limits.processes: no cgroup pids controller on this host (v1 or v2)",
                        "enable the pids controller, or remove limits.processes");
    }
  }
  return cg;
}

void remove_stale_cgroups(const SandboxCgroups& cgroups) {
  for (const std::string& root : cgroups.hierarchies) remove_stale(root);
}

Result<std::vector<sys::UniqueFd>> cgroup_open_v1_tasks(const SandboxCgroups& cg, int min_fd) {
  std::vector<sys::UniqueFd> fds;
  for (const std::string* dir : {&cg.memory, &cg.pids}) {
    if (dir->empty() || *dir == cg.v2) continue;
    std::string path = *dir + "/tasks";
    sys::UniqueFd opened(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!opened.valid()) return syscall_error("opening a v1 cgroup", "open", path, errno);
    sys::UniqueFd moved(::fcntl(opened.get(), F_DUPFD_CLOEXEC, min_fd));
    if (!moved.valid()) return syscall_error("opening a v1 cgroup", "fcntl", "F_DUPFD_CLOEXEC", errno);
    fds.push_back(std::move(moved));
  }
  return fds;
}

bool cgroup_oom_killed(const SandboxCgroups& cg) {
  if (cg.memory.empty()) return false;
  const std::string text =
      sys::read_small_file(cg.memory + (cg.memory_v2 ? "/memory.events" : "/memory.oom_control"));
  // "key value" lines; oom_kill counts the kills.
  for (std::size_t at = text.find("oom_kill "); at != std::string::npos;
       at = text.find("oom_kill ", at + 1)) {
    if (at == 0 || text[at - 1] == '\n')
      return std::strtoull(text.c_str() + at + 9, nullptr, 10) > 0;
  }
  return false;
}

void cgroup_destroy(const SandboxCgroups& cg) {
  if (!cg.v2.empty()) (void)write_file(cg.v2 + "/cgroup.kill", "1");
  for (const std::string* dir : {&cg.memory, &cg.pids}) {
    if (dir->empty() || *dir == cg.v2) continue;
    const std::string procs = sys::read_small_file(*dir + "/cgroup.procs");
    for (const char* p = procs.c_str(); *p != '\0';) {
      char* end = nullptr;
      const long pid = std::strtol(p, &end, 10);
      if (end == p) break;
      if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
      p = end;
    }
  }
  if (!cg.memory_v2) remove_cgroup(cg.memory);
  if (!cg.pids_v2) remove_cgroup(cg.pids);
  remove_cgroup(cg.v2);
}

}  // namespace moat::launcher
