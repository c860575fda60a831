// The ${uv.*} resolvers on sample configuration trees: UV_* variables, uv.toml at every level,
// pyproject.toml's [tool.uv], [[index]] tables, and the error when no default index is known.
#include <gtest/gtest.h>

#include <map>

#include "config_tree.h"
#include "policy/tool_config.h"
#include "policy/tools/uv.h"

namespace moat::policy::tools {
namespace {

// uv's tests start from an empty environment.
struct Tree : ConfigTree {
  Tree() { env.clear(); }
};

TEST(UvConfig, EnvironmentVariables) {
  Tree t;
  t.env = {"UV_DEFAULT_INDEX=https://mirror.test/simple",
           "UV_INDEX=internal=https://internal.test:8443/simple https://other.test/simple",
           "UV_EXTRA_INDEX_URL=http://legacy.test/simple",
           "UV_FIND_LINKS=./wheels,https://links.test/w", "UV_CACHE_DIR=~/uvc"};
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(uv_indexes(in)),
            (ToolValues{"https://mirror.test/simple", "https://internal.test:8443/simple",
                        "https://other.test/simple", "http://legacy.test/simple"}));
  EXPECT_EQ(values(uv_index_hosts(in)),
            (ToolValues{"mirror.test:443", "internal.test:8443", "other.test:443", "legacy.test:80",
                        "links.test:443"}));
  EXPECT_EQ(values(uv_find_links(in)), ToolValues{"/work/proj/wheels"});
  EXPECT_EQ(values(uv_cache(in)), ToolValues{"/home/u/uvc"});
}

TEST(UvConfig, FilesAtEveryLevelProjectFirst) {
  Tree t;
  t.files["/etc/uv/uv.toml"] = "index-url = \"https://system.test/simple\"\n";
  t.files["/home/u/.config/uv/uv.toml"] =
      "# the user's\n"
      "[[index]]\n"
      "name = \"user\"\n"
      "url = \"https://user.test/simple\"  # trailing comment\n"
      "default = true\n"
      "\n"
      "[[index]]\n"
      "url = 'https://user-extra.test/simple'\n";
  t.files["/work/proj/pyproject.toml"] =
      "[project]\n"
      "name = \"p\"\n"
      "version = \"1\"\n"
      "dependencies = [\"a>=1\", 'b']\n"
      "[tool.uv]\n"
      "extra-index-url = [\n"
      "  \"https://proj-extra.test/simple\",  # why\n"
      "]\n"
      "index = [{ name = \"inline\", url = \"https://inline.test/simple\" }]\n"
      "cache-dir = \".uvcache\"\n";
  ToolConfigInput in = t.input();
  // The user's default beats the system's; the project's extras come before the user's.
  EXPECT_EQ(values(uv_indexes(in)),
            (ToolValues{"https://user.test/simple", "https://proj-extra.test/simple",
                        "https://inline.test/simple", "https://user-extra.test/simple"}));
  EXPECT_EQ(values(uv_cache(in)), ToolValues{"/work/proj/.uvcache"});
  EXPECT_EQ(
      values(uv_config_files(in)),
      (ToolValues{"/etc/uv/uv.toml", "/home/u/.config/uv/uv.toml", "/work/proj/pyproject.toml"}));
  // A project uv.toml replaces pyproject.toml's [tool.uv].
  t.files["/work/proj/uv.toml"] = "[pip]\nindex-url = \"https://proj.test/simple\"\n";
  EXPECT_EQ(values(uv_indexes(t.input())),
            (ToolValues{"https://proj.test/simple", "https://user-extra.test/simple"}));
}

TEST(UvConfig, ConfigFileAndNoConfig) {
  Tree t;
  t.files["/home/u/.config/uv/uv.toml"] = "index-url = \"https://user.test/simple\"\n";
  t.files["/cfg/uv.toml"] = "index-url = \"https://cfg.test/simple\"\n";
  t.env = {"UV_CONFIG_FILE=/cfg/uv.toml"};
  EXPECT_EQ(values(uv_indexes(t.input())), ToolValues{"https://cfg.test/simple"});
  t.env = {"UV_NO_CONFIG=1", "UV_DEFAULT_INDEX=https://env.test/simple"};
  EXPECT_EQ(values(uv_config_files(t.input())), ToolValues{});
  EXPECT_EQ(values(uv_indexes(t.input())), ToolValues{"https://env.test/simple"});
}

TEST(UvConfig, NoDefaultIndexIsAClearError) {
  Tree t;
  t.env = {"UV_EXTRA_INDEX_URL=https://extra.test/simple"};
  Result<ToolValues> r = uv_index_hosts(t.input());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("uv has no default index configured"), std::string::npos);
  EXPECT_NE(r.error().hint.find("UV_DEFAULT_INDEX"), std::string::npos);
  // Unless no index is used at all.
  t.env.push_back("UV_NO_INDEX=1");
  EXPECT_EQ(values(uv_index_hosts(t.input())), ToolValues{});
  EXPECT_EQ(values(uv_cache(t.input())), ToolValues{"/home/u/.cache/uv"});
}

TEST(UvConfig, AProjectsFilesCannotWidenGrantsBeyondTheProject) {
  Tree t;
  t.files["/work/proj/uv.toml"] =
      "index-url = \"https://a.test/simple\"\ncache-dir = \"/home/u\"\n"
      "find-links = [\"/home/u/Documents\", \"file:///etc\", \"wheels\", \"https://l.test/\"]\n";
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(uv_cache(in)), ToolValues{"/home/u/.cache/uv"});
  EXPECT_EQ(values(uv_find_links(in)), ToolValues{"/work/proj/wheels"});
  EXPECT_EQ(values(uv_index_hosts(in)), (ToolValues{"a.test:443", "l.test:443"}));
  // The user's file may name any path.
  t.files["/home/u/.config/uv/uv.toml"] = "cache-dir = \"/srv/uv\"\n";
  EXPECT_EQ(values(uv_cache(t.input())), ToolValues{"/srv/uv"});
}

TEST(UvConfig, BrokenTomlNamesFileAndLine) {
  Tree t;
  t.files["/home/u/.config/uv/uv.toml"] =
      "index-url = \"https://a.test/simple\"\nextra-index-url = [\"x\" \"y\"]\n";
  Result<UvSettings> s = read_uv_settings(t.input());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/home/u/.config/uv/uv.toml:2"), std::string::npos)
      << s.error().message;
  t.files["/home/u/.config/uv/uv.toml"] = "index-url = \"https://a.test/simple\n";
  s = read_uv_settings(t.input());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find(":1: cannot read this TOML: unterminated string"),
            std::string::npos)
      << s.error().message;
}

TEST(UvConfig, ResolversAreInTheTable) {
  for (const char* name :
       {"uv.indexes", "uv.index-hosts", "uv.find-links", "uv.cache", "uv.config-files"}) {
    EXPECT_NE(find_tool_resolver(name), nullptr) << name;
  }
}

}  // namespace
}  // namespace moat::policy::tools
