// A cache of compiled Plans under ~/.cache/moat/plans, so `moat run` does not parse YAML on every
// start. An entry is used only if every input is identical and every file it was built from (and
// every search-path directory, and moat itself) is unchanged; anything else is a miss.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/compile.h"

namespace moat::cli {

struct CachedCompile {
  policy::Plan plan;
  std::vector<std::string> diagnostics;  // formatted warnings, replayed on a hit
};

// Compiles through the cache. Set MOAT_NO_PLAN_CACHE=1 to bypass it.
policy::CompileOutput compile_profile_cached(const std::string& name_or_path,
                                             const policy::Context& ctx,
                                             const policy::Overrides& overrides,
                                             std::vector<std::string>* replayed_warnings);

}  // namespace moat::cli
