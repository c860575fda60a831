// A cgroup per sandbox (root only): v2 for cgroup.kill and the BPF scope, v1 memory/pids where
// v2 lacks those controllers (shared/KERNEL.md: this machine kind is such a case).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "policy/result.h"

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
};

// Creates the cgroups and writes the limits. Fails (closed) when a requested limit cannot be set.
Result<SandboxCgroups> setup_cgroups(const std::string& name, const CgroupLimits& limits);
// Moves pid into the v1 cgroups (memory, pids). The v2 cgroup is joined at clone time
// (CLONE_INTO_CGROUP), which costs nothing; a v1 move waits for an RCU grace period (~10 ms).
Status cgroup_attach_v1(const SandboxCgroups& cgroups, pid_t pid);
bool cgroup_needs_v1_attach(const SandboxCgroups& cgroups);
// Kills whatever is left (cgroup.kill on v2) and removes the cgroups.
void cgroup_destroy(const SandboxCgroups& cgroups);
// The memory cgroup recorded an OOM kill.
bool cgroup_oom_killed(const SandboxCgroups& cgroups);

}  // namespace moat::launcher
