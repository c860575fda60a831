// Exit codes: the command's own; 124 timeout; 125 setup error or bad profile (nothing started);
// 126 cannot execute; 127 not found.
#include "cli/run.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/context.h"
#include "cli/plan_cache.h"
#include "sandboxd/launcher/launch.h"
#include "sandboxd/report/run_events.h"
#include "sandboxd/report/summary.h"

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
    case ErrorCode::kNotFound:
      return 127;
    case ErrorCode::kNotExecutable:
      return 126;
    default:
      return 125;
  }
}

}  // namespace

// A project directory that would make the whole system, or every home, writable is a mistake
// (moat run from / or /home), never a sandbox.
std::string unsafe_project_reason(const std::string& project, const std::string& home) {
  if (project == "/") return "it is the root directory";
  for (const char* system : {"/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/var", "/boot",
                             "/proc", "/sys", "/dev", "/run", "/opt", "/srv"}) {
    std::string s = system;
    if (project == s || project.rfind(s + "/", 0) == 0) {
      if (s == "/var" && project.rfind("/var/tmp/", 0) == 0) continue;
      if (s == "/opt" || s == "/srv") {
        if (project != s) continue;  // projects may live below /opt or /srv, not be them
      }
      return "it is a system directory (" + s + ")";
    }
  }
  for (const char* shared : {"/home", "/tmp", "/var/tmp", "/mnt", "/media"}) {
    if (project == shared) return std::string("it is shared by every user (") + shared + ")";
  }
  if (home.size() > project.size() && home.rfind(project + "/", 0) == 0) {
    return "it contains your home directory (" + home + ")";
  }
  return {};
}

int run_main(const RunOptions& options) {
  policy::Context ctx = gather_context();
  if (std::string why = unsafe_project_reason(ctx.project, ctx.home); !why.empty()) {
    std::fprintf(stderr,
                 "moat: refusing to run with %s as the project (writable): %s.\n"
                 "  hint: cd into the project directory first\n",
                 ctx.project.c_str(), why.c_str());
    return 125;
  }
  std::vector<std::string> replayed;
  policy::CompileOutput compiled =
      compile_profile_cached(options.profile, ctx, options.overrides, &replayed);
  for (const std::string& warning : replayed) std::fprintf(stderr, "%s\n", warning.c_str());
  if (print_diagnostics(compiled.diagnostics) || !compiled.plan) {
    std::fprintf(stderr, "moat: profile '%s' has errors; nothing was started\n",
                 options.profile.c_str());
    return 125;
  }
  const policy::Plan& plan = *compiled.plan;

  report::EventLog events;
  if (!events.open(options.audit_path)) {
    std::fprintf(stderr, "moat: --audit %s: %s\n", options.audit_path.c_str(),
                 std::strerror(errno));
    return 125;
  }
  launcher::LaunchOptions launch;
  launch.events = &events;
  launch.allow_missing_limits = options.allow_degraded;
  launch.watch = !options.no_watch;
  launch.warn = [](const std::string& w) {
    std::fprintf(stderr, "moat: WARNING: %s\n", w.c_str());
  };
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
  if (!result && launch.tier == launcher::Tier::kFull &&
      result.error().code == ErrorCode::kSyscall && result.error().call == "clone3") {
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
  events.add(report::end_event({result->exit_code, result->timed_out, result->oom_killed,
                                 result->leftovers, result->lost_events,
                                 result->kernel_refusals}));
  std::fputs(report::render_text(report::summarize(events.snapshot())).c_str(), stderr);
  if (result->kernel_refusals > 0) {
    std::fprintf(stderr, "moat: the in-kernel network layer refused %llu more attempt%s\n",
                 static_cast<unsigned long long>(result->kernel_refusals),
                 result->kernel_refusals == 1 ? "" : "s");
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
