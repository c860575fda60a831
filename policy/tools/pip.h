// pip's configuration as pip itself reads it (pip.conf at every level, PIP_* variables), and the
// ${pip.*} resolvers built on it. Pure: files come through ToolConfigInput::read_file.
#pragma once

#include <string>
#include <vector>

#include "policy/result.h"
#include "policy/tool_config.h"

namespace moat::policy::tools {

// What `pip install` would use, with where each value came from (for messages and explain).
struct PipSettings {
  std::string index_url;       // "" when none is configured
  std::string index_url_from;  // "PIP_INDEX_URL", "/etc/pip.conf [install]", ...
  std::vector<std::string> extra_index_urls;
  std::vector<std::string> find_links;  // as written: URLs or paths
  std::vector<std::string> trusted_hosts;
  std::vector<std::string> file_hosts;  // MOAT_PIP_FILE_HOSTS or [moat] file-hosts
  std::string cache_dir;                // absolute
  std::string target;                   // PIP_TARGET / target, absolute, or ""
  bool no_index = false;
  std::vector<std::string> config_files;  // every file pip would read, in pip's order
};

// pip's settings for `pip install`: files in pip's order (global: $XDG_CONFIG_DIRS/pip/pip.conf
// then /etc/pip.conf; user: ~/.pip/pip.conf then $XDG_CONFIG_HOME/pip/pip.conf, skipped when
// PIP_CONFIG_FILE names an existing file; site: the virtualenv's pip.conf; PIP_CONFIG_FILE;
// none at all when PIP_CONFIG_FILE is /dev/null), [install] over [global] whichever file, and
// PIP_* variables over every file. A file that does not parse is an error naming file and line.
Result<PipSettings> read_pip_settings(const ToolConfigInput& input);

// The virtualenv pip installs into: $VIRTUAL_ENV, else the project's .venv or venv (a directory
// with a pyvenv.cfg), else "".
std::string pip_virtualenv(const ToolConfigInput& input);

// The default index pip was built with (pip's own source, pip/_internal/models/index.py, of the
// pip that would run), and the host it serves files from. Empty when that source is not found.
struct PipDefaultIndex {
  std::string simple_url;
  std::string file_host;
  std::string source;  // the file it was read from
};
PipDefaultIndex pip_default_index(const ToolConfigInput& input);

// The host:port rule of each index (an index that is not an http(s) URL is an error naming
// `tool`) and of each remote find-links entry: pip's and uv's index-hosts.
Result<ToolValues> index_host_rules(const std::string& tool, const ToolValues& indexes,
                                    const std::vector<std::string>& find_links);

// The resolvers (one line each in policy/tool_config.cc).
Result<ToolValues> pip_indexes(const ToolConfigInput& input);       // pip.indexes
Result<ToolValues> pip_index_hosts(const ToolConfigInput& input);   // pip.index-hosts
Result<ToolValues> pip_file_hosts(const ToolConfigInput& input);    // pip.file-hosts
Result<ToolValues> pip_find_links(const ToolConfigInput& input);    // pip.find-links
Result<ToolValues> pip_cache(const ToolConfigInput& input);         // pip.cache
Result<ToolValues> pip_target(const ToolConfigInput& input);        // pip.target
Result<ToolValues> pip_config_files(const ToolConfigInput& input);  // pip.config-files
Result<ToolValues> pip_interpreter(const ToolConfigInput& input);   // pip.interpreter
// The virtualenv's own pip.conf (pip reads it as the "site" file), when the virtualenv exists:
// inside the writable environment, where a build script could name an index for the next run.
Result<ToolValues> pip_venv_config(const ToolConfigInput& input);  // pip.venv-config
// The virtualenv's files that run in the developer's own shell or choose the interpreter
// (bin/activate and its siblings, pyvenv.cfg), those that exist: pip never writes them, and a
// build script that appended to bin/activate would run on the next `source .venv/bin/activate`.
Result<ToolValues> pip_venv_startup(const ToolConfigInput& input);  // pip.venv-startup

}  // namespace moat::policy::tools
