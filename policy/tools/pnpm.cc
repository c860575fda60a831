// pnpm's variables: it reads npm's .npmrc layers plus its own global rc, and keeps packages in a
// content-addressed store outside the project (hard-linked into node_modules).
#include "policy/tools/npm.h"
#include "policy/tools/npmrc.h"

namespace moat::policy::tools {
namespace {

// An XDG base directory: $VAR if set and absolute, else ~/FALLBACK.
std::string xdg(const ToolConfigInput& in, const char* var, const char* fallback) {
  if (auto v = env_value(in, var); v && !v->empty() && (*v)[0] == '/') return *v;
  return in.home + "/" + fallback;
}

Result<NpmConfig> load(const ToolConfigInput& in) {
  return load_npm_config(in, {"npm_config_", "pnpm_config_"},
                         {xdg(in, "XDG_CONFIG_HOME", ".config") + "/pnpm/rc"}, &kPnpmCommand);
}

// A directory setting, else the XDG default.
Result<ToolValues> dir(const ToolConfigInput& in, const char* key, const char* var,
                       const char* fallback, const char* sub) {
  auto cfg = load(in);
  if (!cfg) return cfg.error();
  if (auto v = cfg->get_outside_project(key); v && !v->empty()) {
    return ToolValues{config_path(*v, in.home, cfg->local_prefix)};
  }
  return ToolValues{xdg(in, var, fallback) + sub};
}

}  // namespace

Result<ToolValues> pnpm_registry(const ToolConfigInput& in) {
  auto cfg = load(in);
  if (!cfg) return cfg.error();
  auto reg = cfg->get("registry");
  if (!reg || reg->empty()) return no_registry("pnpm");
  return ToolValues{url_without_userinfo(*reg)};  // handed into the sandbox
}

Result<ToolValues> pnpm_registries(const ToolConfigInput& in) {
  auto cfg = load(in);
  if (!cfg) return cfg.error();
  return registry_rules(*cfg, "pnpm");
}

Result<ToolValues> pnpm_store(const ToolConfigInput& in) {
  return dir(in, "store-dir", "XDG_DATA_HOME", ".local/share", "/pnpm/store");
}

Result<ToolValues> pnpm_cache(const ToolConfigInput& in) {
  return dir(in, "cache-dir", "XDG_CACHE_HOME", ".cache", "/pnpm");
}

Result<ToolValues> pnpm_state(const ToolConfigInput& in) {
  return dir(in, "state-dir", "XDG_STATE_HOME", ".local/state", "/pnpm");
}

}  // namespace moat::policy::tools
