// Gathers the policy Context from the real process: home, project, cwd, user, environment.
// The one place the CLI reads the outside world for the policy layer.
#pragma once

#include "policy/compile.h"

namespace moat::cli {

policy::Context gather_context();

}  // namespace moat::cli
