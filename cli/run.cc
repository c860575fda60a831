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
  bool landlock_ok = options.allow_tier_landlock || plan.min_tier == policy::Tier::kLandlock;
  auto result = launcher::run_sandboxed(plan, options.command, launch);
  if (!result && result.error().code == ErrorCode::kSyscall && result.error().call == "clone3" &&
      landlock_ok) {
    std::fprintf(stderr,
                 "moat: WARNING: user namespaces are unavailable (%s); running in the landlock "
                 "tier: no private mounts, pid or network namespace (see `moat doctor`)\n",
                 result.error().to_string().c_str());
    launch.tier = launcher::Tier::kLandlock;
    result = launcher::run_sandboxed(plan, options.command, launch);
  }
  if (!result) {
    std::fprintf(stderr, "moat: %s\n", result.error().to_string().c_str());
    return exit_code_for(result.error());
  }
  for (const std::string& w : result->warnings) std::fprintf(stderr, "moat: WARNING: %s\n", w.c_str());
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
