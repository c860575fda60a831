// The agents' resolvers and the TOML reader, on sample configuration trees.
#include <gtest/gtest.h>

#include <map>

#include "policy/tool_config.h"
#include "policy/tools/toml.h"

namespace moat::policy {
namespace {

struct Tree {
  std::map<std::string, std::string> files;
  std::vector<std::string> env;

  Result<ToolValues> resolve(std::string_view name) {
    ToolResolver r = find_tool_resolver(name);
    if (r == nullptr) return make_error(ErrorCode::kInternal, "no resolver " + std::string(name));
    ToolConfigInput in{env, "/home/u", "/home/u/proj", "/home/u/proj",
                       [this](const std::string& path) -> std::optional<std::string> {
                         auto it = files.find(path);
                         if (it == files.end()) return std::nullopt;
                         return it->second;
                       }};
    return r(in);
  }
};

TEST(ToolAgents, ClaudeDefaultsToItsVendorsApi) {
  Tree t;
  auto hosts = t.resolve("claude.api-hosts");
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(*hosts, ToolValues{"api.anthropic.com:443"});
}

TEST(ToolAgents, ClaudeFollowsAnthropicBaseUrl) {
  Tree t;
  t.env = {"ANTHROPIC_BASE_URL=http://Gateway.Test:8080/anthropic"};
  auto hosts = t.resolve("claude.api-hosts");
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(*hosts, ToolValues{"gateway.test:8080"});
  t.env = {"ANTHROPIC_BASE_URL=gateway.test"};
  EXPECT_FALSE(t.resolve("claude.api-hosts").ok());
  t.env = {"ANTHROPIC_BASE_URL=https://[2001:db8::1]:8443/v1"};
  EXPECT_EQ(*t.resolve("claude.api-hosts"), ToolValues{"[2001:db8::1]:8443"});
}

TEST(ToolAgents, ClaudeConfigDir) {
  Tree t;
  EXPECT_EQ(*t.resolve("claude.config-dir"), ToolValues{"/home/u/.claude"});
  t.env = {"CLAUDE_CONFIG_DIR=conf/claude"};
  EXPECT_EQ(*t.resolve("claude.config-dir"), ToolValues{"/home/u/proj/conf/claude"});
}

TEST(ToolAgents, CodexDefaultsToOpenAiAndChatGptSignIn) {
  Tree t;
  auto hosts = t.resolve("codex.api-hosts");
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(hosts->size(), 3u);
  EXPECT_EQ(hosts->front(), "api.openai.com:443");
  EXPECT_EQ(*t.resolve("codex.home"), ToolValues{"/home/u/.codex"});
}

TEST(ToolAgents, CodexProviderFromConfigToml) {
  Tree t;
  t.files["/home/u/.codex/config.toml"] =
      "# mine\nmodel = \"m\"\nmodel_provider = \"local\" # comment\n"
      "notify = [\"a\",\n  \"b\" # inside\n]\n"
      "[model_providers.local]\nname = 'Local'\nbase_url = \"http://10.77.0.9:9000/v1\"\n"
      "[model_providers.other]\nbase_url = \"https://other.test/v1\"\n";
  auto hosts = t.resolve("codex.api-hosts");
  ASSERT_TRUE(hosts.ok()) << hosts.error().to_string();
  EXPECT_EQ(*hosts, ToolValues{"10.77.0.9:9000"});
}

TEST(ToolAgents, CodexHomeFromEnvAndOpenAiBaseUrl) {
  Tree t;
  t.env = {"CODEX_HOME=/srv/codex", "OPENAI_BASE_URL=https://proxy.test/v1"};
  EXPECT_EQ(*t.resolve("codex.home"), ToolValues{"/srv/codex"});
  EXPECT_EQ(*t.resolve("codex.api-hosts"), ToolValues{"proxy.test:443"});
}

TEST(ToolAgents, CodexProviderWithoutBaseUrlOrBrokenTomlIsAnError) {
  Tree t;
  t.files["/home/u/.codex/config.toml"] = "model_provider = \"nowhere\"\n";
  auto hosts = t.resolve("codex.api-hosts");
  ASSERT_FALSE(hosts.ok());
  EXPECT_NE(hosts.error().message.find("nowhere"), std::string::npos);
  t.files["/home/u/.codex/config.toml"] = "a = 1\nmodel_provider = \"x\n";
  hosts = t.resolve("codex.api-hosts");
  ASSERT_FALSE(hosts.ok());
  EXPECT_NE(hosts.error().message.find("config.toml:2:"), std::string::npos)
      << hosts.error().message;
}

TEST(Toml, Strings) {
  auto t = tools::parse_toml_strings(
      "[a . \"b.c\"]\nk = \"x\\\"y\"\nlit = 'C:\\\\p'\nmulti = \"\"\"\nl1\nl2\"\"\"\n"
      "n = 3\nt = { x = \"1\" }\n[[arr]]\nq = \"z\"\r\n");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->at("a.b.c.k"), "x\"y");
  EXPECT_EQ(t->at("a.b.c.lit"), "C:\\\\p");
  EXPECT_EQ(t->at("a.b.c.multi"), "l1\nl2");
  EXPECT_EQ(t->count("a.b.c.n"), 0u);
  EXPECT_EQ(t->at("arr.q"), "z");
  EXPECT_FALSE(tools::parse_toml_strings("[open\n").ok());
  EXPECT_FALSE(tools::parse_toml_strings("k v\n").ok());
  EXPECT_FALSE(tools::parse_toml_strings("k = [1,\n2\n").ok());
  EXPECT_FALSE(tools::parse_toml_strings("k = \"a\" junk\n").ok());
}

}  // namespace
}  // namespace moat::policy
