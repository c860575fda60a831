// `moat install -p npm -- npm install ARGS`: the two-phase install. Phase 1 runs the client
// alone (scripts off) under TOOL-fetch: registries reachable, the user's tokens readable, no
// package code. Phase 2 runs the lifecycle scripts (`npm rebuild`) under TOOL-scripts: no
// network, no tokens, nothing of the project writable but what the packages build in
// (node_modules). One audit file, one account of both phases.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "cli/context.h"
#include "cli/plan_cache.h"
#include "cli/run.h"
#include "policy/display_text.h"
#include "policy/install_project_code.h"
#include "policy/install_split.h"
#include "policy/variables.h"
#include "policy/yarn_generation.h"
#include "sandboxd/launcher/launch.h"
#include "sandboxd/report/findings.h"
#include "sandboxd/report/git_submodule_findings.h"
#include "sandboxd/report/manifest_findings.h"
#include "sandboxd/report/run_events.h"
#include "sandboxd/report/summary.h"

namespace moat::cli {
namespace {

const char* const kClients[] = {"npm", "pnpm", "yarn"};

std::string basename_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The executable `name` names: a path as it is, else the first match in the caller's PATH;
// symlinks resolved. "" when there is none.
std::string find_executable(const std::string& name, const std::vector<std::string>& environ) {
  auto resolved = [](const std::string& p) -> std::string {
    char buf[PATH_MAX];
    if (::access(p.c_str(), X_OK) != 0 || ::realpath(p.c_str(), buf) == nullptr) return {};
    return buf;
  };
  if (name.find('/') != std::string::npos) return resolved(name);
  for (const std::string& e : environ) {
    if (!e.starts_with("PATH=")) continue;
    std::size_t start = 5;
    while (start <= e.size()) {
      const std::size_t end = std::min(e.find(':', start), e.size());
      const std::string dir = e.substr(start, end - start);
      if (!dir.empty() && dir[0] == '/') {
        if (std::string p = resolved(dir + "/" + name); !p.empty()) return p;
      }
      start = end + 1;
    }
  }
  return {};
}

// The two commands: the user's with scripts off, then the one that runs the scripts.
struct Split {
  std::vector<std::string> fetch, scripts;
};

std::optional<Split> split_command(const std::string& tool, const std::vector<std::string>& command,
                                   const policy::Context& ctx) {
  Split out{{}, {command[0], "rebuild"}};
  if (tool == "npm") {
    out.fetch = policy::with_fetch_flags(command, {"--ignore-scripts"});
    return out;
  }
  if (tool == "pnpm") {
    // pnpm runs the project's .pnpmfile.cjs (hooks: plain JS) while it resolves, and pnpm 10's
    // .pnpmfile.mjs, or whatever `pnpmfile` names: none of it in the phase with the tokens.
    out.fetch = policy::with_fetch_flags(command, {"--ignore-scripts", "--ignore-pnpmfile"});
    return out;
  }
  policy::ToolConfigInput in{ctx.environ, ctx.home, ctx.project, ctx.cwd, ctx.read_file, command};
  const policy::YarnDetection yarn =
      policy::detect_yarn_generation(in, find_executable(command[0], ctx.environ));
  // `why` quotes the project's package.json (its packageManager value): the project's bytes.
  const std::string why = policy::terminal_text(yarn.why);
  if (yarn.generation == policy::YarnGeneration::kBerry) {
    std::fprintf(stderr, "moat install: yarn berry (%s): --mode=skip-build, then yarn rebuild\n",
                 why.c_str());
    out.fetch = policy::with_fetch_flags(command, {"--mode=skip-build"});
    return out;
  }
  // yarn 1 has no command that runs the scripts of an installed tree; npm's rebuild does, on
  // the node_modules yarn wrote, offline.
  if (find_executable("npm", ctx.environ).empty()) {
    std::fprintf(stderr,
                 "moat install: yarn classic (%s) cannot run install scripts apart from the "
                 "download; phase 2 runs `npm rebuild`, and npm is not on PATH. Install npm, or "
                 "use `moat run -p yarn -- yarn install`\n",
                 why.c_str());
    return std::nullopt;
  }
  std::fprintf(stderr, "moat install: yarn classic (%s): --ignore-scripts, then npm rebuild\n",
               why.c_str());
  out.fetch = policy::with_fetch_flags(command, {"--ignore-scripts"});
  out.scripts = {"npm", "rebuild"};
  return out;
}

// Phase 1 runs the client with the tokens readable: a project setting that makes it run a program
// or code the project chose would hand them over (`git=./tools/git.sh` in .npmrc). False when
// moat install must stop; every setting is named with its file either way.
bool project_code_allowed(const std::string& tool, const policy::Context& ctx,
                          const std::vector<std::string>& command, bool trust_project_yarn) {
  // A configuration file of the project that moat cannot read within the project (a symlink
  // leading out, a FIFO) would be judged absent here while the tool inside follows it: refused.
  std::vector<std::string> unreadable;
  auto read = [&](const std::string& path) -> std::optional<std::string> {
    std::optional<std::string> text = ctx.read_file(path);
    struct stat st {};
    if (!text && policy::path_within(path, ctx.project) && ::lstat(path.c_str(), &st) == 0) {
      unreadable.push_back(path);
    }
    return text;
  };
  policy::ToolConfigInput in{ctx.environ, ctx.home, ctx.project, ctx.cwd, read, command};
  bool allowed = true;
  const std::vector<policy::ProjectCodeSetting> settings =
      policy::find_project_code_settings(tool, in);
  for (const std::string& path : unreadable) {
    std::fprintf(stderr,
                 "moat install: refusing: %s cannot be read within the project (a symlink out "
                 "of it, or not a regular file), but %s would read it in phase 1 with your "
                 "registry tokens readable\n  hint: replace it with a regular file\n",
                 policy::terminal_text(path).c_str(), tool.c_str());
    allowed = false;
  }
  for (const policy::ProjectCodeSetting& s : settings) {
    const std::string where = policy::terminal_text(s.file) + ": " + s.key + " = " +
                              policy::terminal_text(s.value, 120) + " (" + s.why + ")";
    switch (s.action) {
      case policy::ProjectCodeAction::kRefused:
        std::fprintf(stderr,
                     "moat install: refusing: %s\n  hint: phase 1 runs %s with your registry "
                     "tokens readable, and a project does not choose this for it; remove the "
                     "line (set it in your own ~/.npmrc if you need it), or use `moat run -p %s "
                     "-- ...`, which hides the tokens\n",
                     where.c_str(), tool.c_str(), tool.c_str());
        allowed = false;
        break;
      case policy::ProjectCodeAction::kRefusedUntrusted:
        if (trust_project_yarn) {
          std::fprintf(stderr,
                       "moat install: WARNING: --trust-project-yarn: phase 1 runs the project's "
                       "code with your registry tokens readable: %s\n",
                       where.c_str());
          break;
        }
        std::fprintf(stderr,
                     "moat install: refusing: %s\n  hint: phase 1 would run it with your "
                     "registry tokens readable. Review it, then add --trust-project-yarn; or use "
                     "`moat run -p yarn -- yarn install`, which hides the tokens\n",
                     where.c_str());
        allowed = false;
        break;
      case policy::ProjectCodeAction::kOverridden:
        std::fprintf(stderr,
                     "moat install: note: %s is not used in phase 1 (npm's default instead); "
                     "phase 2, which runs the scripts without tokens, uses it\n",
                     where.c_str());
        break;
    }
  }
  return allowed;
}

struct Phase {
  const char* title;
  std::string profile;
  std::vector<std::string> argv;
};

std::optional<policy::Plan> compile_phase(const Phase& phase, policy::Context ctx,
                                          const policy::Overrides& ov) {
  ctx.argv = phase.argv;  // each phase's own command: its options are what its tool reads
  std::vector<std::string> replayed;
  policy::CompileOutput out = compile_profile_cached(phase.profile, ctx, ov, &replayed);
  for (const std::string& w : replayed) std::fprintf(stderr, "%s\n", w.c_str());
  if (print_diagnostics(out.diagnostics) || !out.plan) {
    std::fprintf(stderr, "moat install: profile '%s' has errors; nothing was started\n",
                 phase.profile.c_str());
    return std::nullopt;
  }
  return std::move(out.plan);
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// Phase 2 has no network: a package whose script tried anyway downloads at install time (a
// prebuilt binary, or worse). Named one by one, with what it tried to reach.
std::string network_attempts(const std::vector<report::Event>& events) {
  std::map<std::string, std::set<std::string>> by_package;
  for (const report::Event& e : events) {
    if (e.verdict != "refused" || (e.kind != "dns" && e.kind != "connect")) continue;
    std::string who = e.origin.empty() ? "(no package: " + (e.exe.empty() ? "?" : e.exe) + ")"
                                       : e.origin.describe();
    std::string what = e.kind == "dns"
                           ? e.detail.value("name", std::string("?"))
                           : e.detail.value("name", e.detail.value("address", std::string("?"))) +
                                 ":" + std::to_string(e.detail.value("port", 0));
    by_package[who].insert(what);
  }
  if (by_package.empty()) return {};
  std::string out =
      "moat install: phase 2 runs install scripts with the network OFF; these tried to reach "
      "it (a package that downloads at install time fails here; nothing left the sandbox):\n";
  for (const auto& [who, hosts] : by_package) {
    std::string list;
    for (const std::string& h : hosts) list += (list.empty() ? "" : ", ") + h;
    out += "  " + who + " -> " + list + "\n";
  }
  return out;
}

}  // namespace

int install_main(const RunOptions& options) {
  if (options.command.empty()) return 125;
  const std::string tool = basename_of(options.command[0]);
  if (std::none_of(std::begin(kClients), std::end(kClients),
                   [&](const char* c) { return tool == c; })) {
    std::fprintf(stderr,
                 "moat install: '%s' is not a client moat knows how to split (npm, pnpm, yarn); "
                 "use `moat run -p PROFILE -- %s ...`\n",
                 tool.c_str(), tool.c_str());
    return 125;
  }
  // Without -p, the client's own profiles.
  const std::string profile = options.profile == "base" ? tool : options.profile;
  if (profile.find('/') != std::string::npos || profile.ends_with(".yaml") ||
      profile.ends_with(".yml")) {
    std::fprintf(stderr,
                 "moat install: -p takes a profile name (npm): the phases use NAME-fetch and "
                 "NAME-scripts\n");
    return 125;
  }
  policy::Context ctx = gather_context();
  if (std::string why = unsafe_project_reason(ctx.project, ctx.home); !why.empty()) {
    std::fprintf(stderr, "moat install: refusing to run with %s as the project: %s\n",
                 ctx.project.c_str(), why.c_str());
    return 125;
  }
  // Phase 1 runs with the tokens readable: only an install, and none of the project's own code.
  if (Status accepted = policy::check_install_subcommand(tool, options.command); !accepted) {
    std::fprintf(stderr, "moat install: %s\n", accepted.error().to_string().c_str());
    return 125;
  }
  if (!project_code_allowed(tool, ctx, options.command, options.trust_project_yarn)) return 125;
  const std::optional<Split> split = split_command(tool, options.command, ctx);
  if (!split) return 125;
  const Phase phases[2] = {
      {"phase 1/2 (fetch: registry reachable, tokens readable, no package code runs)",
       profile + "-fetch", split->fetch},
      {"phase 2/2 (install scripts: no network, no tokens, only node_modules writable)",
       profile + "-scripts", split->scripts}};
  // Both compiled before anything runs: a bad second profile must not leave a half install.
  std::optional<policy::Plan> plans[2];
  for (int i = 0; i < 2; ++i) {
    plans[i] = compile_phase(phases[i], ctx, options.overrides);
    if (!plans[i]) return 125;
  }
  for (const auto& plan : plans) {
    if (std::string leaving = grant_leaving_project(*plan); !leaving.empty()) {
      std::fprintf(stderr,
                   "moat install: a path granted inside the project leaves it through a symlink: "
                   "%s; nothing was started\n",
                   policy::terminal_text(leaving).c_str());
      return 125;
    }
  }
  for (const auto& plan : plans) create_tool_caches(*plan);

  report::EventLog events;
  if (!events.open(options.audit_path)) {
    std::fprintf(stderr, "moat install: --audit %s: %s%s\n", options.audit_path.c_str(),
                 std::strerror(errno),
                 errno == ELOOP ? " (a symlink: moat does not write through one)" : "");
    return 125;
  }
  for (auto& plan : plans) {
    protect_run_files(*plan, events);
  }
  launcher::LaunchOptions launch;
  launch.events = &events;
  launch.allow_missing_limits = options.allow_degraded;
  launch.watch = !options.no_watch;
  launch.warn = [](const std::string& w) {
    std::fprintf(stderr, "moat: WARNING: %s\n", w.c_str());
  };

  const std::string manifest = ctx.project + "/package.json";
  const report::ManifestSnapshot manifest_before =
      report::snapshot_package_json(manifest, read_written_file(manifest));
  // The coarse clock is the one file times come from: no change made after this is older.
  timespec run_start{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &run_start);
  std::size_t starts[3] = {0, 0, 0};
  int exit_code = 0;
  int ran = 0;
  for (int i = 0; i < 2; ++i) {
    std::fprintf(stderr, "moat install: %s: %s\n", phases[i].title, join(phases[i].argv).c_str());
    starts[i] = events.settled().size();
    auto result = launcher::run_sandboxed(*plans[i], phases[i].argv, launch);
    if (!result) {
      std::fprintf(stderr, "moat install: %s\n", result.error().to_string().c_str());
      return result.error().code == ErrorCode::kNotFound        ? 127
             : result.error().code == ErrorCode::kNotExecutable ? 126
                                                                : 125;
    }
    events.add(report::end_event({result->exit_code, result->timed_out, result->oom_killed,
                                  result->leftovers, result->lost_events, result->kernel_refusals,
                                  events.not_kept(), events.not_written()}));
    ++ran;
    exit_code = result->exit_code;
    if (exit_code != 0) break;  // a failed fetch leaves nothing for the scripts to run on
  }
  starts[ran] = events.settled().size();
  for (report::Event& finding : report::content_findings(events.settled(), read_written_file)) {
    events.add(std::move(finding));
  }
  for (report::Event& finding : report::manifest_findings(
           manifest_before, report::snapshot_package_json(manifest, read_written_file(manifest)),
           events.settled())) {
    events.add(std::move(finding));
  }
  for (report::Event& finding :
       report::submodule_code_findings(ctx.project, run_start, events.settled())) {
    events.add(std::move(finding));
  }
  const std::vector<report::Event>& all = events.settled();
  for (int i = 0; i < ran; ++i) {
    std::vector<report::Event> slice(all.begin() + static_cast<long>(starts[i]),
                                     all.begin() + static_cast<long>(starts[i + 1]));
    if (i == ran - 1)
      slice.insert(slice.end(), all.begin() + static_cast<long>(starts[ran]), all.end());
    std::string text = report::render_text(report::summarize(slice));
    if (!text.empty()) std::fprintf(stderr, "moat install: %s:\n%s", phases[i].title, text.c_str());
    if (i == 1) std::fputs(network_attempts(slice).c_str(), stderr);
  }
  if (ran == 2 && exit_code != 0) {
    std::fprintf(stderr,
                 "moat install: the install scripts failed (exit %d); the packages are "
                 "unpacked but not built\n",
                 exit_code);
  }
  return exit_code;
}

}  // namespace moat::cli
