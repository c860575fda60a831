// Resolvers of the coding agents: where Claude Code and Codex send their model requests and keep
// their state. An agent's API host is its vendor's unless the user points it elsewhere (a proxy,
// a gateway, a local model), and the profile must follow the user's choice, not ours.
#include "policy/tools/agents.h"

#include <string>

#include "policy/tools/common.h"
#include "policy/tools/toml.h"
#include "policy/variables.h"

namespace moat::policy::tools {
namespace {

// The directory named by the environment variable NAME (relative to the working directory, as
// the agent would take it), else ~/FALLBACK.
std::string dir_from_env(const ToolConfigInput& in, std::string_view name, const char* fallback) {
  if (auto dir = env_value(in, name); dir && !dir->empty()) return config_path(*dir, in.home, in.cwd);
  return normalize_path(in.home + "/" + fallback);
}

// The directory holding Codex's config.toml and state: $CODEX_HOME or ~/.codex.
std::string codex_home(const ToolConfigInput& in) { return dir_from_env(in, "CODEX_HOME", ".codex"); }

}  // namespace

Result<ToolValues> claude_api_hosts(const ToolConfigInput& in) {
  if (auto url = env_value(in, "ANTHROPIC_BASE_URL"); url && !url->empty()) {
    auto rule = registry_rule(*url, "ANTHROPIC_BASE_URL");
    if (!rule) return rule.error();
    return ToolValues{*rule};
  }
  return ToolValues{"api.anthropic.com:443"};
}

Result<ToolValues> claude_config_dir(const ToolConfigInput& in) {
  return ToolValues{dir_from_env(in, "CLAUDE_CONFIG_DIR", ".claude")};
}

Result<ToolValues> codex_home_dir(const ToolConfigInput& in) { return ToolValues{codex_home(in)}; }

// Codex picks its provider in config.toml (`model_provider`, a table under [model_providers.X]
// with `base_url`); without one it uses OpenAI's API, or with a ChatGPT sign-in the ChatGPT
// backend, and refreshes that sign-in at the auth host.
Result<ToolValues> codex_api_hosts(const ToolConfigInput& in) {
  const std::string config_file = codex_home(in) + "/config.toml";
  std::string provider = "openai";
  std::string base_url;
  if (auto text = in.read_file(config_file)) {
    auto table = parse_toml(*text);
    if (!table) {
      Error e = table.error();
      e.message = config_file + ":" + e.message;
      return e;
    }
    if (auto it = table->find("model_provider"); it != table->end()) provider = it->second;
    if (auto it = table->find("model_providers." + provider + ".base_url"); it != table->end()) {
      base_url = it->second;
    }
  }
  if (base_url.empty() && provider == "openai") {
    if (auto url = env_value(in, "OPENAI_BASE_URL"); url && !url->empty()) base_url = *url;
  }
  if (base_url.empty()) {
    if (provider != "openai") {
      return make_error(ErrorCode::kInvalidArgument,
                        config_file + ": model_provider '" + provider +
                            "' has no base_url under [model_providers." + provider + "]",
                        "add base_url to that table, or allow the host with --allow-host");
    }
    return ToolValues{"api.openai.com:443", "chatgpt.com:443", "auth.openai.com:443"};
  }
  auto rule = registry_rule(base_url, config_file);
  if (!rule) return rule.error();
  return ToolValues{*rule};
}

}  // namespace moat::policy::tools
