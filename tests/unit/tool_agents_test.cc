// The agents' resolvers and the TOML reader, on sample configuration trees.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

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
    ToolConfigInput in;
    in.environ = env;
    in.home = "/home/u";
    in.project = in.cwd = "/home/u/proj";
    in.read_file = [this](const std::string& path) -> std::optional<std::string> {
      auto it = files.find(path);
      if (it == files.end()) return std::nullopt;
      return it->second;
    };
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
  auto t = tools::parse_toml(
      "[a . \"b.c\"]\nk = \"x\\\"y\"\nlit = 'C:\\\\p'\nmulti = \"\"\"\nl1\nl2\"\"\"\n"
      "n = 3\nt = { x = \"1\" }\n[[arr]]\nq = \"z\"\r\n");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->at("a.b.c.k"), "x\"y");
  EXPECT_EQ(t->at("a.b.c.lit"), "C:\\\\p");
  EXPECT_EQ(t->at("a.b.c.multi"), "l1\nl2");
  EXPECT_EQ(t->count("a.b.c.n"), 0u);
  EXPECT_EQ(t->at("a.b.c.t.x"), "1");
  EXPECT_EQ(t->at("arr.0.q"), "z");
  EXPECT_FALSE(tools::parse_toml("[open\n").ok());
  EXPECT_FALSE(tools::parse_toml("k v\n").ok());
  EXPECT_FALSE(tools::parse_toml("k = [1,\n2\n").ok());
  EXPECT_FALSE(tools::parse_toml("k = \"a\" junk\n").ok());
}

TEST(Toml, ArraysAndTables) {
  auto t = tools::parse_toml(
      "flag = true\noff = false\n"
      "list = [\n  \"a\", # a comment\n  2, 'b',\n  \"c\",\n]\n"
      "inline = [{ url = \"https://i.test/\", default = true }, { url = \"u2\" }]\n"
      "[[index]]\nurl = \"https://x.test/simple\"\n[[index]]\nname = \"y\"\nurl = \"y\"\n"
      "[tool.uv]\nfind-links = []\n");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->at("flag"), "true");
  EXPECT_EQ(t->at("off"), "false");
  EXPECT_EQ(tools::toml_array(*t, "list"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(tools::toml_array(*t, "tool.uv.find-links").empty());
  auto inline_tables = tools::toml_tables(*t, "inline");
  ASSERT_EQ(inline_tables.size(), 2u);
  EXPECT_EQ(inline_tables[0].at("url"), "https://i.test/");
  EXPECT_EQ(inline_tables[0].at("default"), "true");
  EXPECT_EQ(inline_tables[1].at("url"), "u2");
  auto index = tools::toml_tables(*t, "index");
  ASSERT_EQ(index.size(), 2u);
  EXPECT_EQ(index[0].at("url"), "https://x.test/simple");
  EXPECT_EQ(index[1].at("name"), "y");
  // Twelve elements: "list.10" sorts before "list.2" as text, not as an index.
  std::string many = "m = [";
  for (int i = 0; i < 12; ++i) many += "\"" + std::to_string(i) + "\",";
  auto m = tools::parse_toml(many + "]\n");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(tools::toml_array(*m, "m").at(10), "10");
  EXPECT_EQ(tools::toml_array(*m, "m").at(2), "2");
}

TEST(Toml, ErrorsNameTheLine) {
  auto t = tools::parse_toml("a = 1\nb = [\"x\" \"y\"]\n");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message.rfind("2: cannot read this TOML: ", 0), 0u) << t.error().message;
  EXPECT_FALSE(tools::parse_toml("k = { a = 1\n").ok());
  EXPECT_FALSE(tools::parse_toml("k = [\n").ok());
  // Deep nesting (a hostile project's file) is refused, not recursed into without bound.
  auto deep = tools::parse_toml("k = " + std::string(10000, '[') + std::string(10000, ']') + "\n");
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error().message.find("nested too deeply"), std::string::npos);
}

}  // namespace
}  // namespace moat::policy
