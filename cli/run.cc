// Exit codes: the command's own; 124 timeout; 125 setup error or bad profile (nothing started);
// 126 cannot execute; 127 not found.
#include "cli/run.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <optional>

#include "cli/context.h"
#include "cli/plan_cache.h"
#include "policy/display_text.h"
#include "policy/variables.h"
#include "sandboxd/launcher/launch.h"
#include "sandboxd/report/drift.h"
#include "sandboxd/report/findings.h"
#include "sandboxd/report/git_submodule_findings.h"
#include "sandboxd/report/learned_profile.h"
#include "sandboxd/report/manifest_findings.h"
#include "sandboxd/report/markdown_report.h"
#include "sandboxd/report/run_events.h"
#include "sandboxd/report/summary.h"
#include "sandboxd/sys/unique_fd.h"

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

// MOAT_TEST_ONLY_LAYER=gate|kernel runs network allowlist mode with ONE of its two layers, so the
// network suite can prove that each stops the attacks alone. It only ever weakens, only when
// asked by name, never from a profile, and says so loudly on every run.
Result<launcher::NetLayers> test_only_layer(const std::function<void(const std::string&)>& warn) {
  const char* value = std::getenv("MOAT_TEST_ONLY_LAYER");
  if (value == nullptr || value[0] == '\0') return launcher::NetLayers::kBoth;
  const std::string v = value;
  if (v != "gate" && v != "kernel") {
    return make_error(ErrorCode::kInvalidArgument,
                      "MOAT_TEST_ONLY_LAYER='" + v + "': expected 'gate' or 'kernel'",
                      "it is a test switch that removes a protection; unset it");
  }
  warn("MOAT_TEST_ONLY_LAYER=" + v + ": TEST MODE, the network allowlist is enforced by the " +
       (v == "gate" ? std::string("user-space gate alone (no in-kernel BPF layer)")
                    : std::string("in-kernel BPF layer alone (no connect() broker, no seccomp "
                                  "or Landlock network rules)")) +
       ". Never use this outside moat's own tests.");
  return v == "gate" ? launcher::NetLayers::kGateOnly : launcher::NetLayers::kKernelOnly;
}

}  // namespace

// The content of a file the run wrote (the first 4 MiB), for the findings. A symlink as its last
// component is not followed (the run chose the path: the findings judge the link itself); links
// on the way are, as Python follows them (a virtualenv's lib64 -> lib). Regular files only: a
// FIFO must not hang moat.
std::optional<std::string> read_written_file(const std::string& path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW;
  how.resolve = RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof(how)));
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::string> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    constexpr std::size_t kMax = 4u << 20;
    std::string content(std::min<std::size_t>(kMax, static_cast<std::size_t>(st.st_size) + 1),
                        '\0');
    std::size_t got = 0;
    ssize_t n = 0;
    while (got < content.size() &&
           (n = ::read(fd, content.data() + got, content.size() - got)) > 0) {
      got += static_cast<std::size_t>(n);
    }
    if (n >= 0) {
      content.resize(got);
      out = std::move(content);
    }
  }
  ::close(fd);
  return out;
}

namespace {

std::string today() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

// A CI job's step summary (GitHub Actions sets GITHUB_STEP_SUMMARY to a file it renders as
// markdown on the run's page). Appended from outside the sandbox, which cannot reach the file.
void append_to_step_summary(const std::string& md) {
  const char* path = std::getenv("GITHUB_STEP_SUMMARY");
  if (path == nullptr || *path == '\0') return;
  const int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 || ::write(fd, md.data(), md.size()) != static_cast<ssize_t>(md.size())) {
    std::fprintf(stderr, "moat: cannot append the step summary: open/write(%s): %s\n", path,
                 std::strerror(errno));
  }
  if (fd >= 0) ::close(fd);
}

report::MarkdownHeading step_heading(const policy::Plan& plan,
                                     const std::vector<std::string>& command) {
  std::string line;
  for (const std::string& word : command) line += (line.empty() ? "" : " ") + word;
  return {line, plan.profile_name};
}

