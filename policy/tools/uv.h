// uv's index configuration (UV_* variables, uv.toml at the system, user and project levels,
// pyproject.toml's [tool.uv]) and the ${uv.*} resolvers. Pure: files come through
// ToolConfigInput::read_file. uv's own default index is compiled into uv, so moat cannot read it:
// with nothing configured, the index resolvers fail with a hint.
#pragma once

#include <string>
#include <vector>

#include "policy/result.h"
#include "policy/tool_config.h"

namespace moat::policy::tools {

struct UvSettings {
  std::vector<std::string> indexes;  // the default index first when one is named, then the others
  bool default_configured = false;   // a default index is configured (else uv's built-in one)
  std::vector<std::string> find_links;
  std::string cache_dir;
  bool no_index = false;
  std::vector<std::string> config_files;  // the files read, in order of increasing precedence
};

// Precedence: UV_* variables over the project's uv.toml (or, without one, pyproject.toml's
// [tool.uv]) over the user's uv.toml over the system's; UV_CONFIG_FILE replaces the project and
// user files; UV_NO_CONFIG reads none. Index lists are merged, higher precedence first.
Result<UvSettings> read_uv_settings(const ToolConfigInput& input);

Result<ToolValues> uv_indexes(const ToolConfigInput& input);       // uv.indexes
Result<ToolValues> uv_index_hosts(const ToolConfigInput& input);   // uv.index-hosts
Result<ToolValues> uv_find_links(const ToolConfigInput& input);    // uv.find-links
Result<ToolValues> uv_cache(const ToolConfigInput& input);         // uv.cache
Result<ToolValues> uv_config_files(const ToolConfigInput& input);  // uv.config-files

}  // namespace moat::policy::tools
