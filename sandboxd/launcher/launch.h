// The parent side of `moat run`: prepares the child spec, clones the sandbox, writes id maps,
// joins cgroups, releases the child and supervises it until everything in it is gone.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/plan.h"
#include "policy/result.h"
#include "sandboxd/report/event_log.h"

namespace moat::launcher {

enum class Tier { kFull, kLandlock };

// Which layers enforce network allowlist mode. Anything but kBoth WEAKENS the sandbox: it exists
// so tests can prove each layer stops the attacks on its own (MOAT_TEST_ONLY_LAYER, cli/run.cc).
enum class NetLayers {
  kBoth,
  kGateOnly,    // no cgroup BPF layer
  kKernelOnly,  // no connect() notifier and no seccomp/Landlock network rules (root, tier landlock)
};

struct LaunchOptions {
  Tier tier = Tier::kFull;
  NetLayers net_layers = NetLayers::kBoth;
  bool allow_missing_limits = false;  // --allow-degraded: run without cgroup limits, warned
  std::function<void(const std::string&)> warn;  // printed at once, before the command starts
  report::EventLog* events = nullptr;            // where the gate's decisions go (required)
  bool watch = true;  // as root: the eBPF watch (fails closed unless allow_missing_limits)
};

struct LaunchResult {
  int exit_code = 0;      // what moat exits with
  bool timed_out = false;
  bool oom_killed = false;
  int leftovers = 0;      // processes still running when the command exited (killed)
  std::uint64_t kernel_refusals = 0;  // connects/sends the in-kernel network layer refused
  std::uint64_t lost_events = 0;      // events the watch could not deliver (counted, reported)
};

// Runs argv in a sandbox built from plan. Errors are setup errors (exit 125) or not-found/126.
Result<LaunchResult> run_sandboxed(const policy::Plan& plan, const std::vector<std::string>& argv,
                                   const LaunchOptions& options);

}  // namespace moat::launcher
