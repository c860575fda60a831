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
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace moat::launcher {
namespace {

struct Hierarchies {
  std::string v2;
  std::string v1_memory;
  std::string v1_pids;
};

Hierarchies find_hierarchies() {
  Hierarchies h;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "id parent maj:min root mountpoint opts - fstype source superopts"
    std::istringstream fields(line);
    std::string id, parent, dev, root, mountpoint, opts, token;
    fields >> id >> parent >> dev >> root >> mountpoint >> opts;
    while (fields >> token && token != "-") {
    }
    std::string fstype, source, superopts;
    fields >> fstype >> source >> superopts;
    if (root != "/") continue;
    if (fstype == "cgroup2" && h.v2.empty()) h.v2 = mountpoint;
    if (fstype == "cgroup") {
      std::string opt;
      std::istringstream so(superopts);
      while (std::getline(so, opt, ',')) {
        if (opt == "memory" && h.v1_memory.empty()) h.v1_memory = mountpoint;
        if (opt == "pids" && h.v1_pids.empty()) h.v1_pids = mountpoint;
      }
    }
  }
  return h;
}

bool v2_has_controller(const std::string& v2, const std::string& controller) {
  std::ifstream in(v2 + "/cgroup.controllers");
  std::string c;
  while (in >> c) {
    if (c == controller) return true;
  }
  return false;
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
  std::ifstream in(cg.memory + (cg.memory_v2 ? "/memory.events" : "/memory.oom_control"));
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "oom_kill" && value > 0) return true;
  }
  return false;
}

void cgroup_destroy(const SandboxCgroups& cg) {
  if (!cg.v2.empty()) (void)write_file(cg.v2 + "/cgroup.kill", "1");
  for (const std::string* dir : {&cg.memory, &cg.pids}) {
    if (dir->empty() || *dir == cg.v2) continue;
    std::ifstream procs(*dir + "/cgroup.procs");
    pid_t pid;
    while (procs >> pid) ::kill(pid, SIGKILL);
  }
  if (!cg.memory_v2) remove_cgroup(cg.memory);
  if (!cg.pids_v2) remove_cgroup(cg.pids);
  remove_cgroup(cg.v2);
}

}  // namespace moat::launcher