void append_step_summary(const report::Summary& summary, const policy::Plan& plan,
                         const std::vector<std::string>& command) {
  append_to_step_summary(report::render_markdown(summary, step_heading(plan, command)));
}

void append_step_failure(const policy::Plan& plan, const std::vector<std::string>& command,
                         int exit_code, const std::string& message) {
  append_to_step_summary(
      report::render_markdown_failure(step_heading(plan, command), exit_code, message));
}

// Refused before a plan exists (or before it is used): said on stderr, and in a CI job's step
// summary too, where a job that never started must not look like one that did nothing.
int refuse_before_start(const RunOptions& options, const std::string& message,
                        const std::string& hint) {
  std::fprintf(stderr, "moat: %s\n", message.c_str());
  if (!hint.empty()) std::fprintf(stderr, "  hint: %s\n", hint.c_str());
  policy::Plan named;
  named.profile_name = options.profile;
  append_step_failure(named, options.command, 125, message);
  return 125;
}

// Where `moat learn --out` writes, pinned before the run: the directory is opened then, and the
// file is made there under a temporary name and renamed over the final one. Whatever the command
// left at the path meanwhile (a symlink to ~/.bashrc, a directory symlink into
// ~/.config/moat/profiles) is replaced or ignored, never written through.
struct LearnTarget {
  sys::UniqueFd dir;
  std::string name;
};

Result<LearnTarget> open_learn_target(const std::string& out) {
  const std::size_t slash = out.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : out.substr(0, slash);
  LearnTarget t;
  t.name = slash == std::string::npos ? out : out.substr(slash + 1);
  if (t.name.empty() || t.name == "." || t.name == "..") {
    return make_error(ErrorCode::kInvalidArgument, "--out " + out + ": not a file name",
                      "name the profile file to write, e.g. --out myapp.yaml");
  }
  t.dir.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!t.dir.valid()) {
    return syscall_error("opening the directory of --out " + out, "open", dir, errno,
                         "create the directory first");
  }
  return t;
}

