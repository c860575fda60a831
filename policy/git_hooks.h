// Internal: what git (and the hook runners it starts) will execute on the developer's next git
// command, beyond the fixed .git/hooks and .git/config of the mandatory protections. A project can
// move its hooks (core.hooksPath: husky sets `.husky/_`), include configuration files from its
// work tree ([include] / [includeIf] path = ../.gitconfig), or keep a hook runner's list of
// commands in a tracked file (.pre-commit-config.yaml, lefthook.yml). Each of those, inside the
// project, is a place where an install could plant a command that runs outside the sandbox.
//
// Pure: files are read through ToolConfigInput::read_file, so every one read is a dependency of
// the compiled plan (a changed .git/config recompiles it).
#pragma once

#include <string>
#include <vector>

#include "policy/tool_config.h"

namespace moat::policy {

struct GitHookPaths {
  std::vector<std::string> hook_dirs;     // core.hooksPath values (and husky's script directory)
  std::vector<std::string> config_files;  // included configuration files
  std::vector<std::string>
      runner_files;  // hook runners' command lists (lefthook's: every name once one exists)
};

// The paths above that lie inside `in.project`, normalised, without duplicates. Reads
// PROJECT/.git/config, the user's and the system's git configuration (for a relative
// core.hooksPath, which git takes relative to the work tree), and the included files, at most 10
// levels deep as git does. A file that does not parse is read as far as it goes: this only adds
// protections, it never removes one.
GitHookPaths git_hook_paths(const ToolConfigInput& in);

// The config files of the project's submodules, existing or not: .git/modules/NAME/config for
// every submodule named in PROJECT/.gitmodules, and one level deeper for those named in a
// submodule's own .gitmodules. A name git would refuse (empty, absolute, a ".." component) is
// skipped: it could point anywhere.
std::vector<std::string> submodule_configs(const ToolConfigInput& in);

}  // namespace moat::policy
