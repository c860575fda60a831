// The deny-list: each rule names the attack it closes. Default is allow; foreign arches are killed.
// Why a deny-list: installs and agents run arbitrary toolchains; the dangerous calls are few.
#include "policy/syscall_rules.h"

#include <cerrno>

namespace moat::policy {
namespace {

constexpr std::uint64_t kSetUid = 04000;
constexpr std::uint64_t kSetGid = 02000;
constexpr std::uint64_t kTiocsti = 0x5412;
constexpr std::uint64_t kTioclinux = 0x541C;
constexpr std::uint64_t kClone_NewUser = 0x10000000;
constexpr std::uint64_t kSockRaw = 3;
constexpr std::uint64_t kSockTypeMask = 0xf;
constexpr std::uint64_t kAfPacket = 17;
constexpr std::uint64_t kAfVsock = 40;
constexpr std::uint64_t kAddrNoRandomize = 0x0040000;
constexpr std::uint64_t kReadImpliesExec = 0x0400000;
constexpr std::uint64_t kLow32 = 0xffffffffu;
constexpr std::uint64_t kSolTcp = 6;
constexpr std::uint64_t kTcpUlp = 31;

SyscallRule deny(std::string name, std::string why, int err = EPERM) {
  SyscallRule rule;
  rule.name = std::move(name);
  rule.err = err;
  rule.why = std::move(why);
  return rule;
}

SyscallRule deny_if(std::string name, ArgMatch match, std::string why, int err = EPERM) {
  SyscallRule rule = deny(std::move(name), std::move(why), err);
  rule.args.push_back(match);
  return rule;
}

// A call newer than libseccomp 2.5.4's table, denied by its x86_64 number.
SyscallRule deny_number(std::string name, int number, std::string why, int err = EPERM) {
  SyscallRule rule = deny(std::move(name), std::move(why), err);
  rule.number = number;
  return rule;
}

}  // namespace

std::vector<SyscallRule> default_syscall_rules() {
  std::vector<SyscallRule> rules;
  auto add = [&rules](SyscallRule rule) { rules.push_back(std::move(rule)); };

  const char* kDebug = "reading or steering another process (ptrace family)";
  for (const char* name : {"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
                           "process_madvise", "kcmp"}) {
    add(deny(name, kDebug));
  }

  const char* kMount = "changing the file system view";
  for (const char* name : {"mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
                           "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"}) {
    add(deny(name, kMount));
  }
  add(deny_number("open_tree_attr", 467, kMount));

  add(deny("bpf", "loading kernel programs (BPF)"));
  add(deny("perf_event_open", "kernel performance events: a large attack surface"));
  for (const char* name : {"keyctl", "add_key", "request_key"}) {
    add(deny(name, "kernel keyrings may hold other sessions' credentials"));
  }
  add(deny("userfaultfd", "userfaultfd is a building block of kernel exploits"));
  for (const char* name : {"io_uring_setup", "io_uring_enter", "io_uring_register"}) {
    add(deny(name, "io_uring operations bypass seccomp argument filters"));
  }

  // New namespaces: a new user namespace hands back every capability inside it.
  add(deny_if("unshare", {0, kClone_NewUser, kClone_NewUser}, "creating a user namespace"));
  add(deny_if("clone", {0, kClone_NewUser, kClone_NewUser}, "creating a user namespace"));
  add(deny("clone3", "clone3's flags live in memory seccomp cannot read; libc falls back to clone",
           ENOSYS));
  add(deny("setns", "joining another namespace"));

  // Terminal injection: TIOCSTI pushes keystrokes into the user's shell (CVE-2017-5226).
  add(deny_if("ioctl", {1, kLow32, kTiocsti}, "injecting input into the terminal (TIOCSTI)"));
  add(deny_if("ioctl", {1, kLow32, kTioclinux}, "console control (TIOCLINUX)"));

  // Set-user-ID files and file capabilities would outlive the sandbox as host backdoors.
  const char* kSuid = "set-user-ID/set-group-ID files outlive the sandbox as backdoors";
  for (auto [name, index] : {std::pair{"chmod", 1u}, {"fchmod", 1u}, {"fchmodat", 2u},
                             {"open", 2u}, {"openat", 3u}, {"creat", 1u}, {"mknod", 1u},
                             {"mknodat", 2u}}) {
    add(deny_if(name, {index, kSetUid, kSetUid}, kSuid));
    add(deny_if(name, {index, kSetGid, kSetGid}, kSuid));
  }
  for (std::uint64_t bit : {kSetUid, kSetGid}) {
    SyscallRule rule = deny_number("fchmodat2", 452, kSuid);
    rule.args.push_back({2, bit, bit});
    add(rule);
  }
  add(deny("openat2", "openat2's mode lives in memory seccomp cannot read; libc falls back",
           ENOSYS));
  const char* kXattr = "extended attributes carry file capabilities (security.capability)";
  for (const char* name : {"setxattr", "lsetxattr", "fsetxattr"}) {
    add(deny(name, kXattr, EOPNOTSUPP));
  }
  add(deny_number("setxattrat", 463, kXattr, EOPNOTSUPP));

  // Raw and packet sockets: spoofing and sniffing; no sandboxed tool needs them.
  add(deny_if("socket", {0, kLow32, kAfPacket}, "packet sockets"));
  // vsock is not confined by network namespaces: on a VM it reaches the hypervisor's services.
  add(deny_if("socket", {0, kLow32, kAfVsock}, "vsock sockets (host and hypervisor services)"));
  add(deny_if("socket", {1, kSockTypeMask, kSockRaw}, "raw sockets"));

  // Kernel TLS (and any other upper-layer protocol) on a TCP socket: the gate's kernel name check
  // reads what the program sends, and with kTLS that is the plaintext, while the bytes that leave
  // are whatever the program's chosen keys make of it. TLS libraries fall back to user space.
  SyscallRule ulp = deny("setsockopt", "TCP upper-layer protocols (kernel TLS)", ENOPROTOOPT);
  ulp.args = {{1, kLow32, kSolTcp}, {2, kLow32, kTcpUlp}};
  add(ulp);

  // Personality flags that weaken exploit mitigations.
  // Same uid is enough to change another process's limits: lowered, they would kill the
  // sandbox's pid 1 (RLIMIT_CPU) or blind its account of leftovers (RLIMIT_NOFILE).
  add(deny_if("prlimit64", {0, 0, 0, true}, "changing another process's resource limits"));
  add(deny_if("personality", {0, kAddrNoRandomize, kAddrNoRandomize}, "disabling ASLR"));
  add(deny_if("personality", {0, kReadImpliesExec, kReadImpliesExec}, "executable data pages"));

  const char* kSystem = "changes to the whole system";
  for (const char* name :
       {"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
        "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "iopl", "ioperm",
        "open_by_handle_at", "lookup_dcookie", "fanotify_init", "settimeofday",
        "clock_settime", "clock_adjtime", "adjtimex", "uselib", "vhangup", "nfsservctl"}) {
    add(deny(name, kSystem));
  }
  return rules;
}

std::vector<SyscallRule> mode_change_notify_rules() {
  std::vector<SyscallRule> rules;
  for (const char* name :
       {"chmod", "fchmod", "fchmodat", "fchmodat2", "utime", "utimes", "futimesat", "utimensat"}) {
    SyscallRule rule;
    rule.name = name;
    if (std::string_view(name) == "fchmodat2") rule.number = 452;  // newer than libseccomp 2.5.4
    rule.action = SyscallAction::kNotify;
    rule.why =
        "tier landlock as root: a mode or file time changes only inside the write paths (the "
        "supervisor changes it)";
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<SyscallRule> file_change_notify_rules() {
  const char* why = "file changes are reported by the supervisor (no eBPF watch without root)";
  std::vector<SyscallRule> rules;
  auto notify = [&](const char* name, std::vector<ArgMatch> args = {}) {
    SyscallRule rule;
    rule.name = name;
    rule.action = SyscallAction::kNotify;
    rule.args = std::move(args);
    rule.why = why;
    rules.push_back(std::move(rule));
  };
  constexpr std::uint64_t kWrOnly = 01, kRdWr = 02, kCreat = 0100, kTrunc = 01000;
  for (std::uint64_t flag : {kWrOnly, kRdWr, kCreat, kTrunc}) {
    notify("openat", {{2, flag, flag}});
    notify("open", {{1, flag, flag}});
  }
  for (const char* name : {"creat", "truncate", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir",
                           "rename", "renameat", "renameat2", "link", "linkat", "symlink",
                           "symlinkat"}) {
    notify(name);
  }
  return rules;
}

}  // namespace moat::policy
