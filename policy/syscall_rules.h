// The seccomp deny-list as data: which system calls the sandboxed command may not make, and why.
// Compiled to BPF by sandboxd/launcher/seccomp_filter.cc; listed by `moat explain`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moat::policy {

// One comparison on a syscall argument: (arg & mask) == value.
// Matches when (argument & mask) == value; with not_equal, when the whole argument != value.
struct ArgMatch {
  unsigned index = 0;
  std::uint64_t mask = 0;
  std::uint64_t value = 0;
  bool not_equal = false;
};

enum class SyscallAction {
  kErrno,  // fail with `err`
  kKill,   // kill the process: used where continuing would be unsafe
  kNotify, // ask the supervisor (seccomp user notification): the network gate's connect()
};

struct SyscallRule {
  std::string name;    // syscall name as libseccomp knows it
  int number = -1;     // x86_64 number, for calls newer than libseccomp 2.5 knows; -1: by name
  SyscallAction action = SyscallAction::kErrno;
  int err = 0;                // errno for kErrno
  std::vector<ArgMatch> args; // all must match; empty: every call
  std::string why;            // shown by `moat explain`
};

// The deny-list every sandbox gets. Architectures other than the native one are killed.
std::vector<SyscallRule> default_syscall_rules();

// Without the eBPF watch (no root): calls that may change a file notify the supervisor, which
// reports those outside the usual places and lets the kernel decide (sandboxd/supervisor).
// Opens only when their flags write, create or truncate: reads never leave the kernel.
std::vector<SyscallRule> file_change_notify_rules();

// Tier landlock as root (no mount namespace, no user namespace): the command's uid 0 owns the
// host's system files, and Landlock does not govern chmod. Every chmod-family call goes to the
// supervisor, which performs it itself inside the write paths and refuses it elsewhere.
std::vector<SyscallRule> mode_change_notify_rules();

}  // namespace moat::policy
