// Internal: the resolvers of the npm family (npm, pnpm, yarn), one function per variable.
// Listed in policy/tool_config.cc; each tool lives in its own file.
#pragma once

#include "policy/tool_config.h"

namespace moat::policy::tools {

// npm.cc
Result<ToolValues> npm_registry(const ToolConfigInput& in);
Result<ToolValues> npm_registries(const ToolConfigInput& in);
Result<ToolValues> npm_cache(const ToolConfigInput& in);
Result<ToolValues> npm_userconfig(const ToolConfigInput& in);
Result<ToolValues> npm_nodedir(const ToolConfigInput& in);

// pnpm.cc
Result<ToolValues> pnpm_registry(const ToolConfigInput& in);
Result<ToolValues> pnpm_registries(const ToolConfigInput& in);
Result<ToolValues> pnpm_store(const ToolConfigInput& in);
Result<ToolValues> pnpm_cache(const ToolConfigInput& in);
Result<ToolValues> pnpm_state(const ToolConfigInput& in);

// yarn.cc
Result<ToolValues> yarn_registry(const ToolConfigInput& in);
Result<ToolValues> yarn_registries(const ToolConfigInput& in);
Result<ToolValues> yarn_cache(const ToolConfigInput& in);

}  // namespace moat::policy::tools
