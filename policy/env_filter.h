// Internal: the command's environment: keep patterns, secret-looking names dropped, `set` applied.
// Pure function of the caller's environ and the merged profile.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/plan.h"

namespace moat::policy {

// Glob match where '*' matches any run of characters (the only wildcard).
bool glob_match(std::string_view pattern, std::string_view name);

// Names that usually hold credentials or reach host services (tokens, keys, agent sockets).
bool looks_secret(std::string_view name);

struct EnvFilterResult {
  std::vector<EnvVar> env;               // kept, unsorted, first occurrence of each name
  std::vector<std::string> dropped;      // kept by a pattern but secret-looking; sorted
};

// Keeps names matching `keep_patterns` or equal to an entry of `exact` (pattern entries without
// '*' count as exact); a secret-looking name survives only when kept by exact name.
EnvFilterResult filter_environ(const std::vector<std::string>& environ,
                               const std::vector<std::string>& keep_patterns,
                               const std::vector<std::string>& exact);

}  // namespace moat::policy
