// What this kernel offers moat, found by really trying (loading, unsharing, installing), and the
// tier that follows from it. probe_* never changes the calling process: risky tries run in a child.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace moat::probe {

struct Feature {
  std::string name;
  bool available = false;
  std::string detail;          // what was tried and what the kernel said
  std::string fix;             // how to get it when missing; empty when available
  bool informational = false;  // a fact about the host, not a protection moat needs
};

struct KernelFeatures {
  std::string kernel_release;

  // Landlock ABI version, or -errno from landlock_create_ruleset(VERSION) when missing
  // (ENOSYS: not built in; EOPNOTSUPP: built in but not enabled at boot).
  int landlock_abi = 0;
  Feature landlock;                 // the same, rendered with the reason and the fix
  bool landlock_tcp = false;        // ABI >= 4: TCP bind/connect rules
  bool landlock_scopes = false;     // ABI >= 6: abstract unix socket and signal scoping
  bool landlock_log_flags = false;  // ABI >= 7: landlock_restrict_self log flags

  Feature no_new_privs;        // PR_SET_NO_NEW_PRIVS in a child
  Feature seccomp;             // SECCOMP_SET_MODE_FILTER (allow-all filter) in a child
  Feature seccomp_user_notif;  // SECCOMP_FILTER_FLAG_NEW_LISTENER in a child

  // unshare(CLONE_NEWUSER | flag) in a child, as the current user.
  Feature user_ns, mount_ns, pid_ns, net_ns, ipc_ns, uts_ns, cgroup_ns, time_ns;

  Feature io_uring_disabled_sysctl;  // kernel.io_uring_disabled (informational)
  Feature tiocsti_legacy;            // dev.tty.legacy_tiocsti (informational)

  struct Cgroups {
    bool v2_mounted = false;
    std::string v2_path;                      // mount point of the cgroup2 hierarchy
    bool v2_favordynmods = false;  // mounted with it: task moves wait for no RCU grace period
    std::vector<std::string> v2_controllers;  // cgroup.controllers of the v2 root
    bool v1_memory = false;
    std::string v1_memory_path;  // mount point of the v1 memory hierarchy
    bool v1_pids = false;
    std::string v1_pids_path;
    bool can_create = false;    // a child of our own v2 cgroup could be made (and was removed)
    std::string create_detail;  // where it was tried and what happened
    bool v2_kill = false;       // cgroup.kill exists (5.14+)
  } cgroups;

  struct Bpf {
    bool syscall_allowed = false;       // at least one program type loaded
    std::string unprivileged_disabled;  // kernel.unprivileged_bpf_disabled, "" when absent
    // socket_filter, tracepoint, cgroup_sock_addr, cgroup_sock, cgroup_skb, lsm, fentry
    std::vector<Feature> program_types;
  } bpf;

  Feature fanotify_perm;  // FAN_CLASS_CONTENT + FAN_OPEN_PERM mark (informational)

  bool is_root = false;  // effective uid 0 in the initial user namespace
  uid_t uid = 0;         // effective uid
};

// Reads and tries everything above. Quick (a few milliseconds): the child tries run in parallel.
KernelFeatures probe_kernel();

enum class TierVerdict { kFull, kLandlock, kNone };

const char* tier_name(TierVerdict tier);  // "full", "landlock", "none"

// The first kernel release with a Landlock ABI ("Linux 6.7" for 4), for fix hints.
const char* landlock_abi_kernel(int abi);

struct TierAssessment {
  TierVerdict tier = TierVerdict::kNone;
  std::vector<std::string> reasons;  // what is missing for a higher tier, and how to fix it
};

// full: user, mount, pid, net, ipc and uts namespaces, Landlock ABI >= 1 and seccomp.
// landlock: Landlock and seccomp without the namespaces. none: anything less.
TierAssessment assess_tier(const KernelFeatures& features);

// Looks up a program type probed by probe_kernel ("lsm", "fentry", ...); nullptr when absent.
const Feature* find_bpf_program_type(const KernelFeatures& features, const std::string& name);

}  // namespace moat::probe
