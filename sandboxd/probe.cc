// probe_kernel(): assembles the picture of this kernel from the concern files, plus the probes
// that are a single harmless call (Landlock version, io_uring and TIOCSTI sysctls, fanotify).
#include "sandboxd/probe.h"

#include <sys/fanotify.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include <cerrno>
#include <sstream>

#include "sandboxd/probe_internal.h"
#include "sandboxd/sys/landlock.h"

namespace moat::probe {
namespace {

using detail::errno_text;
using detail::read_sysctl;

// The initial user namespace maps every id to itself: "0 0 4294967295".
bool in_initial_user_ns() {
  auto map = read_sysctl("/proc/self/uid_map");
  if (!map) return true;  // no user namespaces at all
  std::istringstream in(*map);
  unsigned long long inside = 1, outside = 1, count = 0;
  in >> inside >> outside >> count;
  return inside == 0 && outside == 0 && count == 4294967295ULL;
}

void probe_landlock(KernelFeatures& out) {
  out.landlock_abi = sys::landlock::abi_version();
  const int abi = out.landlock_abi;
  out.landlock = Feature{"landlock", abi >= 1, "", "", false};
  out.landlock_tcp = abi >= 4;
  out.landlock_scopes = abi >= 6;
  out.landlock_log_flags = abi >= 7;
  if (abi >= 1) {
    out.landlock.detail = "ABI " + std::to_string(abi) + ": fs rules" +
                          (abi >= 3 ? " + truncate" : "") + (abi >= 5 ? " + ioctl_dev" : "");
    return;
  }
  const int err = -abi;
  if (err == 0) {
    out.landlock.detail = "landlock_create_ruleset(VERSION) returned 0";
    out.landlock.fix = "unexpected: upgrade to Linux 5.13+";
    return;
  }
  out.landlock.detail = "landlock_create_ruleset(VERSION): " + errno_text(err);
  if (err == ENOSYS) {
    out.landlock.fix = "rebuild the kernel with CONFIG_SECURITY_LANDLOCK=y (Linux 5.13+)";
  } else if (err == EOPNOTSUPP) {
    out.landlock.fix =
        "Landlock is built in but not enabled: add `landlock` to the lsm= boot parameter "
        "(e.g. lsm=landlock,lockdown,yama,integrity,apparmor,bpf)";
  } else {
    out.landlock.fix = "the caller's seccomp filter (container runtime?) blocks landlock_*";
  }
}

void probe_io_uring(KernelFeatures& out) {
  Feature& f = out.io_uring_disabled_sysctl;
  f = Feature{"io_uring", true, "", "", true};
  auto v = read_sysctl("/proc/sys/kernel/io_uring_disabled");
  if (!v) {
    f.detail = "kernel.io_uring_disabled absent (pre-6.6): io_uring open to all";
  } else if (*v == "0") {
    f.detail =
        "kernel.io_uring_disabled=0: open to all; sandboxes block io_uring_setup with seccomp "
        "(io_uring walks past seccomp filters)";
  } else if (*v == "1") {
    f.detail = "kernel.io_uring_disabled=1: only for kernel.io_uring_group members";
  } else {
    f.detail = "kernel.io_uring_disabled=" + *v + ": disabled for everyone";
  }
}

void probe_tiocsti(KernelFeatures& out) {
  Feature& f = out.tiocsti_legacy;
  f = Feature{"TIOCSTI", true, "", "", true};
  auto v = read_sysctl("/proc/sys/dev/tty/legacy_tiocsti");
  if (!v) {
    f.detail =
        "dev.tty.legacy_tiocsti absent (pre-6.2): TIOCSTI injection works; seccomp blocks it";
  } else if (*v == "1") {
    f.detail =
        "dev.tty.legacy_tiocsti=1: TIOCSTI injection works unless seccomp blocks it (it does)";
  } else {
    f.detail = "dev.tty.legacy_tiocsti=" + *v + ": TIOCSTI needs CAP_SYS_ADMIN";
  }
}

// fanotify permission events (a BPF-LSM substitute). Adding a real mark would make the group's
// close() wait for an SRCU grace period (~20 ms), so we *remove* a FAN_OPEN_PERM mark that does
// not exist: the kernel validates the mask first (EINVAL without
// CONFIG_FANOTIFY_ACCESS_PERMISSIONS) and then answers ENOENT for the missing mark.
void probe_fanotify(KernelFeatures& out) {
  Feature& f = out.fanotify_perm;
  f = Feature{"fanotify_perm", false, "", "", true};
  sys::UniqueFd fan(::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC));
  if (!fan.valid()) {
    int err = errno;
    f.detail = "fanotify_init(FAN_CLASS_CONTENT): " + errno_text(err);
    f.fix =
        err == EPERM ? "needs root (CAP_SYS_ADMIN)" : "rebuild the kernel with CONFIG_FANOTIFY=y";
    return;
  }
  sys::UniqueFd target(::memfd_create("moat-probe", MFD_CLOEXEC));
  if (!target.valid()) {
    f.detail = "memfd_create: " + errno_text(errno);
    return;
  }
  int rc = ::fanotify_mark(fan.get(), FAN_MARK_REMOVE, FAN_OPEN_PERM, target.get(), nullptr);
  int err = rc == 0 ? 0 : errno;
  if (err != ENOENT && err != 0) {
    f.detail = "fanotify_mark(FAN_MARK_REMOVE, FAN_OPEN_PERM): " + errno_text(err);
    f.fix = err == EINVAL ? "rebuild the kernel with CONFIG_FANOTIFY_ACCESS_PERMISSIONS=y"
                          : "unexpected error; see the detail";
    return;
  }
  f.available = true;
  f.detail = "FAN_CLASS_CONTENT + FAN_OPEN_PERM accepted (open denial by cgroup without BPF-LSM)";
}

}  // namespace

const char* landlock_abi_kernel(int abi) {
  switch (abi) {
    case 1:
      return "Linux 5.13";
    case 2:
      return "Linux 5.19";
    case 3:
      return "Linux 6.2";
    case 4:
      return "Linux 6.7";
    case 5:
      return "Linux 6.10";
    case 6:
      return "Linux 6.12";
    case 7:
      return "Linux 6.15";
    default:
      return "a newer kernel";
  }
}

KernelFeatures probe_kernel() {
  KernelFeatures out;
  out.uid = ::geteuid();
  // Root inside a user namespace is not root for BPF, cgroups or fanotify.
  out.is_root = out.uid == 0 && in_initial_user_ns();
  utsname uts;
  if (::uname(&uts) == 0) out.kernel_release = uts.release;

  // The forked tries first: they run while this process does the in-process probes.
  detail::NamespaceTries namespaces = detail::start_namespace_tries();
  detail::SeccompTry seccomp = detail::start_seccomp_try();
  probe_landlock(out);
  probe_io_uring(out);
  probe_tiocsti(out);
  out.cgroups = detail::probe_cgroups();
  out.bpf = detail::probe_bpf(out.is_root);
  probe_fanotify(out);
  detail::finish_seccomp_try(seccomp, out);
  detail::finish_namespace_tries(namespaces, out);
  return out;
}

const Feature* find_bpf_program_type(const KernelFeatures& features, const std::string& name) {
  for (const Feature& f : features.bpf.program_types) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace moat::probe
