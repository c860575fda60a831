#include "policy/tool_config.h"

#include <array>
#include <utility>

#include "policy/tools/agents.h"
#include "policy/tools/common.h"
#include "policy/tools/npm.h"
#include "policy/tools/pip.h"
#include "policy/tools/pipx.h"
#include "policy/tools/uv.h"

namespace moat::policy {
namespace {

struct NamedResolver {
  std::string_view name;
  ToolResolver resolve;
};

// One line per variable; each tool's functions live in policy/tools/<tool>.cc.
constexpr auto kResolvers = std::to_array<NamedResolver>({
    {"claude.api-hosts", tools::claude_api_hosts},
    {"claude.config-dir", tools::claude_config_dir},
    {"codex.api-hosts", tools::codex_api_hosts},
    {"codex.home", tools::codex_home_dir},
    {"npm.registry", tools::npm_registry},
    {"npm.registries", tools::npm_registries},
    {"npm.cache", tools::npm_cache},
    {"npm.userconfig", tools::npm_userconfig},
    {"npm.nodedir", tools::npm_nodedir},
    {"pnpm.registry", tools::pnpm_registry},
    {"pnpm.registries", tools::pnpm_registries},
    {"pnpm.store", tools::pnpm_store},
    {"pnpm.cache", tools::pnpm_cache},
    {"pnpm.state", tools::pnpm_state},
    {"yarn.registry", tools::yarn_registry},
    {"yarn.registries", tools::yarn_registries},
    {"yarn.cache", tools::yarn_cache},
    {"pip.indexes", tools::pip_indexes},
    {"pip.index-hosts", tools::pip_index_hosts},
    {"pip.file-hosts", tools::pip_file_hosts},
    {"pip.find-links", tools::pip_find_links},
    {"pip.cache", tools::pip_cache},
    {"pip.target", tools::pip_target},
    {"pip.config-files", tools::pip_config_files},
    {"pip.interpreter", tools::pip_interpreter},
    {"pip.venv-config", tools::pip_venv_config},
    {"pip.venv-startup", tools::pip_venv_startup},
    {"pipx.home", tools::pipx_home},
    {"pipx.bin-dir", tools::pipx_bin_dir},
    {"pipx.man-dir", tools::pipx_man_dir},
    {"pipx.cache", tools::pipx_cache},
    {"uv.indexes", tools::uv_indexes},
    {"uv.index-hosts", tools::uv_index_hosts},
    {"uv.find-links", tools::uv_find_links},
    {"uv.cache", tools::uv_cache},
    {"uv.config-files", tools::uv_config_files},
});

}  // namespace

ToolResolver find_tool_resolver(std::string_view name) {
  for (const NamedResolver& r : kResolvers) {
    if (r.name == name) return r.resolve;
  }
  return nullptr;
}

std::vector<std::string> tool_command_key(const std::vector<std::string>& argv) {
  ToolConfigInput in;
  in.argv = argv;
  for (const tools::ToolCommand* tool :
       {&tools::kPipCommand, &tools::kPipxCommand, &tools::kUvCommand, &tools::kNpmCommand,
        &tools::kPnpmCommand, &tools::kYarnCommand}) {
    std::optional<std::vector<std::string>> args = tools::tool_arguments(in, *tool);
    if (!args) continue;
    std::vector<std::string> key = {std::string(tool->name)};
    for (std::size_t i = 0; i < args->size(); ++i) {
      const std::string& a = (*args)[i];
      if (a.size() < 2 || a[0] != '-') continue;
      key.push_back(a);
      // Its value, as option_values takes one: a next token that is not itself an option.
      if (i + 1 < args->size()) {
        const std::string& next = (*args)[i + 1];
        if (next.size() < 2 || next[0] != '-') key.push_back((*args)[++i]);
      }
    }
    return key;
  }
  return {};
}

std::vector<std::string_view> tool_variable_names() {
  std::vector<std::string_view> names;
  for (const NamedResolver& r : kResolvers) names.push_back(r.name);
  return names;
}

}  // namespace moat::policy
