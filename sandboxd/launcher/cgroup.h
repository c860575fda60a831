// A cgroup per sandbox (root only): v2 for cgroup.kill and the BPF scope, v1 memory/pids where
// v2 lacks those controllers (shared/KERNEL.md: this machine kind is such a case).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/result.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::launcher {

struct CgroupLimits {
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> processes;
};

struct SandboxCgroups {
  std::string v2;         // empty when none
  std::string memory;     // v1 memory cgroup, or v2 when v2 has the memory controller
  std::string pids;       // v1 pids cgroup, or v2 when v2 has the pids controller
  bool memory_v2 = false;
  bool pids_v2 = false;
  std::vector<std::string> hierarchies;  // the roots they were made in ("" when absent)
};

// Creates the cgroups and writes the limits. Fails (closed) when a requested limit cannot be set.
Result<SandboxCgroups> setup_cgroups(const std::string& name, const CgroupLimits& limits);
// Removes the empty cgroups a moat killed with SIGKILL left in those hierarchies (their owner
// pid is gone). Not on the way to the command: the launcher calls it once the sandbox runs.
void remove_stale_cgroups(const SandboxCgroups& cgroups);
// The `tasks` files of the v1 cgroups (memory, pids), opened for writing, each at a descriptor
// number >= min_fd. The sandbox joins them itself by writing "0" (itself, one thread) before it
// can fork: the kernel checks the opener's credentials (ours), and a thread moving itself skips
// the global threadgroup lock whose write side waits for an RCU grace period (0.3-10 ms when
// another process moves a whole process). The v2 cgroup is joined at clone (CLONE_INTO_CGROUP).
Result<std::vector<sys::UniqueFd>> cgroup_open_v1_tasks(const SandboxCgroups& cgroups, int min_fd);
// Kills whatever is left (cgroup.kill on v2) and removes the cgroups.
void cgroup_destroy(const SandboxCgroups& cgroups);
// The memory cgroup recorded an OOM kill.
bool cgroup_oom_killed(const SandboxCgroups& cgroups);

}  // namespace moat::launcher
