// `moat run`: compile the profile, build the sandbox, run the command, report how it ended.
#pragma once

#include <string>
#include <vector>

#include "policy/compile.h"

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
  std::vector<std::string> command;
};

int run_main(const RunOptions& options);

// Shared by run/explain/check: prints diagnostics to stderr; returns true if any is an error.
bool print_diagnostics(const std::vector<policy::Diagnostic>& diagnostics);

}  // namespace moat::cli
