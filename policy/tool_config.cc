#include "policy/tool_config.h"

#include <array>
#include <utility>

namespace moat::policy {
namespace {

struct NamedResolver {
  std::string_view name;
  ToolResolver resolve;
};

// One line per variable; each tool's functions live in policy/tools/<tool>.cc.
constexpr std::array<NamedResolver, 0> kResolvers{{}};

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
