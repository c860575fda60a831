// The parent side of `moat run`: prepares the child spec, clones the sandbox, writes id maps,
// joins cgroups, releases the child and supervises it until everything in it is gone.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
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

// The sandbox's pid 1 after the command and every other process of the sandbox are gone and pid 1
// itself is inside the kernel's exit path (its report channel closed: nothing of ours runs in it
// any more), while the kernel tears down its namespaces (~0.4 ms: every mount of the sandbox).
// Reaped, waiting if need be, when this goes away: moat never returns before the sandbox is gone,
// but writes its account meanwhile.
class PendingReap {
 public:
  PendingReap() = default;
  explicit PendingReap(int pid) : pid_(pid) {}
  PendingReap(const PendingReap&) = delete;
  PendingReap& operator=(const PendingReap&) = delete;
  PendingReap(PendingReap&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), after_(std::exchange(other.after_, nullptr)) {}
  PendingReap& operator=(PendingReap&& other) noexcept {
    if (this != &other) {
      wait();
      pid_ = std::exchange(other.pid_, -1);
      after_ = std::exchange(other.after_, nullptr);
    }
    return *this;
  }
  ~PendingReap() { wait(); }
  bool pending() const { return pid_ > 0; }
  // What must wait for pid 1 to be gone (removing the cgroups it is in), done right after the reap.
  void then(std::function<void()> after) { after_ = std::move(after); }
  void wait();

 private:
  int pid_ = -1;
  std::function<void()> after_;
};

// How long the command has to end after the user's first SIGINT/SIGTERM/SIGHUP/SIGQUIT.
inline constexpr int kStopGraceSeconds = 10;

struct LaunchResult {
  int exit_code = 0;      // what moat exits with
  bool timed_out = false;
  // A second SIGINT/SIGTERM/SIGHUP/SIGQUIT, or kStopGraceSeconds after the first, killed every
  // process of the sandbox (a stopped or signal-ignoring command cannot outlast the user): the
  // signal, and exit_code 128 + it.
  int killed_after_signal = 0;
  bool oom_killed = false;
  int leftovers = 0;      // processes still running when the command exited (killed)
  std::uint64_t kernel_refusals = 0;  // connects/sends the in-kernel network layer refused
  std::uint64_t lost_events = 0;      // events the watch could not deliver (counted, reported)
  PendingReap pid1;  // set when pid 1 was still exiting at return
};

// Runs argv in a sandbox built from plan. Errors are setup errors (exit 125) or not-found/126.
Result<LaunchResult> run_sandboxed(const policy::Plan& plan, const std::vector<std::string>& argv,
                                   const LaunchOptions& options);

}  // namespace moat::launcher
