// Everything the sandbox child needs, computed by the parent before clone. The child reads it and
// makes system calls; it never allocates, logs or decides (STYLE: the parent compiles, the child
// installs).
#pragma once

#include <linux/filter.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <string>
#include <vector>

namespace moat::launcher {

enum class MountKind {
  kTmpfs,         // fresh tmpfs at target (mode in `mode`)
  kBind,          // bind host `source` at target
  kSelfBind,      // bind target onto itself: makes it a mount point (cannot be renamed away)
  kMaskFile,      // an empty, unreadable file over target
  kMaskDir,       // an empty, unreadable directory over target
  kSymlink,       // a symlink at target whose content is `source`
  kProc,          // fresh procfs for the sandbox's pid namespace
  kDevpts,        // private devpts instance
  kDevNode,       // bind one host device node (null, zero, ...) at target
  kGeneratedFile, // a read-only file whose content is `source` (resolv.conf for the gate)
  kOverlay,       // host `source` read-only below a private tmpfs upper layer (moat learn's home)
};

struct MountOp {
  MountKind kind = MountKind::kBind;
  std::string source;  // host path (seen under the staging old root), or symlink content
  std::string target;  // path inside the sandbox
  bool is_dir = true;  // what the mount point must be
  bool read_only = true;
  bool no_exec = false;
  unsigned mode = 0755;  // tmpfs root mode
  bool optional = false;  // skip when the target does not exist (kernel-dependent /proc files)
  std::string why;       // for errors and `moat explain`

  // Precomputed for the child: "/oldroot" + source, "/newroot" + target, tmpfs options.
  std::string fs_options;
  std::string staged_source;  // kGeneratedFile: its own file in the staging root
  std::string staged_target;
  // kBind: a source the sandbox (or another one) can change, in a writable tree: bound from
  // the very file opened without following links, not by path (child.cc bind_exactly).
  bool exact = false;
};

// One Landlock path rule, applied inside the new root after pivot_root.
struct LandlockPath {
  std::string path;
  std::uint64_t rights = 0;  // already masked to what this ABI knows
  bool optional = false;     // skipped when absent (e.g. /lib32 on a system without it)
};

struct RlimitSetting {
  int resource = 0;
  rlimit value{};
};

// Descriptors the parent passes at or above this number survive the child's fixed-fds step.
constexpr int kFirstFreeChildFd = 8;

struct ChildSpec {
  bool namespaces = true;  // tier full: user, mount, pid, ipc, uts, cgroup, net
  // The signal mask the command starts with: the caller's. The sandbox's setup keeps the
  // parent's (the forwarded signals blocked): a signal forwarded to pid 1 before it waits for
  // them is queued, not dropped (a pid namespace's init ignores what it does not handle).
  sigset_t command_mask{};
  std::vector<MountOp> mounts;
  std::string hostname = "moat";

  int landlock_abi = 0;
  std::uint64_t landlock_handled_fs = 0;
  std::uint64_t landlock_handled_net = 0;
  std::uint64_t landlock_scoped = 0;
  std::vector<LandlockPath> landlock_paths;

  std::vector<sock_filter> seccomp_program;
  // Network gate (allowlist mode): DNS stub sockets bound at gate_dns_address:53 inside the
  // sandbox's network namespace, and connect() handed to the supervisor (seccomp notification).
  bool gate = false;
  // File-changing calls notify the supervisor: seccomp's listener goes to the parent as with the
  // gate (one listener serves both).
  bool file_notify = false;
  // The parent attaches the eBPF watch while we set up (it needs our cgroup, which exists from
  // clone): the command waits for its byte on the report channel, so its first exec is seen.
  bool await_watch = false;
  std::uint32_t gate_dns_address = 0x7f000035;  // 127.0.0.53, host byte order
  // The network namespace comes with clone3 (allowlist mode: the gate opens the sandbox's socket
  // tables through /proc/PID right after clone, so pid 1 must be in it from the start). Otherwise
  // a helper in the child creates it in parallel with the mounts (child.cc, start-network).
  bool network_at_clone = false;
  std::vector<RlimitSetting> rlimits;
  int cap_last_cap = 40;

  std::string cwd;
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;  // null-terminated, points into argv_storage
  std::vector<char*> envp;  // null-terminated, points into env_storage

  // Pipes shared with the parent (set by the launcher right before clone).
  int release_read_fd = -1;  // parent writes one byte when the id maps are in place
  // v1 cgroup `tasks` files (memory, pids) the parent opened; -1 when unused. Numbers above the
  // fixed descriptors (report 3, ruleset 4), so fixed-fds cannot overwrite them.
  int v1_cgroup_tasks_fds[2] = {-1, -1};
  int report_write_fd = -1;  // SOCK_SEQPACKET: setup failure, readiness, exit status, gate fds
  // MOAT_TRACE_SETUP: a page shared with the parent where the child stamps CLOCK_MONOTONIC (ns)
  // after each setup step (index = step; the last slot: the command started). Null otherwise.
  std::int64_t* step_clock = nullptr;
};

}  // namespace moat::launcher
