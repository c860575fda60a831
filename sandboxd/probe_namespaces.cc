// Probes the eight namespace types by unshare()ing each, as the current user, in parallel forked
// children, and explains failures with the sysctls that gate user namespaces.
#include <sched.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>

#include "sandboxd/probe_internal.h"

namespace moat::probe::detail {
namespace {

struct NamespaceKind {
  const char* name;       // "mount namespace"
  const char* flag_name;  // "CLONE_NEWNS"
  const char* sysctl;     // user.max_*_namespaces
  int flag;               // CLONE_NEW*, 0 for the user namespace itself
  Feature KernelFeatures::*slot;
};

constexpr NamespaceKind kKinds[] = {
    {"user namespace", "", "user.max_user_namespaces", 0, &KernelFeatures::user_ns},
    {"mount namespace", "CLONE_NEWNS", "user.max_mnt_namespaces", CLONE_NEWNS,
     &KernelFeatures::mount_ns},
    {"pid namespace", "CLONE_NEWPID", "user.max_pid_namespaces", CLONE_NEWPID,
     &KernelFeatures::pid_ns},
    {"net namespace", "CLONE_NEWNET", "user.max_net_namespaces", CLONE_NEWNET,
     &KernelFeatures::net_ns},
    {"ipc namespace", "CLONE_NEWIPC", "user.max_ipc_namespaces", CLONE_NEWIPC,
     &KernelFeatures::ipc_ns},
    {"uts namespace", "CLONE_NEWUTS", "user.max_uts_namespaces", CLONE_NEWUTS,
     &KernelFeatures::uts_ns},
    {"cgroup namespace", "CLONE_NEWCGROUP", "user.max_cgroup_namespaces", CLONE_NEWCGROUP,
     &KernelFeatures::cgroup_ns},
    {"time namespace", "CLONE_NEWTIME", "user.max_time_namespaces", CLONE_NEWTIME,
     &KernelFeatures::time_ns},
};

// Result slots of one child.
enum Slot { kWithUserns = 0, kMapIds = 1, kUse = 2, kAlone = 3 };

// Writes a whole buffer to a /proc file; 0 or errno. Raw calls only: runs after fork().
int write_proc(const char* path, const char* text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  std::size_t len = std::strlen(text);
  ssize_t n = ::write(fd, text, len);
  int err = n == static_cast<ssize_t>(len) ? 0 : (n < 0 ? errno : EIO);
  ::close(fd);
  return err;
}

// Why user namespaces may be refused, from the sysctls that gate them.
void explain_userns_sysctls(std::string& detail, std::string& fix) {
  std::string notes;
  std::string fixes;
  auto note = [&](const std::string& s) { notes += (notes.empty() ? "" : ", ") + s; };
  auto add_fix = [&](const std::string& s) { fixes += (fixes.empty() ? "" : "; ") + s; };
  if (auto v = read_sysctl("/proc/sys/user/max_user_namespaces")) {
    note("user.max_user_namespaces=" + *v);
    if (*v == "0") add_fix("sysctl -w user.max_user_namespaces=15000");
  }
  if (auto v = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone")) {
    note("kernel.unprivileged_userns_clone=" + *v);
    if (*v == "0") add_fix("sysctl -w kernel.unprivileged_userns_clone=1");
  }
  if (auto v = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")) {
    note("kernel.apparmor_restrict_unprivileged_userns=" + *v);
    if (*v == "1") {
      add_fix(
          "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or install an AppArmor "
          "profile granting `userns,` to moat");
    }
  }
  if (!notes.empty()) detail += " [" + notes + "]";
  if (!fixes.empty()) fix = fixes;
}

}  // namespace

NamespaceTries start_namespace_tries() {
  NamespaceTries out;
  const bool is_root = ::geteuid() == 0;
  out.is_root = is_root;
  // Formatted before fork(): the children may not allocate.
  char uid_map[64];
  char gid_map[64];
  std::snprintf(uid_map, sizeof uid_map, "0 %u 1\n", static_cast<unsigned>(::geteuid()));
  std::snprintf(gid_map, sizeof gid_map, "0 %u 1\n", static_cast<unsigned>(::getegid()));

  static_assert(sizeof kKinds / sizeof kKinds[0] == kNamespaceKinds);
  for (std::size_t i = 0; i < kNamespaceKinds; ++i) {
    const int flag = kKinds[i].flag;
    out.children[i] = start_child_try([flag, is_root, &uid_map, &gid_map](int* r) {
      r[kWithUserns] = ::unshare(CLONE_NEWUSER | flag) == 0 ? 0 : errno;
      if (r[kWithUserns] == 0 && flag == 0) {
        // What the launcher does next: map ourselves to root inside.
        r[kMapIds] = write_proc("/proc/self/setgroups", "deny\n");
        if (r[kMapIds] == 0) r[kMapIds] = write_proc("/proc/self/uid_map", uid_map);
        if (r[kMapIds] == 0) r[kMapIds] = write_proc("/proc/self/gid_map", gid_map);
      }
      if (r[kWithUserns] != 0 && is_root && flag != 0) {
        r[kAlone] = ::unshare(flag) == 0 ? 0 : errno;  // root does not need the user namespace
      }
      bool entered = r[kWithUserns] == 0 || r[kAlone] == 0;
      if (entered && (flag == CLONE_NEWPID || flag == CLONE_NEWTIME)) {
        // These apply to children only: a child must be creatable (pid 1 of the new namespace).
        pid_t pid = ::fork();
        if (pid == 0) ::_exit(0);
        if (pid < 0) {
          r[kUse] = errno;
        } else {
          int status = 0;
          r[kUse] = ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? 0 : ECHILD;
        }
      }
    });
  }
  return out;
}

void finish_namespace_tries(NamespaceTries& tries, KernelFeatures& out) {
  const bool is_root = tries.is_root;
  for (std::size_t i = 0; i < kNamespaceKinds; ++i) {
    const NamespaceKind& kind = kKinds[i];
    Feature& f = out.*kind.slot;
    f = Feature{kind.name, false, "", "", false};
    Result<TryResults> res = finish_child_try(tries.children[i]);
    if (!res.ok()) {
      f.detail = "could not try: " + res.error().to_string();
      continue;
    }
    const TryResults& r = *res;
    const std::string call = kind.flag == 0
                                 ? "unshare(CLONE_NEWUSER)"
                                 : std::string("unshare(CLONE_NEWUSER|") + kind.flag_name + ")";
    if (r[kWithUserns] == 0) {
      if (kind.flag == 0 && r[kMapIds] != 0) {
        f.detail = call + " ok, but writing uid_map/gid_map: " + errno_text(r[kMapIds]);
        f.fix = "a LSM or a container runtime forbids id maps; run moat outside it";
        continue;
      }
      if (r[kUse] > 0) {
        f.detail = call + " ok, but fork() into it: " + errno_text(r[kUse]);
        f.fix = "raise " + std::string(kind.sysctl) + " / the pids limit";
        continue;
      }
      f.available = true;
      f.detail = call + " ok" + (kind.flag == 0 ? ", uid/gid maps written" : "") +
                 (is_root ? "" : " (unprivileged)");
      if (kind.flag == 0) {
        std::string unused_fix;
        explain_userns_sysctls(f.detail, unused_fix);
      }
      continue;
    }

    const int err = r[kWithUserns];
    f.detail = call + ": " + errno_text(err);
    if (r[kAlone] == 0 && r[kUse] <= 0) {
      // Root without a user namespace still gets this one; the user namespace row says why.
      f.available = true;
      f.detail += "; without CLONE_NEWUSER ok (root)";
      continue;
    }
    if (err == EINVAL || err == ENOSYS) {
      f.fix = "rebuild the kernel with the CONFIG_*_NS option for the " + std::string(kind.name);
    } else if (err == ENOSPC) {
      f.fix = std::string(kind.sysctl) + " is 0 or exhausted: sysctl -w " + kind.sysctl + "=15000";
    } else if (err == EPERM || err == EACCES || err == EUSERS) {
      f.fix = "user namespaces are restricted for this user";
      explain_userns_sysctls(f.detail, f.fix);
      f.fix += "; inside a container, run it with user namespaces allowed (e.g. seccomp profile)";
    } else {
      f.fix = "unexpected error; see the detail";
    }
  }
}

}  // namespace moat::probe::detail
