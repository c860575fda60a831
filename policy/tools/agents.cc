// Resolvers of the coding agents: where Claude Code and Codex send their model requests and keep
// their state. An agent's API host is its vendor's unless the user points it elsewhere (a proxy,
// a gateway, a local model), and the profile must follow the user's choice, not ours.
#include "policy/tools/agents.h"

#include <string>

#include "policy/tools/config_text.h"
#include "policy/variables.h"

namespace moat::policy {
namespace {

std::string home_path(const ToolConfigInput& in, std::string_view rest) {
  return normalize_path(in.home + "/" + std::string(rest));
}

// The directory holding Codex's config.toml and state: $CODEX_HOME or ~/.codex.
std::string codex_home(const ToolConfigInput& in) {
  if (auto dir = env_value(in.environ, "CODEX_HOME"); dir && !dir->empty()) {
    return normalize_path(dir->front() == '/' ? std::string(*dir) : in.cwd + "/" + std::string(*dir));
  }
  return home_path(in, ".codex");
}

}  // namespace

Result<ToolValues> claude_api_hosts(const ToolConfigInput& in) {
  if (auto url = env_value(in.environ, "ANTHROPIC_BASE_URL"); url && !url->empty()) {
    auto rule = url_host_rule(*url);
    if (!rule) {
      return make_error(ErrorCode::kInvalidArgument,
                        "ANTHROPIC_BASE_URL is not a URL: '" + std::string(*url) + "'",
                        "set it to http(s)://HOST[:PORT]/ or unset it");
    }
    return ToolValues{*rule};
  }
  return ToolValues{"api.anthropic.com:443"};
}

Result<ToolValues> claude_config_dir(const ToolConfigInput& in) {
  if (auto dir = env_value(in.environ, "CLAUDE_CONFIG_DIR"); dir && !dir->empty()) {
    return ToolValues{normalize_path(dir->front() == '/' ? std::string(*dir)
                                                         : in.cwd + "/" + std::string(*dir))};
  }
  return ToolValues{home_path(in, ".claude")};
}

Result<ToolValues> codex_home_dir(const ToolConfigInput& in) { return ToolValues{codex_home(in)}; }

// Codex picks its provider in config.toml (`model_provider`, a table under [model_providers.X]
// with `base_url`); without one it uses OpenAI's API, or with a ChatGPT sign-in the ChatGPT
// backend, and refreshes that sign-in at the auth host.
Result<ToolValues> codex_api_hosts(const ToolConfigInput& in) {
  const std::string config_path = codex_home(in) + "/config.toml";
  std::string provider = "openai";
  std::string base_url;
  if (auto text = in.read_file(config_path)) {
    auto table = parse_toml_strings(*text);
    if (!table) {
      Error e = table.error();
      e.message = config_path + ":" + e.message;
      return e;
    }
    if (auto it = table->find("model_provider"); it != table->end()) provider = it->second;
    if (auto it = table->find("model_providers." + provider + ".base_url"); it != table->end()) {
      base_url = it->second;
    }
  }
  if (base_url.empty() && provider == "openai") {
    if (auto url = env_value(in.environ, "OPENAI_BASE_URL"); url && !url->empty()) {
      base_url = std::string(*url);
    }
  }
  if (base_url.empty()) {
    if (provider != "openai") {
      return make_error(ErrorCode::kInvalidArgument,
                        config_path + ": model_provider '" + provider +
                            "' has no base_url under [model_providers." + provider + "]",
                        "add base_url to that table, or allow the host with --allow-host");
    }
    return ToolValues{"api.openai.com:443", "chatgpt.com:443", "auth.openai.com:443"};
  }
  auto rule = url_host_rule(base_url);
  if (!rule) {
    return make_error(ErrorCode::kInvalidArgument,
                      config_path + ": base_url is not a URL: '" + base_url + "'",
                      "write it as http(s)://HOST[:PORT]/PATH");
  }
  return ToolValues{*rule};
}

}  // namespace moat::policy
