#include "policy/tool_config.h"

#include <array>
#include <utility>

#include "policy/tools/agents.h"

namespace moat::policy {
namespace {

struct NamedResolver {
  std::string_view name;
  ToolResolver resolve;
};

// One line per variable; each tool's functions live in policy/tools/<tool>.cc.
constexpr std::array kResolvers{
    NamedResolver{"claude.api-hosts", claude_api_hosts},
    NamedResolver{"claude.config-dir", claude_config_dir},
    NamedResolver{"codex.api-hosts", codex_api_hosts},
    NamedResolver{"codex.home", codex_home_dir},
};

}  // namespace

ToolResolver find_tool_resolver(std::string_view name) {
  for (const NamedResolver& r : kResolvers) {
    if (r.name == name) return r.resolve;
  }
  return nullptr;
}

std::vector<std::string_view> tool_variable_names() {
  std::vector<std::string_view> names;
  for (const NamedResolver& r : kResolvers) names.push_back(r.name);
  return names;
}

}  // namespace moat::policy
