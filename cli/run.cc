// Exit codes: the command's own; 124 timeout; 125 setup error or bad profile (nothing started);
// 126 cannot execute; 127 not found.
#include "cli/run.h"

#include <unistd.h>

#include <cstdio>

#include "cli/context.h"
#include "sandboxd/launcher/launch.h"

namespace moat::cli {

bool print_diagnostics(const std::vector<policy::Diagnostic>& diagnostics) {
  bool error = false;
  for (const policy::Diagnostic& d : diagnostics) {
    std::fprintf(stderr, "%s\n", policy::format_diagnostic(d).c_str());
    error = error || d.is_error;
  }
  return error;
}

namespace {

int exit_code_for(const Error& e) {
  switch (e.code) {
    case ErrorCode::kNotFound: return 127;
    case ErrorCode::kNotExecutable: return 126;
    default: return 125;
  }
}

}  // namespace

int run_main(const RunOptions& options) {
  policy::Context ctx = gather_context();
  policy::CompileOutput compiled = policy::compile_profile(options.profile, ctx, options.overrides);
  if (print_diagnostics(compiled.diagnostics) || !compiled.plan) {
    std::fprintf(stderr, "moat: profile '%s' has errors; nothing was started\n",
                 options.profile.c_str());
    return 125;
  }
  const policy::Plan& plan = *compiled.plan;

  launcher::LaunchOptions launch;
  launch.allow_missing_limits = options.allow_degraded;
  launch.warn = [](const std::string& w) { std::fprintf(stderr, "moat: WARNING: %s\n", w.c_str()); };
  bool landlock_ok = options.allow_tier_landlock || plan.min_tier == policy::Tier::kLandlock;
  constexpr const char* kLandlockTierLoss =
      "tier landlock: no private mounts (the host's files stay visible where Landlock allows "
      "reading), no pid namespace (leftover processes are killed by moat instead), no network "
      "namespace (TCP closed by Landlock, other IP sockets by seccomp), no cgroup limits";
  if (options.force_tier_landlock) {
    launch.tier = launcher::Tier::kLandlock;
    launch.warn(kLandlockTierLoss);
  }
  auto result = launcher::run_sandboxed(plan, options.command, launch);
  if (!result && launch.tier == launcher::Tier::kFull && result.error().code == ErrorCode::kSyscall &&
      result.error().call == "clone3") {
    if (!landlock_ok) {
      std::fprintf(stderr,
                   "moat: user namespaces are unavailable, so the full tier cannot run. "
                   "`moat doctor` says why; --allow-tier landlock runs with less protection.\n");
    } else {
      launch.warn("user namespaces are unavailable (" + result.error().to_string() + ")");
      launch.warn(kLandlockTierLoss);
      launch.tier = launcher::Tier::kLandlock;
      result = launcher::run_sandboxed(plan, options.command, launch);
    }
  }
  if (!result) {
    std::fprintf(stderr, "moat: %s\n", result.error().to_string().c_str());
    return exit_code_for(result.error());
  }
  if (result->timed_out) {
    std::fprintf(stderr, "moat: time limit reached; every process of the sandbox was killed\n");
  }
  if (result->oom_killed) {
    std::fprintf(stderr, "moat: the memory limit was reached; the kernel killed a process\n");
  }
  if (result->leftovers > 0) {
    std::fprintf(stderr, "moat: %d process%s still running when the command exited; killed\n",
                 result->leftovers, result->leftovers == 1 ? " was" : "es were");
  }
  return result->exit_code;
}

}  // namespace moat::cli
