// The file system calls the watch reports, with this architecture's numbers: user space fills the
// BPF syscall map from this table, so the programs need no per-architecture constants.
#pragma once

#include <cstdint>
#include <vector>

namespace moat::watch {

struct TracedSyscall {
  const char* name;  // "openat"
  long nr;           // this architecture's __NR_ value
  std::uint32_t op;  // enum moat_watch_op
};

// Every traced call on this architecture (arm64 has no open, creat, unlink, rename...).
const std::vector<TracedSyscall>& traced_syscalls();

}  // namespace moat::watch