Status write_file_at(const LearnTarget& target, const std::string& text) {
  const std::string tmp = "." + target.name + ".moat-" + std::to_string(::getpid()) + ".tmp";
  sys::UniqueFd fd(::openat(target.dir.get(), tmp.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return syscall_error("writing the learned profile", "openat", tmp, errno);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    const int err = errno;
    ::unlinkat(target.dir.get(), tmp.c_str(), 0);
    return syscall_error("writing the learned profile", "write", tmp, err);
  }
  fd.reset();
  if (::renameat(target.dir.get(), tmp.c_str(), target.dir.get(), target.name.c_str()) != 0) {
    const int err = errno;
    ::unlinkat(target.dir.get(), tmp.c_str(), 0);
    return syscall_error("writing the learned profile", "renameat", tmp + " -> " + target.name,
                         err);
  }
  return {};
}

// `moat learn --out FILE`: the profile, then a check that it loads (our own output is input too).
int write_learned_profile(const RunOptions& options, const policy::Context& ctx,
                          const policy::Plan& plan, const std::vector<report::Event>& events,
                          const LearnTarget& target) {
  report::LearnInput input;
  bool is_file = options.profile.find('/') != std::string::npos ||
                 options.profile.ends_with(".yaml") || options.profile.ends_with(".yml");
  input.extends = is_file && !plan.profile_files.empty() ? plan.profile_files.back() : options.profile;
  for (const std::string& word : options.command) {
    input.command += (input.command.empty() ? "" : " ") + word;
  }
  input.date = today();
  input.home = plan.home;
  input.project = plan.project;
  // As the compiler expanded them: mandatory, the profile's own and git's configured ones, and
  // the masked secrets (a raw "${HOME}/..." compared with a real path would match nothing).
  for (const policy::ProtectRule& rule : plan.protect) input.protected_paths.push_back(rule.path);
  for (const policy::DenyRule& deny : plan.deny) input.protected_paths.push_back(deny.path);
  for (const std::string& var : ctx.environ) {
    if (!var.starts_with("PATH=")) continue;
    for (std::size_t pos = 5; pos <= var.size();) {
      std::size_t end = std::min(var.find(':', pos), var.size());
      std::string dir = var.substr(pos, end - pos);
      if (!dir.empty() && dir[0] == '/') input.command_dirs.push_back(policy::normalize_path(dir));
      pos = end + 1;
    }
  }
  report::LearnedProfile learned = report::learn_profile(events, input);
  if (Status st = write_file_at(target, learned.yaml); !st) {
    std::fprintf(stderr, "moat learn: cannot write %s: %s\n", options.learn_out.c_str(),
                 st.error().to_string().c_str());
    return 125;
  }
  policy::CompileOutput check = policy::check_profile_file(options.learn_out, ctx);
  if (print_diagnostics(check.diagnostics) || !check.plan) {
    std::fprintf(stderr, "moat learn: BUG: the learned profile %s does not load\n",
                 options.learn_out.c_str());
    return 125;
  }
  std::fprintf(stderr, "moat learn: wrote %s: %zu write path%s, %zu host%s",
               options.learn_out.c_str(), learned.write_paths.size(),
               learned.write_paths.size() == 1 ? "" : "s", learned.hosts.size(),
               learned.hosts.size() == 1 ? "" : "s");
  if (!learned.not_learned.empty()) {
    std::fprintf(stderr, "; %zu path%s written NOT learned (listed in the profile too)",
                 learned.not_learned.size(), learned.not_learned.size() == 1 ? "" : "s");
  }
  std::fputs("\n", stderr);
  // Said here as well as in the file: a run that needs /etc/cron.d fails under its profile, and
  // the user should know why before that.
  for (const report::NotLearned& n : learned.not_learned) {
    std::fprintf(stderr, "moat learn: not learned: %s (%s)\n",
                 policy::terminal_text(n.path).c_str(), policy::terminal_text(n.why).c_str());
  }
  if (::geteuid() != 0) {
    std::fputs("moat learn: without root there is no file watch: only hosts were learned\n", stderr);
  }
  return 0;
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
  // Every dotfile would be writable: shell start-up files are protected, but editors', git's
  // and language runtimes' start-up files are not all known.
  if (project == home) return "it is your home directory";
  // The same judged on the real paths: HOME=/home/alice with the project under /var/home/alice
  // (a linked /home), or written with a double slash.
  char real_project[PATH_MAX], real_home[PATH_MAX];
  if (::realpath(project.c_str(), real_project) != nullptr &&
      ::realpath(home.c_str(), real_home) != nullptr) {
    const std::string p = real_project, h = real_home;
    if (p == h) return "it is your home directory";
    if (h.size() > p.size() && (p == "/" || h.rfind(p + "/", 0) == 0)) {
      return "it contains your home directory (" + home + ")";
    }
  }
  return {};
}

std::string grant_leaving_project(const policy::Plan& plan) {
  char real_project[PATH_MAX];
  if (::realpath(plan.project.c_str(), real_project) == nullptr) {
    return plan.project + " cannot be resolved (" + std::strerror(errno) + ")";
  }
  for (const policy::PathRule& rule : plan.paths) {
    if (rule.path == plan.project || !policy::path_within(rule.path, plan.project)) continue;
    // The deepest ancestor that exists, its symlinks resolved, then the rest as named.
    std::string existing = rule.path, rest;
    char resolved[PATH_MAX] = "/";
    while (::realpath(existing.c_str(), resolved) == nullptr) {
      const std::size_t slash = existing.rfind('/');
      if (slash == std::string::npos || slash == 0) {  // nothing exists: the path as named
        resolved[0] = '\0';
        rest = existing + rest;
        break;
      }
      rest = existing.substr(slash) + rest;
      existing.resize(slash);
    }
    const std::string where = std::string(resolved) + rest;
    if (!policy::path_within(where, real_project)) return rule.path + " leads to " + where;
  }
  return {};
}

void create_tool_caches(const policy::Plan& plan) {
  for (const std::string& dir : plan.tool_caches) {
    // Only where a tool keeps its cache anyway: under the home, never the home itself.
    if (dir.size() <= plan.home.size() + 1 || !policy::path_within(dir, plan.home)) continue;
    const bool granted = std::any_of(plan.paths.begin(), plan.paths.end(), [&](const auto& r) {
      return r.path == dir && (r.access & policy::kAccessWrite) != 0;
    });
    if (!granted) continue;
    for (std::size_t pos = plan.home.size() + 1; pos != std::string::npos;) {
      pos = dir.find('/', pos + 1);
      // An existing component (or a symlink the user made) is left as it is; a failure only
      // means the grant is skipped, as before.
      ::mkdir(dir.substr(0, pos).c_str(), 0755);
    }
  }
}

void protect_run_files(policy::Plan& plan, const report::EventLog& events) {
  if (const std::string& audit = events.audit_file(); !audit.empty()) {
    plan.protect.push_back(policy::ProtectRule{audit, "audit", false, {}, {}});
  }
  for (const std::string& file : plan.profile_files) {
    // The file where it really is: a profile reached through a link (a shared one linked into
    // the repository) would otherwise make the protection pass through that link, which refuses
    // the run. (The link itself can then still be pointed elsewhere.)
    char real_buf[PATH_MAX];
    const std::string real = ::realpath(file.c_str(), real_buf) != nullptr ? real_buf : file;
    const bool writable = std::any_of(plan.paths.begin(), plan.paths.end(), [&](const auto& r) {
      return (r.access & policy::kAccessWrite) != 0 &&
             (real == r.path || policy::path_within(real, r.path));
    });
    if (writable) plan.protect.push_back(policy::ProtectRule{real, "moat-profile", false, {}, {}});
  }
}

int run_main(const RunOptions& options) {
  policy::Context ctx = gather_context();
  ctx.argv = options.command;
  if (std::string why = unsafe_project_reason(ctx.project, ctx.home); !why.empty()) {
    return refuse_before_start(options,
                               "refusing to run with " + policy::terminal_text(ctx.project) +
                                   " as the project (writable): " + why + ".",
                               "cd into the project directory first");
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
  policy::Plan& plan = *compiled.plan;
  if (std::string leaving = grant_leaving_project(plan); !leaving.empty()) {
    return refuse_before_start(
        options,
        "a path granted inside the project leaves it through a symlink: " +
            policy::terminal_text(leaving) + "; nothing was started",
        "a project's own links cannot widen its sandbox (a cache folder named by its "
        "configuration); grant the target itself with --allow-write if you mean it");
  }
  create_tool_caches(plan);

  report::EventLog events;
  if (!events.open(options.audit_path)) {
    std::fprintf(stderr, "moat: --audit %s: %s%s\n", options.audit_path.c_str(),
                 std::strerror(errno),
                 errno == ELOOP ? " (a symlink: moat does not write through one)" : "");
    return 125;
  }
  protect_run_files(plan, events);
  std::optional<LearnTarget> learn_target;
  if (!options.learn_out.empty()) {
    auto opened = open_learn_target(options.learn_out);
    if (!opened) {
      std::fprintf(stderr, "moat learn: %s\n", opened.error().to_string().c_str());
      return 125;
    }
    learn_target.emplace(std::move(*opened));
  }
  launcher::LaunchOptions launch;
  launch.events = &events;
  launch.allow_missing_limits = options.allow_degraded;
  launch.watch = !options.no_watch;
  launch.warn = [](const std::string& w) {
    std::fprintf(stderr, "moat: WARNING: %s\n", w.c_str());
  };
  if (auto layers = test_only_layer(launch.warn); !layers) {
    std::fprintf(stderr, "moat: %s\n", layers.error().to_string().c_str());
    return 125;
  } else {
    launch.net_layers = *layers;
  }
  bool landlock_ok = options.allow_tier_landlock || plan.min_tier == policy::Tier::kLandlock;
  constexpr const char* kLandlockTierLoss =
      "tier landlock: no private mounts (the host's files stay visible where Landlock allows "
      "reading), no pid namespace (leftover processes are killed by moat instead), no network "
      "namespace (net none: TCP closed by Landlock, other IP sockets by seccomp; allowlist: "
      "every TCP connect brokered by the gate with Landlock refusing any other, DNS only over "
      "TCP to moat's stub, UDP sockets refused, host loopback unreachable), no unix sockets (the "
      "host's would be reachable by path; socketpair works), no cgroup limits";
  if (options.force_tier_landlock) {
    launch.tier = launcher::Tier::kLandlock;
    launch.warn(kLandlockTierLoss);
  }
  const std::string manifest = plan.project + "/package.json";
  const report::ManifestSnapshot manifest_before =
      report::snapshot_package_json(manifest, read_written_file(manifest));
  // The coarse clock is the one file times come from: no change made after this is older.
  timespec run_start{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &run_start);
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
    append_step_failure(plan, options.command, exit_code_for(result.error()),
                        result.error().to_string());
    return exit_code_for(result.error());
  }
  // Every producer has stopped: the account reads the events in place (a watched run has tens
  // of thousands; copying them cost more than the rest of the summary).
  for (report::Event& finding : report::content_findings(events.settled(), read_written_file)) {
    events.add(std::move(finding));
  }
  for (report::Event& finding : report::manifest_findings(
           manifest_before, report::snapshot_package_json(manifest, read_written_file(manifest)),
           events.settled())) {
    events.add(std::move(finding));
  }
  for (report::Event& finding :
       report::submodule_code_findings(plan.project, run_start, events.settled())) {
    events.add(std::move(finding));
  }
  events.add(report::end_event({result->exit_code, result->timed_out, result->oom_killed,
                                result->leftovers, result->lost_events, result->kernel_refusals,
                                events.not_kept(), events.not_written()}));
  const report::Summary summary = report::summarize(events.settled());
  std::fputs(report::render_text(summary).c_str(), stderr);
  append_step_summary(summary, plan, options.command);
  if (result->kernel_refusals > 0) {
    std::fprintf(stderr, "moat: the in-kernel network layer refused %llu more attempt%s\n",
                 static_cast<unsigned long long>(result->kernel_refusals),
                 result->kernel_refusals == 1 ? "" : "s");
  }
  if (result->timed_out) {
    std::fprintf(stderr, "moat: time limit reached; every process of the sandbox was killed\n");
  }
  if (result->killed_after_signal != 0) {
    std::fprintf(stderr,
                 "moat: the command did not end after SIG%s; every process of the sandbox was "
                 "killed\n",
                 sigabbrev_np(result->killed_after_signal));
  }
  if (result->oom_killed) {
    std::fprintf(stderr, "moat: the memory limit was reached; the kernel killed a process\n");
  }
  if (!options.learn_out.empty()) {
    if (events.not_kept() > 0) {
      std::fprintf(stderr,
                   "moat learn: WARNING: the profile lacks what the run did past moat's memory "
                   "bound (%llu events not kept); review it, or learn from a shorter run\n",
                   static_cast<unsigned long long>(events.not_kept()));
    }
    if (summary.lost_events > 0) {
      std::fprintf(stderr,
                   "moat learn: WARNING: the watch lost %llu events: the profile may lack what "
                   "they showed; review it, or learn again\n",
                   static_cast<unsigned long long>(summary.lost_events));
    }
    if (int rc = write_learned_profile(options, ctx, plan, events.settled(), *learn_target);
        rc != 0) {
      return rc;
    }
  }
  if (!plan.learned_from.empty()) {
    const report::Drift drift = report::drift_of(summary, plan);
    std::fputs(report::render_drift(drift, plan.learned_from, options.fail_on_drift).c_str(),
               stderr);
    if (options.fail_on_drift && report::drift_fails(drift) && result->exit_code == 0) return 1;
  }
  return result->exit_code;
}

}  // namespace moat::cli
