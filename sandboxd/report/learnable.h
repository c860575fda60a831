// What `moat learn` may turn into a write grant, and why the rest is not. A learned profile is
// often used as written, so the rule is narrow: only directories strictly below the home or a
// shared temporary directory (/tmp, /var/tmp, /dev/shm), never the home itself, nothing that
// holds the home or the project, nothing that is, holds or lies in a protected or masked path,
// and no directory on PATH.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace moat::report {

struct LearnLimits {
  std::string home;
  std::string project;
  // Protected (kept read-only) and masked paths, variables expanded and normalised; a component
  // may be a pattern (.git/modules/*/hooks), which matches one component.
  std::vector<std::string> protected_paths;
  // The caller's PATH: a file written there runs in place of a command (~/.local/bin/git).
  std::vector<std::string> command_dirs;
};

// The protected path PATH lies in (as much of PATH as the protection covers), or nullopt.
std::optional<std::string> protected_part(const std::string& path, const LearnLimits& limits);

// Empty when a write grant of ROOT (absolute, normalised) may be learned; otherwise why not, for
// the profile's "not learned" comments and learn's output.
std::string why_not_learnable(const std::string& root, const LearnLimits& limits);

}  // namespace moat::report
