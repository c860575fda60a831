// pipx's directories (PIPX_HOME, PIPX_BIN_DIR, PIPX_MAN_DIR and their defaults), for the pipx
// profile. Pure: files come through ToolConfigInput::read_file.
#pragma once

#include "policy/result.h"
#include "policy/tool_config.h"

namespace moat::policy::tools {

Result<ToolValues> pipx_home(const ToolConfigInput& input);     // pipx.home
Result<ToolValues> pipx_bin_dir(const ToolConfigInput& input);  // pipx.bin-dir
Result<ToolValues> pipx_man_dir(const ToolConfigInput& input);  // pipx.man-dir
Result<ToolValues> pipx_cache(const ToolConfigInput& input);    // pipx.cache

}  // namespace moat::policy::tools
