// Loading and attaching the watch's programs (bpf/watch.bpf.c), shared by the per-run watch
// (watch.cc: one sandbox per load) and the daemon's shared watch (shared_watch.cc: one load).
#pragma once

#include <bpf/libbpf.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "policy/result.h"
#include "watch.skel.h"

namespace moat::watch {

struct SkelDeleter {
  void operator()(watch_bpf* s) const { watch_bpf__destroy(s); }
};
using SkelPtr = std::unique_ptr<watch_bpf, SkelDeleter>;

struct LoadOptions {
  std::uint64_t cgroup_id = 0;    // per-run: the one sandbox's cgroup v2 id
  std::size_t ring_bytes = 4096;  // per-run: the `events` ring
  // The daemon's form: records go to the ring registered for the task's cgroup id; at most
  // max_sandboxes rings at once.
  bool shared = false;
  std::uint32_t max_sandboxes = 0;
};

// Opens and loads the programs; errors carry the call, errno and a hint.
Result<SkelPtr> load_programs(const LoadOptions& options);
enum class ProgramSet {
  kAll,
  kProcesses,  // exec, fork, exit: they run per process event, cheap to keep attached
  kSyscalls,   // sys_exit: it runs on EVERY system call of the host (~+400 ns each with sys_enter
               // here, measured with a getppid loop), so the daemon attaches them only while
               // a sandbox is registered
};
// Fills the syscall map (kAll, kSyscalls) and attaches the set; the links are the caller's to
// destroy.
Result<std::vector<bpf_link*>> attach_programs(watch_bpf* skel, ProgramSet set = ProgramSet::kAll);
std::string bpf_hint(int err);

}  // namespace moat::watch
