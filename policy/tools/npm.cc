// npm's variables: the registries it fetches from, its cache, and the user file that holds its
// auth tokens. Read from npm's own layers (policy/tools/npmrc.cc); never a built-in host name.
#include "policy/tools/npm.h"

#include "policy/tools/npmrc.h"

namespace moat::policy::tools {
namespace {

const std::vector<std::string> kNpmEnv = {"npm_config_"};

}  // namespace

Result<ToolValues> npm_registry(const ToolConfigInput& in) {
  auto cfg = load_npm_config(in, kNpmEnv, {}, &kNpmCommand);
  if (!cfg) return cfg.error();
  auto reg = cfg->get("registry");
  if (!reg || reg->empty()) return no_registry("npm");
  return ToolValues{url_without_userinfo(*reg)};  // handed into the sandbox
}

Result<ToolValues> npm_registries(const ToolConfigInput& in) {
  auto cfg = load_npm_config(in, kNpmEnv, {}, &kNpmCommand);
  if (!cfg) return cfg.error();
  return registry_rules(*cfg, "npm");
}

Result<ToolValues> npm_cache(const ToolConfigInput& in) {
  auto cfg = load_npm_config(in, kNpmEnv, {}, &kNpmCommand);
  if (!cfg) return cfg.error();
  auto cache = cfg->get_outside_project("cache");
  return ToolValues{cache ? config_path(*cache, in.home, in.cwd) : in.home + "/.npm"};
}

Result<ToolValues> npm_userconfig(const ToolConfigInput& in) {
  auto cfg = load_npm_config(in, kNpmEnv, {}, &kNpmCommand);
  if (!cfg) return cfg.error();
  return ToolValues{cfg->userconfig};
}

// Where node-gyp finds node's headers: set, no download from the internet is needed to build a
// native addon. Unset: no value (an env.set entry using it is left out).
Result<ToolValues> npm_nodedir(const ToolConfigInput& in) {
  auto cfg = load_npm_config(in, kNpmEnv, {}, &kNpmCommand);
  if (!cfg) return cfg.error();
  auto dir = cfg->get("nodedir");
  if (!dir || dir->empty()) return ToolValues{};
  return ToolValues{config_path(*dir, in.home, in.cwd)};
}

}  // namespace moat::policy::tools
