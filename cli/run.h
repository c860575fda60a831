// `moat run`: compile the profile, build the sandbox, run the command, report how it ended.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/compile.h"
#include "sandboxd/report/event_log.h"

namespace moat::cli {

struct RunOptions {
  std::string profile = "base";
  policy::Overrides overrides;
  bool allow_tier_landlock = false;  // fall back to the landlock tier without user namespaces
  bool force_tier_landlock = false;  // --tier landlock: use it even where namespaces work
  bool allow_degraded = false;
  bool no_watch = false;   // --no-watch: no eBPF watch even as root
  std::string audit_path;  // --audit FILE: every event as a JSON line
  std::string learn_out;   // `moat learn --out FILE`: write the learned profile here
  bool fail_on_drift = false;
  // `moat install`: run the project's own yarn release and plugins (yarnPath, plugins,
  // yarn-path) in phase 1, where the tokens are readable.
  bool trust_project_yarn = false;
  std::vector<std::string> command;
};

int run_main(const RunOptions& options);

// `moat install -p npm -- npm install ARGS`: the two-phase install (cli/install.cc).
int install_main(const RunOptions& options);

// Why `project` must not be the writable project ("" if it may), e.g. "/" or a system directory.
std::string unsafe_project_reason(const std::string& project, const std::string& home);

// A grant of the plan's that names a path inside the project but, through a symlink in the
// project (a cloned repository's `cachelink -> ..` named as yarn's cacheFolder or pip's
// cache-dir), leads out of it: "PATH leads to TARGET"; "" when there is none. Checked before
// anything is created or bound.
std::string grant_leaving_project(const policy::Plan& plan);

// Creates the tool directories the plan grants (${npm.cache}, ${pnpm.store}: Plan::tool_caches)
// that do not exist yet, so the first run's downloads persist: the launcher skips a grant of a
// missing path, and the tool would then fill the sandbox's private home, discarded at exit.
void create_tool_caches(const policy::Plan& plan);

// The files that record and confine a run stay read-only inside it, like persistence points (a
// read-only bind, its directories pinned as mount points), where they lie in a writable tree:
// the --audit file, which the command could rewrite, truncate or replace while it runs, and the
// profile's files, which a CI step could rewrite to confine the next step as it likes (env
// secrets kept, host network, /etc writable) — `.github/moat/build.yaml` in the workspace.
void protect_run_files(policy::Plan& plan, const report::EventLog& events);

// The first 4 MiB of a regular file the run wrote, for the findings: a symlink as its last
// component is not followed (the findings judge the link itself), links on its way are.
std::optional<std::string> read_written_file(const std::string& path);

// Shared by run/explain/check: prints diagnostics to stderr; returns true if any is an error.
bool print_diagnostics(const std::vector<policy::Diagnostic>& diagnostics);

}  // namespace moat::cli
