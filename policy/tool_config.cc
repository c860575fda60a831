#include "policy/tool_config.h"

#include <array>
#include <utility>

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
constexpr std::array kResolvers{
    NamedResolver{"pip.indexes", tools::pip_indexes},
    NamedResolver{"pip.index-hosts", tools::pip_index_hosts},
    NamedResolver{"pip.file-hosts", tools::pip_file_hosts},
    NamedResolver{"pip.find-links", tools::pip_find_links},
    NamedResolver{"pip.cache", tools::pip_cache},
    NamedResolver{"pip.target", tools::pip_target},
    NamedResolver{"pip.config-files", tools::pip_config_files},
    NamedResolver{"pip.interpreter", tools::pip_interpreter},
    NamedResolver{"pipx.home", tools::pipx_home},
    NamedResolver{"pipx.bin-dir", tools::pipx_bin_dir},
    NamedResolver{"pipx.man-dir", tools::pipx_man_dir},
    NamedResolver{"pipx.cache", tools::pipx_cache},
    NamedResolver{"uv.indexes", tools::uv_indexes},
    NamedResolver{"uv.index-hosts", tools::uv_index_hosts},
    NamedResolver{"uv.find-links", tools::uv_find_links},
    NamedResolver{"uv.cache", tools::uv_cache},
    NamedResolver{"uv.config-files", tools::uv_config_files},
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
