// Probes cgroups: finds the v2 and v1 (memory, pids) hierarchies in /proc/self/mountinfo, reads
// the v2 controllers, and tries to create (then remove) a child of our own v2 cgroup.
#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "sandboxd/probe_internal.h"

namespace moat::probe::detail {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_path(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool has_option(const std::string& options, const std::string& name) {
  std::stringstream ss(options);
  std::string opt;
  while (std::getline(ss, opt, ',')) {
    if (opt == name) return true;
  }
  return false;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool any_child_has_kill(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    found = exists(dir + "/" + e->d_name + "/cgroup.kill");
    break;  // one child answers for the kernel
  }
  ::closedir(d);
  return found;
}

// Our cgroup in the v2 hierarchy ("/" or "/a/b"), from the "0::" line of /proc/self/cgroup.
std::string own_v2_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "/";
}

}  // namespace

KernelFeatures::Cgroups probe_cgroups() {
  KernelFeatures::Cgroups cg;
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    std::size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::stringstream head(line.substr(0, dash));
    std::stringstream tail(line.substr(dash + 3));
    std::string id, parent, devno, root, mount_point, fstype, source, super_options;
    head >> id >> parent >> devno >> root >> mount_point;
    tail >> fstype >> source >> super_options;
    mount_point = unescape_mount_path(mount_point);
    if (fstype == "cgroup2" && !cg.v2_mounted) {
      cg.v2_mounted = true;
      cg.v2_path = mount_point;
      cg.v2_favordynmods = has_option(super_options, "favordynmods");
    } else if (fstype == "cgroup") {
      if (!cg.v1_memory && has_option(super_options, "memory")) {
        cg.v1_memory = true;
        cg.v1_memory_path = mount_point;
      }
      if (!cg.v1_pids && has_option(super_options, "pids")) {
        cg.v1_pids = true;
        cg.v1_pids_path = mount_point;
      }
    }
  }
  if (!cg.v2_mounted) {
    cg.create_detail = "no cgroup2 mount in /proc/self/mountinfo";
    return cg;
  }

  if (auto controllers = read_sysctl(cg.v2_path + "/cgroup.controllers")) {
    std::stringstream ss(*controllers);
    std::string c;
    while (ss >> c) cg.v2_controllers.push_back(c);
  }

  std::string own = own_v2_cgroup();
  std::string parent_dir = cg.v2_path + (own == "/" ? "" : own);
  std::string child = parent_dir + "/moat-probe-" + std::to_string(::getpid());
  if (::mkdir(child.c_str(), 0755) == 0) {
    cg.can_create = true;
    cg.v2_kill = exists(child + "/cgroup.kill");
    cg.create_detail = "mkdir/rmdir " + child + " ok";
    if (::rmdir(child.c_str()) != 0) {
      cg.create_detail += " (rmdir failed: " + errno_text(errno) + ")";
    }
  } else {
    int err = errno;
    cg.create_detail = "mkdir " + child + ": " + errno_text(err);
    // cgroup.kill exists in every non-root cgroup of a 5.14+ kernel: look at ours or a child
    // of the root (the root cgroup itself has none).
    cg.v2_kill = own != "/" ? exists(parent_dir + "/cgroup.kill") : any_child_has_kill(cg.v2_path);
  }
  return cg;
}

}  // namespace moat::probe::detail
