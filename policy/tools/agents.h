// The coding agents' resolvers (see policy/tool_config.h): claude.* and codex.* variables.
#pragma once

#include "policy/tool_config.h"

namespace moat::policy::tools {

Result<ToolValues> claude_api_hosts(const ToolConfigInput& in);   // ${claude.api-hosts}
Result<ToolValues> claude_config_dir(const ToolConfigInput& in);  // ${claude.config-dir}
Result<ToolValues> codex_api_hosts(const ToolConfigInput& in);    // ${codex.api-hosts}
Result<ToolValues> codex_home_dir(const ToolConfigInput& in);     // ${codex.home}

}  // namespace moat::policy::tools
