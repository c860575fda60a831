// pipx's directories, as pipx 1.x chooses them: an environment variable, else the default (the
// old ~/.local/pipx and the XDG one for the home: see pipx_home).
#include "policy/tools/pipx.h"

#include <optional>
#include <string>

#include "policy/tools/common.h"
#include "policy/variables.h"

namespace moat::policy::tools {
namespace {

// $NAME when set to an absolute path (`~` is the home), else `fallback`.
std::string dir_from_env(const ToolConfigInput& in, std::string_view name,
                         const std::string& fallback) {
  std::optional<std::string> v = env_value(in, name);
  if (v && (*v == "~" || v->rfind("~/", 0) == 0)) return normalize_path(in.home + v->substr(1));
  if (v && !v->empty() && (*v)[0] == '/') return normalize_path(*v);
  return normalize_path(fallback);
}

std::string xdg(const ToolConfigInput& in, std::string_view name, const std::string& fallback) {
  std::optional<std::string> v = env_value(in, name);
  return v && !v->empty() && (*v)[0] == '/' ? *v : in.home + "/" + fallback;
}

}  // namespace

Result<ToolValues> pipx_home(const ToolConfigInput& in) {
  if (std::optional<std::string> v = env_value(in, "PIPX_HOME");
      v && (v->rfind("/", 0) == 0 || *v == "~" || v->rfind("~/", 0) == 0)) {
    return ToolValues{dir_from_env(in, "PIPX_HOME", "/")};
  }
  // pipx before 1.3 (Debian 12 ships 1.1) uses ~/.local/pipx; later versions use the XDG data
  // directory unless the old one exists. Which pipx runs is not ours to know: both.
  return ToolValues{normalize_path(in.home + "/.local/pipx"),
                    normalize_path(xdg(in, "XDG_DATA_HOME", ".local/share") + "/pipx")};
}

Result<ToolValues> pipx_bin_dir(const ToolConfigInput& in) {
  return ToolValues{dir_from_env(in, "PIPX_BIN_DIR", in.home + "/.local/bin")};
}

Result<ToolValues> pipx_man_dir(const ToolConfigInput& in) {
  return ToolValues{
      dir_from_env(in, "PIPX_MAN_DIR", xdg(in, "XDG_DATA_HOME", ".local/share") + "/man")};
}

Result<ToolValues> pipx_cache(const ToolConfigInput& in) {
  return ToolValues{normalize_path(xdg(in, "XDG_CACHE_HOME", ".cache") + "/pipx")};
}

}  // namespace moat::policy::tools
